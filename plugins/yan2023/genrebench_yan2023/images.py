"""The paper's input: a clip's spectrogram image, cropped of its white margins to
218 × 336 × 3 (rows × columns × RGB).

Two sources give the same array, ``(3, 218, 336)`` float32 with values 0–255, columns (time)
on the last axis:

* :func:`read_kaggle_image` reads the Kaggle GTZAN release's ``images_original`` PNG (432 × 288
  pixels, RGBA, a matplotlib figure: the spectrogram inside white margins) and crops it with
  :func:`crop_margins`.  The crop box is the one the authors' public code uses: rows 35–252,
  columns 54–389, the first three channels.
* :func:`render_image` draws the same picture from the audio when no PNG is there.  How the
  Kaggle images were made is not published; their geometry says a matplotlib figure of
  6 × 4 inches at 72 dpi with the default subplot margins (axes from x = 54 to 388.8 and
  y = 34.56 to 256.32 pixels, which is what the crop box cuts out).  We draw a 128-band
  mel spectrogram (librosa defaults: n_fft 2048, hop 512, Slaney mel filters up to 11 025 Hz)
  in dB relative to the loudest bin (``power_to_db(ref=max)``, floor −80 dB), scaled from
  its minimum to its maximum onto matplotlib's ``magma`` colour map (what
  ``librosa.display.specshow`` picks for such data), with low frequencies at the bottom and
  the whole clip across the axes, and sample it at the centre of each pixel of the crop box
  exactly as the figure would place it.  So the crop keeps the same part of the axes (the
  lowest ~1.5 % of the mel range falls below row 252, and the last column is the figure's
  white margin) and the colours follow the same rule, but the spectrogram settings are our
  reading: the plugin's README says what this may change.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HEIGHT, WIDTH = 218, 336
#: The Kaggle PNG: 432 × 288 pixels (width × height).
CANVAS_HEIGHT, CANVAS_WIDTH = 288, 432
#: The authors' crop box (rows, columns) on that canvas.
CROP_ROWS = slice(35, 35 + HEIGHT)
CROP_COLS = slice(54, 54 + WIDTH)
#: Where matplotlib puts the axes on a 432 × 288 canvas with the default subplot margins
#: (left 0.125, right 0.9, bottom 0.11, top 0.88), in pixels from the top left corner.
AXES_LEFT, AXES_RIGHT = 0.125 * CANVAS_WIDTH, 0.9 * CANVAS_WIDTH
AXES_TOP, AXES_BOTTOM = (1 - 0.88) * CANVAS_HEIGHT, (1 - 0.11) * CANVAS_HEIGHT

SAMPLE_RATE = 22050
N_FFT = 2048
HOP = 512
N_MELS = 128
TOP_DB = 80.0
COLORMAP = "magma"


def crop_margins(image: np.ndarray) -> np.ndarray:
    """``(288, 432, C)`` image (C = 3 or 4) -> ``(218, 336, 3)``: the spectrogram without
    its white margins (and without the alpha channel)."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[:2] != (CANVAS_HEIGHT, CANVAS_WIDTH) or image.shape[2] < 3:
        raise ValueError(
            f"expected a {CANVAS_WIDTH} × {CANVAS_HEIGHT} RGB(A) image (the Kaggle GTZAN "
            f"images_original format), got an array of shape {image.shape}"
        )
    return image[CROP_ROWS, CROP_COLS, :3]


def to_channels_first(image: np.ndarray) -> np.ndarray:
    """``(218, 336, 3)`` -> ``(3, 218, 336)`` float32 (0–255), the feature's layout."""
    return np.ascontiguousarray(np.transpose(image, (2, 0, 1)), dtype=np.float32)


def read_kaggle_image(path: Path) -> np.ndarray:
    """A Kaggle ``images_original`` PNG as ``(3, 218, 336)`` float32, margins cropped."""
    from PIL import Image

    with Image.open(path) as picture:
        mode = picture.mode
        if mode not in ("RGB", "RGBA"):
            picture = picture.convert("RGBA")
        array = np.asarray(picture)
    return to_channels_first(crop_margins(array))


def mel_db(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """``(128, frames)`` mel spectrogram in dB below its loudest bin (floor −80 dB)."""
    import librosa

    y = np.nan_to_num(np.asarray(audio, dtype=np.float32))
    if len(y) < N_FFT:
        y = np.pad(y, (0, N_FFT - len(y)))
    power = librosa.feature.melspectrogram(
        y=y, sr=sample_rate, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS
    )
    return librosa.power_to_db(power, ref=np.max, top_db=TOP_DB)


def colormap_table(name: str = COLORMAP) -> np.ndarray:
    """``(256, 3)`` uint8 colours of a matplotlib colour map."""
    import matplotlib

    colours = matplotlib.colormaps[name](np.arange(256))[:, :3]
    return np.round(colours * 255).astype(np.uint8)


def pixel_grid(n_bands: int, n_frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each row and column of the crop box, the band and frame the figure shows there:
    ``(band per row, frame per column, True where a column is outside the axes)``.  Pixel
    centres are sampled; band 0 (lowest frequency) is at the bottom."""
    y = CROP_ROWS.start + np.arange(HEIGHT) + 0.5
    from_top = (y - AXES_TOP) / (AXES_BOTTOM - AXES_TOP)
    bands = np.clip(np.floor((1.0 - from_top) * n_bands), 0, n_bands - 1).astype(int)
    x = CROP_COLS.start + np.arange(WIDTH) + 0.5
    across = (x - AXES_LEFT) / (AXES_RIGHT - AXES_LEFT)
    outside = across >= 1.0
    frames = np.clip(np.floor(across * n_frames), 0, n_frames - 1).astype(int)
    return bands, frames, outside


def draw(values: np.ndarray, table: np.ndarray | None = None) -> np.ndarray:
    """A ``(bands, frames)`` array drawn as the cropped figure: ``(218, 336, 3)`` uint8,
    colours scaled from the array's minimum to its maximum (matplotlib's default
    normalisation), white outside the axes."""
    table = colormap_table() if table is None else table
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    index = np.minimum((scaled * 256).astype(int), 255)  # matplotlib's lookup rule
    bands, frames, outside = pixel_grid(*values.shape)
    image = table[index[bands[:, None], frames[None, :]]]
    image[:, outside] = 255
    return image


def render_image(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """The clip's spectrogram image drawn from its audio: ``(3, 218, 336)`` float32."""
    return to_channels_first(draw(mel_db(audio, sample_rate)))
