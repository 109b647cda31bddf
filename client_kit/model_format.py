"""The on-IPFS model format: safetensors bytes, framework-neutral and deterministic.

A global model is an ordered list of named arrays (layer names and shapes as the task's model
defines them) plus string metadata (task id, round, format version). The bytes are a plain
safetensors file, readable by NumPy, PyTorch, JAX or Rust without fedchain. Encoding is
deterministic — the same arrays always give the same bytes — so a model's CID and sha256 are
reproducible by anyone who holds the arrays. Layer order is kept in the metadata key `order`,
since safetensors itself sorts tensors by name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import numpy as np
from safetensors.numpy import load

FORMAT = "fedchain-model/1"
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
        contiguous = np.ascontiguousarray(array)
        kind = _DTYPES.get(contiguous.dtype.name)
        if kind is None:
            raise ModelFormatError(f"layer {name!r} has unsupported dtype {contiguous.dtype}")
        blob = contiguous.astype(contiguous.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": kind, "shape": list(contiguous.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + b"".join(blobs)


def decode(data: bytes) -> tuple[list[str], list[np.ndarray], dict[str, str]]:
    """Returns (names in model order, arrays, metadata)."""
    try:
        tensors = load(data)
        header_length = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + header_length])
    except Exception as error:  # noqa: BLE001 - safetensors raises several types
        raise ModelFormatError(f"not a safetensors model: {error}") from None
    metadata = dict(header.get("__metadata__") or {})
    if metadata.get("format") != FORMAT:
        raise ModelFormatError(f"unknown model format {metadata.get('format')!r}, expected {FORMAT!r}")
    names = json.loads(metadata["order"])
    if sorted(names) != sorted(tensors):
        raise ModelFormatError("the layer order does not match the stored tensors")
    return names, [tensors[name] for name in names], metadata
