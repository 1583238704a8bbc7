"""Read the variables of a TensorFlow checkpoint (format V2) without TensorFlow.

A V2 checkpoint is a ``<prefix>.index`` file -- a LevelDB-format table mapping each
variable name to a ``BundleEntryProto`` (dtype, shape, shard, offset and size in the data
file) -- and ``<prefix>.data-00000-of-0000N`` files holding the raw little-endian tensor
bytes.  musicnn's checkpoints are uncompressed single-shard tables of float32 variables,
which is all this reader supports; anything else is refused with a clear error.  The
layouts read here are TensorFlow's ``tensor_bundle`` format and LevelDB's table format
(footer, block handles, prefix-compressed block entries).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_SIZE = 48
_BLOCK_TRAILER = 5  # compression type (1 byte) + crc32c (4 bytes)
#: TensorFlow DataType enum -> numpy dtype (the ones a model checkpoint holds).
_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64, 10: np.bool_}


class CheckpointError(ValueError):
    """The files are not a checkpoint this reader understands."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _block(data: bytes, offset: int, size: int) -> list[tuple[bytes, bytes]]:
    """The (key, value) entries of one table block."""
    if data[offset + size] != 0:
        raise CheckpointError("compressed checkpoint index blocks are not supported")
    block = data[offset : offset + size]
    n_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * n_restarts
    entries, pos, key = [], 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        value_len, pos = _varint(block, pos)
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        entries.append((key, block[pos : pos + value_len]))
        pos += value_len
    return entries


def _fields(message: bytes) -> dict[int, list]:
    """Protocol-buffer wire format: field number -> list of raw values."""
    out: dict[int, list] = {}
    pos = 0
    while pos < len(message):
        tag, pos = _varint(message, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(message, pos)
        elif wire == 1:
            value, pos = message[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(message, pos)
            value, pos = message[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = message[pos : pos + 4], pos + 4
        else:
            raise CheckpointError(f"unsupported protobuf wire type {wire}")
        out.setdefault(number, []).append(value)
    return out


def _shape(message: bytes) -> tuple[int, ...]:
    dims = _fields(message).get(2, [])
    return tuple(_fields(d).get(1, [0])[0] for d in dims)


def read_checkpoint(prefix: str | Path) -> dict[str, np.ndarray]:
    """All variables of the checkpoint ``prefix`` (the path without ``.index``) by name."""
    prefix = str(prefix)
    index_path = Path(prefix + ".index")
    try:
        index = index_path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint index {index_path}: {exc}") from exc
    if len(index) < _FOOTER_SIZE:
        raise CheckpointError(f"{index_path} is too short to be a checkpoint index")
    footer = index[-_FOOTER_SIZE:]
    if struct.unpack("<Q", footer[-8:])[0] != _TABLE_MAGIC:
        raise CheckpointError(f"{index_path} is not a TensorFlow checkpoint index (bad magic)")
    _, pos = _varint(footer, 0)  # metaindex handle: offset, size (unused)
    _, pos = _varint(footer, pos)
    index_offset, pos = _varint(footer, pos)
    index_size, _ = _varint(footer, pos)
    entries: list[tuple[bytes, bytes]] = []
    for _, handle in _block(index, index_offset, index_size):
        offset, pos = _varint(handle, 0)
        size, _ = _varint(handle, pos)
        entries.extend(_block(index, offset, size))
    shards: dict[int, bytes] = {}
    n_shards = 1
    variables: dict[str, np.ndarray] = {}
    for key, value in entries:
        if key == b"":  # BundleHeaderProto: num_shards (1), endianness (2)
            header = _fields(value)
            n_shards = header.get(1, [1])[0]
            if header.get(2, [0])[0] != 0:
                raise CheckpointError("big-endian checkpoints are not supported")
            continue
        entry = _fields(value)
        if 7 in entry:
            raise CheckpointError(f"sliced variable {key.decode()!r} is not supported")
        dtype = _DTYPES.get(entry.get(1, [0])[0])
        if dtype is None:
            raise CheckpointError(f"variable {key.decode()!r} has unsupported dtype")
        shape = _shape(entry[2][0]) if 2 in entry else ()
        shard = entry.get(3, [0])[0]
        offset = entry.get(4, [0])[0]
        size = entry.get(5, [0])[0]
        if shard not in shards:
            data_path = Path(f"{prefix}.data-{shard:05d}-of-{n_shards:05d}")
            try:
                shards[shard] = data_path.read_bytes()
            except OSError as exc:
                raise CheckpointError(f"cannot read checkpoint data {data_path}: {exc}") from exc
        raw = shards[shard][offset : offset + size]
        array = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<"))
        if array.size != int(np.prod(shape)):
            raise CheckpointError(f"variable {key.decode()!r}: {array.size} values for {shape}")
        variables[key.decode()] = array.reshape(shape).copy()
    return variables
