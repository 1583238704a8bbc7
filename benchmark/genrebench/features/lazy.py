"""Arrays read on demand, so that a job's memory does not grow with its data set.

:class:`CachedArray` stands for one track's feature array in the feature cache: it is
memory-mapped only while a slice is read.  :class:`LazySegments` is what a model gets as
``x`` when the experiment cuts segments: a read-only ``(n_segments, *segment_shape)``
float32 array-like whose rows are cut from those arrays when they are indexed.

The contract (the plugin guide repeats it): ``len(x)``, ``x.shape``, ``x.dtype``,
``x.ndim``, ``x[i]``, ``x[a:b]`` and ``x[rows]`` (an integer array, any order) behave as
on a NumPy array and return real arrays; ``np.asarray(x)`` materialises everything, for
models that need the whole array at once (scikit-learn does this by itself).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

#: Memory maps kept open at once (per process): a window over the tracks being read, so
#: resident pages stay bounded instead of growing to the whole data set.
OPEN_MAPS = 64
_maps: OrderedDict[Path, np.ndarray] = OrderedDict()


def _mapped(path: Path) -> np.ndarray:
    array = _maps.pop(path, None)
    if array is None:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
        while len(_maps) >= OPEN_MAPS:
            _maps.popitem(last=False)
    _maps[path] = array
    return array


class CachedArray:
    """A ``.npy`` file read on demand: ``shape``/``dtype`` from its header, slices through
    a short-lived memory map, ``np.asarray`` for the whole array."""

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.path, self.shape, self.dtype = Path(path), tuple(shape), np.dtype(dtype)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, index) -> np.ndarray:
        return np.array(_mapped(self.path)[index])

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        array = np.load(self.path, allow_pickle=False)
        return array if dtype is None else array.astype(dtype)

    def __repr__(self) -> str:
        return f"CachedArray({str(self.path)!r}, shape={self.shape})"


class LazySegments:
    """Segments ``source[owner[i]][..., starts[i] : starts[i] + length]`` (zero-padded at
    the end where a track is shorter), stacked when indexed."""

    def __init__(
        self,
        sources: Sequence[np.ndarray | CachedArray],
        owner: np.ndarray,
        starts: np.ndarray,
        length: int,
    ) -> None:
        self.sources, self.owner, self.starts, self.length = sources, owner, starts, length
        first = sources[0].shape if len(sources) else (0,)
        self.shape = (len(owner), *first[:-1], length)
        self.dtype = np.dtype(np.float32)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def segment(self, i: int) -> np.ndarray:
        source = self.sources[self.owner[i]]
        start = int(self.starts[i])
        piece = np.asarray(source[..., start : start + self.length], dtype=np.float32)
        if piece.shape[-1] < self.length:
            pad = [(0, 0)] * (piece.ndim - 1) + [(0, self.length - piece.shape[-1])]
            piece = np.pad(piece, pad)
        return piece

    def __getitem__(self, index) -> np.ndarray:
        if isinstance(index, int | np.integer):
            return self.segment(range(len(self))[index])
        rows = np.arange(len(self))[index]
        out = np.empty((len(rows), *self.shape[1:]), dtype=np.float32)
        for k, i in enumerate(rows):
            out[k] = self.segment(int(i))
        return out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        array = self[np.arange(len(self))]
        return array if dtype is None else array.astype(dtype)

    def __repr__(self) -> str:
        return f"LazySegments(shape={self.shape})"


def batches(x, size: int):
    """``(start, rows)`` over ``x`` (an array or a lazy array) in chunks of ``size`` rows."""
    for start in range(0, len(x), size):
        yield start, np.asarray(x[start : start + size])
