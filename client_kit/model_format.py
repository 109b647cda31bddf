"""The model format: safetensors bytes, framework-neutral and deterministic, on IPFS and on the wire.

A model is an ordered list of named arrays (layer names and shapes as the task's model defines
them) plus string metadata (task id, round, format version). The bytes are a plain safetensors
file, readable by NumPy, PyTorch, JAX or Rust without fedchain. Encoding is deterministic — the
same arrays always give the same bytes — so a model's CID and sha256 are reproducible by anyone who
holds the arrays. Layer order is kept in the metadata key `order`, since safetensors itself sorts
tensors by name.

The same bytes carry a model inside a Flower message (`to_record` / `from_record`): one Flower Array
of stype "safetensors" instead of one Array per layer. Each Flower Array travels as two objects,
each pulled or pushed with its own request through the keeper's SuperLink, and those requests are
what a round waits for; one Array per model halves them for a four-layer MLP. Decoding a received
model gives read-only views into the message's bytes (no copy), after checking that the header
describes exactly the bytes that follow: the keeper reads untrusted replies this way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence

import numpy as np
from flwr.app import Array, ArrayRecord

FORMAT = "fedchain-model/1"
WIRE_KEY, WIRE_STYPE = "model", "safetensors"  # a message's model: one Array under this key
MAX_HEADER_BYTES = 16 << 20  # a header is a few bytes per tensor; anything larger is not a model
MAX_DIMENSIONS = 32  # numpy allows 64; no layer of a real model comes close
MAX_NAME_LENGTH = 1024
_DTYPES = {
    "float64": "F64",
    "float32": "F32",
    "float16": "F16",
    "int64": "I64",
    "int32": "I32",
    "int16": "I16",
    "int8": "I8",
    "uint8": "U8",
    "bool": "BOOL",
}
_NUMPY_DTYPES = {code: np.dtype(name).newbyteorder("<") for name, code in _DTYPES.items()}


class ModelFormatError(ValueError):
    """Bytes that are not a fedchain model, or arrays that cannot be stored."""


def encode(names: Sequence[str], arrays: Sequence[np.ndarray], metadata: Mapping[str, str] | None = None) -> bytes:
    if len(names) != len(arrays):
        raise ModelFormatError(f"{len(names)} names for {len(arrays)} arrays")
    if len(set(names)) != len(names):
        raise ModelFormatError("layer names must be unique")
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    meta.update({"format": FORMAT, "order": json.dumps(list(names))})
    # Written by hand rather than with safetensors.save, whose Rust writer orders metadata keys
    # unpredictably: sorted keys and sorted tensors make the bytes (and so the CID) reproducible.
    header: dict[str, object] = {"__metadata__": dict(sorted(meta.items()))}
    blobs, offset = [], 0
    for name, array in sorted(zip(names, arrays, strict=True), key=lambda pair: pair[0]):
        contiguous = np.asarray(array, order="C")  # not ascontiguousarray: it turns 0-d into 1-d
        kind = _DTYPES.get(contiguous.dtype.name)
        if kind is None:
            raise ModelFormatError(f"layer {name!r} has unsupported dtype {contiguous.dtype}")
        # A byte view, not a copy: the checkpoint is assembled in one allocation below.
        blob = contiguous.astype(contiguous.dtype.newbyteorder("<"), copy=False).reshape(-1).view(np.uint8)
        header[name] = {"dtype": kind, "shape": list(contiguous.shape), "data_offsets": [offset, offset + blob.size]}
        blobs.append(blob)
        offset += blob.size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return b"".join([len(text).to_bytes(8, "little"), text, *blobs])


def decode(data: bytes) -> tuple[list[str], list[np.ndarray], dict[str, str]]:
    """Returns (names in model order, writable arrays, metadata)."""
    names, views, metadata = decode_views(data)
    return names, [view.copy() for view in views], metadata


def decode_views(data: bytes) -> tuple[list[str], list[np.ndarray], dict[str, str]]:
    """Like `decode`, but the arrays are read-only views into `data`; raises ModelFormatError
    unless the header names each tensor once, in a known dtype, and the tensors tile the data
    exactly (no gaps, overlaps or trailing bytes)."""
    header, start = _header(data)
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ModelFormatError("metadata must map names to strings")
    if metadata.get("format") != FORMAT:
        raise ModelFormatError(f"unknown model format {metadata.get('format')!r}, expected {FORMAT!r}")
    try:
        names = json.loads(metadata["order"])
    except (KeyError, ValueError, RecursionError):  # RecursionError: a deeply nested order
        raise ModelFormatError("metadata lacks a readable layer order") from None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ModelFormatError("the layer order must be a list of layer names")
    if sorted(names) != sorted(header) or len(set(names)) != len(names):
        raise ModelFormatError("the layer order does not match the stored tensors")
    if any(len(name) > MAX_NAME_LENGTH for name in names):
        raise ModelFormatError(f"a layer name is longer than {MAX_NAME_LENGTH} characters")
    spans = sorted((_span(name, entry), name) for name, entry in header.items())
    views: dict[str, np.ndarray] = {}
    end = 0
    for (begin, stop, dtype, shape), name in spans:
        if begin != end:
            raise ModelFormatError(f"tensor {name!r} does not start where the previous one ends")
        if start + stop > len(data):
            raise ModelFormatError(f"tensor {name!r} ends past the data")
        views[name] = np.frombuffer(data, dtype=dtype, count=math.prod(shape), offset=start + begin).reshape(shape)
        end = stop
    if start + end != len(data):
        raise ModelFormatError(f"the header describes {end} bytes of tensors, the data holds {len(data) - start}")
    return names, [views[name] for name in names], dict(metadata)


def _header(data: bytes) -> tuple[dict, int]:
    """The parsed JSON header and where the tensor bytes begin."""
    if len(data) < 8:
        raise ModelFormatError("not a safetensors model: shorter than its 8-byte header length")
    length = int.from_bytes(data[:8], "little")
    if length > len(data) - 8:
        raise ModelFormatError("not a safetensors model: header length exceeds the data")
    if length > MAX_HEADER_BYTES:
        raise ModelFormatError(f"not a fedchain model: a header of {length} bytes (at most {MAX_HEADER_BYTES})")
    try:
        header = json.loads(bytes(data[8 : 8 + length]))
    except (ValueError, RecursionError) as error:  # RecursionError: deeply nested JSON
        raise ModelFormatError(f"not a safetensors model: header is not JSON ({type(error).__name__})") from None
    if not isinstance(header, dict):
        raise ModelFormatError("not a safetensors model: header is not a JSON object")
    return header, 8 + length


def _span(name: str, entry: object) -> tuple[int, int, np.dtype, tuple[int, ...]]:
    """(first byte, end byte, dtype, shape) of one tensor, checked for consistency."""
    try:
        dtype = _NUMPY_DTYPES[entry["dtype"]]  # type: ignore[index]
        shape = tuple(entry["shape"])  # type: ignore[index]
        begin, stop = entry["data_offsets"]  # type: ignore[index]
    except (KeyError, TypeError, ValueError):
        raise ModelFormatError(f"tensor {name!r} needs a known dtype, a shape and two data offsets") from None
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (*shape, begin, stop)):
        raise ModelFormatError(f"tensor {name!r} has a negative or non-integer shape or offset")
    if len(shape) > MAX_DIMENSIONS:
        raise ModelFormatError(f"tensor {name!r} has {len(shape)} dimensions (at most {MAX_DIMENSIONS})")
    if any(size > 1 << 40 for size in shape):  # a zero elsewhere in the shape would let any size through
        raise ModelFormatError(f"tensor {name!r} has a dimension larger than 2**40")
    if stop - begin != math.prod(shape) * dtype.itemsize:
        raise ModelFormatError(f"tensor {name!r} of shape {list(shape)} does not fill bytes {begin}..{stop}")
    return begin, stop, dtype, shape


def to_record(names: Sequence[str], arrays: Sequence[np.ndarray]) -> ArrayRecord:
    """A whole model as a Flower ArrayRecord holding one Array: its safetensors bytes."""
    return record_of(encode(names, arrays))


def record_of(data: bytes) -> ArrayRecord:
    """Model bytes as they are (a checkpoint whose sha256 the chain records) in one Flower Array."""
    return ArrayRecord({WIRE_KEY: Array(dtype="uint8", shape=(len(data),), stype=WIRE_STYPE, data=data)})


def bytes_of(record: ArrayRecord) -> bytes:
    """The model bytes inside a record made by `record_of` / `to_record` (not yet checked)."""
    if list(record.keys()) != [WIRE_KEY]:
        raise ModelFormatError(f"expected one array {WIRE_KEY!r} in the record, got {list(record.keys())[:8]}")
    array = record[WIRE_KEY]
    if array.stype != WIRE_STYPE:
        raise ModelFormatError(f"expected a model in stype {WIRE_STYPE!r}, got {str(array.stype)[:40]!r}")
    return array.data


def from_record(record: ArrayRecord) -> tuple[list[str], list[np.ndarray]]:
    """The model inside a record made by `to_record`: names and read-only views of its bytes."""
    names, views, _ = decode_views(bytes_of(record))
    return names, views
