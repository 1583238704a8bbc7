"""Calling-convention shims for known HEAR modules written against older libraries.

``hearbaseline`` 2021.1.1 (its ``naive``, ``keras.naive`` and ``tf.naive`` models) builds
its mel filter bank with ``librosa.filters.mel(self.sample_rate, n_fft=..., n_mels=...)``:
the sample rate positional, which librosa 0.10 made keyword-only, so ``load_model`` raises
``TypeError`` under the librosa this project pins (0.11).  While such a model loads --
only then -- :func:`shims_for` passes a positional first argument of
``librosa.filters.mel`` on as ``sr=``: the same function computes the same filter bank.
The shim is part of the feature's parameters (its cache key and provenance), so that a
row says it ran with one.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

#: module -> the shims it needs.
SHIMS = {
    "hearbaseline.naive": ("librosa.filters.mel(sr) positional",),
    "hearbaseline.keras.naive": ("librosa.filters.mel(sr) positional",),
    "hearbaseline.tf.naive": ("librosa.filters.mel(sr) positional",),
}
_MEL_ARGUMENTS = ("sr", "n_fft", "n_mels", "fmin", "fmax", "htk", "norm", "dtype")


def shims_of(module: str) -> tuple[str, ...]:
    return SHIMS.get(module, ())


@contextlib.contextmanager
def shims_for(module: str) -> Iterator[None]:
    """The shims ``module`` needs, for the duration of the block."""
    if "librosa.filters.mel(sr) positional" not in shims_of(module):
        yield
        return
    import librosa.filters

    original = librosa.filters.mel

    @functools.wraps(original)
    def mel(*args, **kwargs):
        return original(**dict(zip(_MEL_ARGUMENTS, args, strict=False)), **kwargs)

    librosa.filters.mel = mel
    try:
        yield
    finally:
        librosa.filters.mel = original
