"""The spectrogram-image input: cropping the Kaggle PNGs, reading them from an
``images_original/`` tree beside the audio, and drawing the same picture from audio."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from genrebench_yan2023 import images
from genrebench_yan2023.plugin import FEATURE_IMAGE, KAGGLE_IMAGE_ASSET

from genrebench import testing
from genrebench.audio import load_audio, write_audio

PIL = pytest.importorskip("PIL.Image")


def kaggle_like(seed: int = 0) -> np.ndarray:
    """A 288 × 432 RGBA canvas: white margins around a random "spectrogram" in the axes."""
    rng = np.random.default_rng(seed)
    canvas = np.full((288, 432, 4), 255, dtype=np.uint8)
    canvas[35:256, 54:389, :3] = rng.integers(0, 255, size=(221, 335, 3))
    return canvas


def write_png(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    PIL.fromarray(array).save(path)
    return path


def test_crop_keeps_the_authors_box_and_drops_alpha():
    canvas = kaggle_like()
    cropped = images.crop_margins(canvas)
    assert cropped.shape == (218, 336, 3)
    np.testing.assert_array_equal(cropped, canvas[35:253, 54:390, :3])
    # Everything left of, above and below the box is white margin.
    assert (canvas[:35] == 255).all() and (canvas[:, :54] == 255).all()
    assert (cropped[:, :335] != 255).any(axis=2).mean() > 0.99  # spectrogram inside
    assert (cropped[:, 335] == 255).all()  # the axes end at x = 388.8: one white column


@pytest.mark.parametrize("shape", [(288, 432), (218, 336, 3), (300, 432, 3), (288, 432, 2)])
def test_crop_refuses_other_shapes(shape):
    with pytest.raises(ValueError, match="432 × 288"):
        images.crop_margins(np.zeros(shape, dtype=np.uint8))


@pytest.mark.parametrize("mode", ["RGBA", "RGB"])
def test_read_kaggle_png(tmp_path, mode):
    canvas = kaggle_like(1)
    array = canvas if mode == "RGBA" else canvas[:, :, :3]
    path = write_png(tmp_path / "blues00000.png", array)
    image = images.read_kaggle_image(path)
    assert image.shape == (3, 218, 336) and image.dtype == np.float32
    np.testing.assert_array_equal(image, np.transpose(canvas[35:253, 54:390, :3], (2, 0, 1)))


def test_feature_reads_the_images_beside_the_audio_and_draws_the_rest(tmp_path):
    """A tiny Kaggle tree: blues.00000 has its PNG, blues.00001 has none (drawn from audio)."""
    data = tmp_path / "Data"
    rng = np.random.default_rng(0)
    for n in (0, 1):
        audio = (0.1 * rng.standard_normal(22050 * 2)).astype(np.float32)
        write_audio(data / "genres_original" / "blues" / f"blues.{n:05d}.wav", audio, 22050)
    canvas = kaggle_like(2)
    write_png(data / "images_original" / "blues" / "blues00000.png", canvas)
    registry = testing.load_registry("yan2023")
    dataset = testing.load_dataset("gtzan", tmp_path, registry=registry)
    assert set(dataset.track("blues.00000").assets) == {KAGGLE_IMAGE_ASSET}
    spec = registry.get("features", FEATURE_IMAGE)
    out = testing.extract(spec, dataset.tracks, tmp_path / "cache")
    assert out.problems == [] and out.from_asset == 1
    np.testing.assert_array_equal(
        out.arrays["blues.00000"], np.transpose(canvas[35:253, 54:390, :3], (2, 0, 1))
    )
    drawn = out.arrays["blues.00001"]
    assert drawn.shape == (3, 218, 336) and drawn.min() >= 0 and drawn.max() <= 255
    decoded = load_audio(dataset.track("blues.00001").path, 22050)
    np.testing.assert_array_equal(drawn, images.render_image(decoded, 22050))
    # A PNG of the wrong size is reported and skipped, naming the file.
    write_png(data / "images_original" / "blues" / "blues00001.png", canvas[:200])
    dataset = testing.load_dataset("gtzan", tmp_path, registry=registry)
    out = testing.extract(spec, dataset.tracks)
    assert [p.track_id for p in out.problems] == ["blues.00001"]
    assert "blues00001.png" in out.problems[0].reason and "432 × 288" in out.problems[0].reason


def test_pixel_grid_follows_the_figure_geometry():
    bands, frames, outside = images.pixel_grid(128, 1293)
    assert bands[0] == 127 and bands[-1] == 2  # top row: highest band; rows below 252 cut
    assert frames[0] == 1 and frames[334] == 1291  # pixel centres across 334.8 pixels
    assert outside.tolist() == [False] * 335 + [True]
    assert np.all(np.diff(bands) <= 0) and np.all(np.diff(frames) >= 0)


def test_drawing_matches_a_matplotlib_specshow_figure():
    """Our direct drawing equals the figure matplotlib renders at 6 × 4 in, 72 dpi, cropped."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import librosa.display
    import matplotlib.pyplot as plt

    values = np.random.default_rng(3).uniform(-80, 0, size=(128, 431))
    figure = plt.figure(figsize=(6, 4), dpi=72)
    axes = figure.add_subplot(111)
    librosa.display.specshow(values, ax=axes, cmap="magma")
    axes.set_axis_off()
    buffer = io.BytesIO()
    figure.savefig(buffer, dpi=72, format="png")
    plt.close(figure)
    buffer.seek(0)
    rendered = images.crop_margins(np.asarray(PIL.open(buffer)))
    np.testing.assert_array_equal(images.draw(values), rendered)


def test_render_from_audio():
    t = np.arange(22050 * 3) / 22050
    audio = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    image = images.render_image(audio, 22050)
    assert image.shape == (3, 218, 336) and image.dtype == np.float32
    assert (image[:, :, 335] == 255).all()
    # Silence draws without dividing by zero (one colour).
    silent = images.render_image(np.zeros(22050, dtype=np.float32), 22050)
    assert np.isfinite(silent).all()
