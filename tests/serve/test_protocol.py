"""KServe v2 wire format: what tritonclient/pytriton send decodes; replies encode both ways."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from rcstudio.serve.protocol import (
    ProtocolError, decode_request, encode_response, serialize_bytes,
)


def _binary_body(tensors: dict[str, tuple[str, np.ndarray]]) -> tuple[bytes, int]:
    inputs, blobs = [], []
    for name, (dt, arr) in tensors.items():
        blob = serialize_bytes(arr) if dt == "BYTES" else arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        inputs.append({"name": name, "shape": list(arr.shape), "datatype": dt, "parameters": {"binary_data_size": len(blob)}})
        blobs.append(blob)
    head = json.dumps({"inputs": inputs, "outputs": [{"name": "rewards", "parameters": {"binary_data": True}}]}).encode()
    return head + b"".join(blobs), len(head)


def test_binary_request_round_trip():
    tokens = np.arange(12, dtype=np.int64).reshape(3, 4)
    lengths = np.array([[4], [2], [3]], dtype=np.int64)
    sentences = np.array([[b"a"], ["é".encode()], [b""]], dtype=object)
    body, n = _binary_body({"tokens": ("INT64", tokens), "sequence_lengths": ("INT64", lengths),
                            "sentences": ("BYTES", sentences)})
    req = decode_request(body, n)
    np.testing.assert_array_equal(req.inputs["tokens"], tokens)
    np.testing.assert_array_equal(req.inputs["sequence_lengths"], lengths)
    assert req.inputs["sentences"].reshape(-1).tolist() == [b"a", "é".encode(), b""]
    assert req.binary_outputs == {"rewards"}

    rewards = np.array([[0.5], [1.0], [-1.0]], dtype=np.float32)
    out, head_len = encode_response("reward_model", {"rewards": rewards}, req)
    header = json.loads(out[:head_len])
    assert header["outputs"][0]["parameters"]["binary_data_size"] == 12
    np.testing.assert_array_equal(np.frombuffer(out[head_len:], "<f4").reshape(3, 1), rewards)


def test_json_request_and_json_reply():
    body = json.dumps({"id": "r1", "inputs": [
        {"name": "tokens", "shape": [1, 3], "datatype": "INT64", "data": [[5, 6, 7]]},
        {"name": "sequence_lengths", "shape": [1, 1], "datatype": "INT64", "data": [3]},
    ]}).encode()
    req = decode_request(body, None)
    assert req.inputs["tokens"].tolist() == [[5, 6, 7]] and req.request_id == "r1"
    out, head_len = encode_response("reward_model", {"rewards": np.array([[0.25]], np.float32)}, req)
    assert head_len is None
    reply = json.loads(out)
    assert reply["id"] == "r1" and reply["outputs"][0] == {"name": "rewards", "datatype": "FP32", "shape": [1, 1], "data": [0.25]}


@pytest.mark.parametrize("body,n,msg", [
    (b"not json", None, "not JSON"),
    (b'{"inputs": 3}', None, "inputs"),
    (json.dumps({"inputs": [{"name": "t", "shape": [2], "datatype": "INT64", "parameters": {"binary_data_size": 16}}]}).encode() + b"\0" * 8, None, "beyond"),
    (json.dumps({"inputs": [{"name": "t", "shape": [3], "datatype": "INT64", "data": [1, 2]}]}).encode(), None, "elements"),
    (json.dumps({"inputs": [{"name": "t", "shape": [1], "datatype": "COMPLEX", "data": [1]}]}).encode(), None, "datatype"),
    (b"{}", 99, "larger than the body"),
    (json.dumps({"inputs": [{"name": "s", "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": 2}}]}).encode() + b"\x05\x00", None, "truncated"),
])
def test_malformed_requests_raise_protocol_error(body, n, msg):
    if n is None and b"binary_data_size" in body:
        n = body.index(b"}]}") + 3
    with pytest.raises(ProtocolError, match=msg):
        decode_request(body, n)


def test_bytes_serialization_is_length_prefixed():
    assert serialize_bytes(np.array([b"ab", b""], dtype=object)) == struct.pack("<I", 2) + b"ab" + struct.pack("<I", 0)
