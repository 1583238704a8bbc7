"""Decoding audio files: one path for every data set, synthetic or real.

soundfile (libsndfile) reads wav, au, flac, ogg, opus and mp3; soxr resamples.  Every
failure becomes an :class:`AudioError` whose message names the file, so the runner can
report the track and skip it.

File names reach libsndfile as bytes (``os.fsencode``), so a name that is not valid in the
file system's encoding (a Latin-1 ``café.wav`` on a UTF-8 system, which Python holds with
surrogate escapes) still opens.  Whatever the decoder prints on the C level (mpg123's
"Xing stream size off ..." and the like) is caught and logged with the file's name.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import struct
import threading
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from genrebench.errors import AudioError

log = logging.getLogger(__name__)

AUDIO_EXTENSIONS = (".wav", ".au", ".flac", ".ogg", ".opus", ".mp3")
#: A compressed file (mp3, ogg, flac) that decodes to this much less than its header's
#: length was cut short.  Healthy mp3s differ from their Xing frame count by a few ms.
TRUNCATION_TOLERANCE_SECONDS = 0.1
#: libsndfile's frame count for streams of unknown length.
_UNKNOWN_FRAMES = 2**62
#: The first bytes of wav, au, flac and ogg files, whose decoders never print.
_QUIET_MAGIC = (b"RIFF", b"RIFX", b".snd", b"fLaC", b"OggS")
_STDERR_LOCK = threading.Lock()


def load_audio(
    path: str | Path, sample_rate: int, *, max_seconds: float | None = None
) -> np.ndarray:
    """Mono float32 audio of ``path`` at ``sample_rate`` Hz.

    ``max_seconds`` reads only the start of the file (after resampling the length is
    ``max_seconds * sample_rate`` at most).  Raises :class:`AudioError` for a missing,
    empty, truncated or undecodable file.  A file is truncated when its header declares
    more audio data than the file holds (wav, au), or when it decodes to more than
    ``TRUNCATION_TOLERANCE_SECONDS`` less than its header says (mp3, ogg, flac).
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: file is empty (0 bytes)")
    problem = header_truncation(path)
    if problem is not None:
        raise AudioError(f"{path}: {problem}")
    try:
        with decoder_messages(path), sf.SoundFile(os.fsencode(path)) as f:
            native_sr, declared = f.samplerate, f.frames
            frames = -1 if max_seconds is None else int(np.ceil(max_seconds * native_sr))
            data = f.read(frames=frames, dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises LibsndfileError, RuntimeError, TypeError...
        raise AudioError(f"{path}: cannot decode audio ({_describe(exc, path)})") from exc
    if data.shape[0] == 0:
        raise AudioError(f"{path}: decodes to no samples")
    wanted = declared if frames < 0 else min(frames, declared)
    if (
        declared < _UNKNOWN_FRAMES
        and wanted - data.shape[0] > TRUNCATION_TOLERANCE_SECONDS * native_sr
    ):
        raise AudioError(
            f"{path}: truncated: header says {declared / native_sr:.1f} s, decodes to "
            f"{data.shape[0] / native_sr:.1f} s"
        )
    audio = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if not np.all(np.isfinite(audio)):
        raise AudioError(f"{path}: decoded audio contains NaN or infinity")
    if native_sr != sample_rate:
        audio = soxr.resample(audio, native_sr, sample_rate, quality="HQ").astype(np.float32)
    return np.ascontiguousarray(audio, dtype=np.float32)


def audio_info(path: str | Path) -> tuple[int, float]:
    """``(sample_rate, duration_seconds)`` from the header only; :class:`AudioError` if
    the file cannot be opened."""
    try:
        with decoder_messages(path):
            info = sf.info(os.fsencode(path))
    except Exception as exc:
        raise AudioError(f"{path}: cannot read audio header ({_describe(exc, path)})") from exc
    return info.samplerate, info.duration


def _describe(exc: Exception, path: str | Path) -> str:
    # soundfile names the file as it was given: the bytes of os.fsencode(path)
    text = str(exc).replace(repr(os.fsencode(path)), repr(str(path)))
    return f"{type(exc).__name__}: {text}"


def header_truncation(path: str | Path) -> str | None:
    """Why a wav or au file holds less audio data than its header declares, or None.

    libsndfile quietly shortens such a file to the data present, so the header's
    data-chunk size is compared with the file size here.  None as well for other formats
    and for headers that leave the size open (streaming writers write 0 or 0xFFFFFFFF).
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(12)
        if head[:4] == b".snd" and len(head) == 12:  # au: offset and size, big-endian
            offset, declared = struct.unpack(">II", head[4:])
            if declared == 0xFFFFFFFF:
                return None
            return _shortfall(declared, size - offset)
        if head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
            return None
        endian = "<" if head[:4] == b"RIFF" else ">"
        position = 12
        for _ in range(64):  # a handful of chunks (fmt, fact, LIST, ...) precede the data
            f.seek(position)
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            (declared,) = struct.unpack(endian + "I", chunk[4:])
            if chunk[:4] == b"data":
                if declared in (0, 0xFFFFFFFF):
                    return None
                return _shortfall(declared, size - position - 8)
            position += 8 + declared + (declared & 1)  # chunks are padded to even sizes
    return None


def _shortfall(declared: int, present: int) -> str | None:
    if present >= declared:
        return None
    return (
        f"truncated: header says {declared} bytes of audio data, the file holds "
        f"{max(present, 0)} ({100 * max(present, 0) / declared:.0f} %)"
    )


@contextlib.contextmanager
def decoder_messages(path: str | Path):
    """Catch what native decoders print to the process's stderr while ``path`` is
    decoded, and log each distinct line naming the file.

    Redirecting the stderr file descriptor affects the whole process, so these decodes
    hold a lock: within a process, mp3 files decode one at a time.  wav, au, flac and ogg
    files, whose libsndfile decoders print nothing, skip all of this."""
    with open(path, "rb") as f:
        quiet = f.read(4) in _QUIET_MAGIC
    if quiet:
        yield
        return
    # lazy: loads wurlitzer, not needed at import time
    from wurlitzer import pipes

    captured = io.StringIO()
    with _STDERR_LOCK, contextlib.ExitStack() as capture:
        with contextlib.suppress(OSError):  # no stderr to redirect: decode all the same
            capture.enter_context(pipes(stdout=None, stderr=captured))
        try:
            yield
        finally:
            capture.close()
            for line in dict.fromkeys(captured.getvalue().splitlines()):
                if line.strip():
                    log.warning("%s: decoder: %s", path, line.strip())


def write_audio(path: str | Path, audio: np.ndarray, sample_rate: int) -> None:
    """Write mono float audio (format from the extension; 16-bit PCM where the format
    has PCM, the codec's default otherwise), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    subtype = "PCM_16" if path.suffix.lower() in {".wav", ".au", ".flac"} else None
    try:
        sf.write(os.fsencode(tmp), np.clip(audio, -1.0, 1.0), sample_rate, subtype=subtype)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
