"""KServe v2 / Triton inference protocol: request decoding and response encoding (pure functions).

The reward server speaks exactly what NeMo-Aligner's actor (pytriton `ModelClient` /
`FuturesModelClient`) and `tritonclient.http` send: a JSON request, or the binary-tensor
extension (a JSON header of `Inference-Header-Content-Length` bytes, then the raw little-endian
tensors in input order). Replies are binary when the client asks for it (per output
`binary_data: true` or request parameter `binary_data_output`), JSON `data` otherwise.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

HEADER_LENGTH = "Inference-Header-Content-Length"

# KServe datatype -> numpy dtype (little-endian); BYTES is handled apart
_DTYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype("?"),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
}


# Bounds on what one request may declare, checked before anything is allocated.
MAX_ELEMENTS = 1 << 28  # per input tensor
MAX_INPUTS = 16


class ProtocolError(ValueError):
    """A malformed inference request: the server answers 400 with this message."""


def _no_constants(name: str) -> Any:
    raise ProtocolError(f"request JSON holds {name}; numbers must be finite")


@dataclass
class InferRequest:
    """A decoded request: input tensors by name, which outputs to send in binary, the request id."""

    inputs: dict[str, np.ndarray]
    binary_outputs: set[str] = field(default_factory=set)
    binary_default: bool = False
    request_id: str | None = None
    requested_outputs: list[str] | None = None


def datatype_of(array: np.ndarray) -> str:
    """The KServe datatype name of a numpy array (object/bytes arrays are BYTES)."""
    if array.dtype.kind in ("O", "S", "U"):
        return "BYTES"
    for name, dtype in _DTYPES.items():
        if dtype == array.dtype.newbyteorder("<") or dtype == array.dtype:
            return name
    raise ProtocolError(f"unsupported dtype {array.dtype}")


def _deserialize_bytes(buffer: bytes) -> list[bytes]:
    items, offset = [], 0
    while offset < len(buffer):
        if offset + 4 > len(buffer):
            raise ProtocolError("truncated BYTES element length")
        (length,) = struct.unpack_from("<I", buffer, offset)
        offset += 4
        if offset + length > len(buffer):
            raise ProtocolError("truncated BYTES element")
        items.append(bytes(buffer[offset : offset + length]))
        offset += length
    return items


def serialize_bytes(array: np.ndarray) -> bytes:
    """BYTES tensor wire format: each element as a 4-byte little-endian length then its bytes."""
    chunks = []
    for item in array.reshape(-1):
        data = item if isinstance(item, bytes) else str(item).encode("utf-8")
        chunks.append(struct.pack("<I", len(data)) + data)
    return b"".join(chunks)


def _shape(spec: dict[str, Any]) -> tuple[int, ...]:
    shape = spec.get("shape")
    if (not isinstance(shape, list) or len(shape) > 8
            or not all(type(d) is int and 0 <= d <= MAX_ELEMENTS for d in shape)):
        raise ProtocolError(f"input {spec.get('name')!r}: shape must be a list of at most 8 non-negative ints")
    if math.prod(shape) > MAX_ELEMENTS:
        raise ProtocolError(f"input {spec.get('name')!r}: shape {shape} has more than {MAX_ELEMENTS} elements")
    return tuple(shape)


def _json_numbers(name: Any, data: Any, dtype: np.dtype) -> np.ndarray:
    """JSON `data` as a flat array of `dtype`, refusing what would wrap, truncate or not convert."""
    try:
        arr = np.asarray(data)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ProtocolError(f"input {name!r}: data is not a regular array of numbers") from exc
    if arr.dtype.kind == "O" and arr.ndim <= 8 and all(type(v) is int for v in arr.reshape(-1)):
        raise ProtocolError(f"input {name!r}: a value is outside the range of {dtype.name}")  # past 64 bits
    if arr.dtype.kind not in "biuf" or arr.ndim > 8:
        raise ProtocolError(f"input {name!r}: data must be numbers (nested lists of at most 8 levels)")
    if dtype.kind in "iu":
        if arr.dtype.kind == "f":
            raise ProtocolError(f"input {name!r}: data must be integers for {dtype.name}")
        if arr.size and arr.dtype.kind in "iu":
            info = np.iinfo(dtype)
            if int(arr.min()) < info.min or int(arr.max()) > info.max:
                raise ProtocolError(f"input {name!r}: a value is outside the range of {dtype.name}")
    elif dtype.kind == "f" and arr.size and arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ProtocolError(f"input {name!r}: values must be finite")
    return arr.astype(dtype).reshape(-1)


def _tensor(spec: dict[str, Any], raw: bytes | None) -> np.ndarray:
    name, datatype = spec.get("name"), spec.get("datatype")
    shape = _shape(spec)
    count = math.prod(shape)
    if datatype == "BYTES":
        if raw is not None:
            items = _deserialize_bytes(raw)
        else:
            data = spec.get("data", [])
            flat = np.ravel(np.asarray(data, dtype=object)) if isinstance(data, list) else [data]
            if not all(isinstance(d, str) for d in flat):
                raise ProtocolError(f"input {name!r}: BYTES data must be strings")
            items = [d.encode("utf-8", "surrogatepass") for d in flat]
        if len(items) != count:
            raise ProtocolError(f"input {name!r}: {len(items)} elements for shape {list(shape)}")
        return np.array(items, dtype=object).reshape(shape)
    dtype = _DTYPES.get(str(datatype))
    if dtype is None:
        raise ProtocolError(f"input {name!r}: unknown datatype {str(datatype)[:40]!r}")
    if raw is not None:
        if len(raw) != count * dtype.itemsize:
            raise ProtocolError(f"input {name!r}: {len(raw)} bytes do not fit shape {list(shape)} of {datatype}")
        return np.frombuffer(raw, dtype=dtype).reshape(shape)
    if "data" not in spec:
        raise ProtocolError(f"input {name!r}: no data")
    flat = _json_numbers(name, spec["data"], dtype)
    if flat.size != count:
        raise ProtocolError(f"input {name!r}: {flat.size} elements for shape {list(shape)}")
    return flat.reshape(shape)


def decode_request(body: bytes, header_length: int | None) -> InferRequest:
    """Decode an infer request body; `header_length` is the Inference-Header-Content-Length value."""
    if header_length is not None:
        if header_length < 0 or header_length > len(body):
            raise ProtocolError("Inference-Header-Content-Length is larger than the body")
        head, rest = body[:header_length], memoryview(body)[header_length:]
    else:
        head, rest = body, memoryview(b"")
    try:
        header = json.loads(head or b"{}", parse_constant=_no_constants)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"request header is not JSON: {exc}") from exc
    except RecursionError:
        raise ProtocolError("request JSON is nested too deeply") from None
    if not isinstance(header, dict) or not isinstance(header.get("inputs"), list):
        raise ProtocolError("request needs an 'inputs' list")
    if len(header["inputs"]) > MAX_INPUTS:
        raise ProtocolError(f"request has {len(header['inputs'])} inputs; at most {MAX_INPUTS}")
    inputs: dict[str, np.ndarray] = {}
    offset = 0
    for spec in header["inputs"]:
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise ProtocolError("every input needs a name")
        params_in = spec.get("parameters") or {}
        if not isinstance(params_in, dict):
            raise ProtocolError(f"input {spec['name']!r}: parameters must be an object")
        size = params_in.get("binary_data_size")
        raw = None
        if size is not None:
            if type(size) is not int or size < 0 or offset + size > len(rest):
                raise ProtocolError(f"input {spec['name']!r}: binary_data_size beyond the body")
            raw = bytes(rest[offset : offset + size])
            offset += size
        inputs[spec["name"]] = _tensor(spec, raw)
    params = header.get("parameters") or {}
    if not isinstance(params, dict):
        raise ProtocolError("request parameters must be an object")
    outputs = header.get("outputs")
    binary_outputs: set[str] = set()
    requested = None
    if isinstance(outputs, list):
        requested = []
        for out in outputs:
            if isinstance(out, dict) and isinstance(out.get("name"), str):
                requested.append(out["name"])
                out_params = out.get("parameters") or {}
                if isinstance(out_params, dict) and out_params.get("binary_data"):
                    binary_outputs.add(out["name"])
    return InferRequest(
        inputs=inputs,
        binary_outputs=binary_outputs,
        binary_default=bool(params.get("binary_data_output", False)),
        request_id=header.get("id") if isinstance(header.get("id"), str) else None,
        requested_outputs=requested,
    )


def encode_response(
    model_name: str,
    outputs: dict[str, np.ndarray],
    request: InferRequest,
    model_version: str = "1",
) -> tuple[bytes, int | None]:
    """Encode the reply; returns (body, header length or None when the reply is plain JSON)."""
    names = request.requested_outputs or list(outputs)
    entries, blobs = [], []
    for name in names:
        if name not in outputs:
            raise ProtocolError(f"unknown output {name!r}")
        array = outputs[name]
        datatype = datatype_of(array)
        entry: dict[str, Any] = {"name": name, "datatype": datatype, "shape": list(array.shape)}
        if name in request.binary_outputs or request.binary_default:
            blob = serialize_bytes(array) if datatype == "BYTES" else np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes()
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        elif datatype == "BYTES":
            entry["data"] = [b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b) for b in array.reshape(-1)]
        else:
            entry["data"] = array.reshape(-1).tolist()
        entries.append(entry)
    reply: dict[str, Any] = {"model_name": model_name, "model_version": model_version, "outputs": entries}
    if request.request_id is not None:
        reply["id"] = request.request_id
    head = json.dumps(reply, separators=(",", ":")).encode("utf-8")
    if not blobs:
        return head, None
    return head + b"".join(blobs), len(head)
