"""The reward server under abuse, over real sockets: every malformed request gets a 4xx JSON error
naming the problem (authentication first), half-sent requests are dropped after a short timeout, and
a good request from the real tritonclient is still answered afterwards, also while clients misbehave
concurrently."""

from __future__ import annotations

import json
import socket
import threading
import time

import numpy as np
import pytest
import tritonclient.http as triton

from conftest import GOOD_3, PROMPTS, ExactMatcher, make_batch
from rcstudio.rationale.reward import RewardSettings
from rcstudio.serve.background import BackgroundServer
from rcstudio.serve.batcher import MatchBatcher
from rcstudio.serve.ground_truth import PromptIndex, load_table
from rcstudio.serve.kserve import ServerSettings, body_limit
from rcstudio.serve.reward_model import RewardBackend
from rcstudio.serve.scorer import HybridScorer, SequenceSplitter
from rcstudio.serve.step_log import StepLogger
from rcstudio.tracking.wandb_log import NoopRun

TOKEN = "abuse-test-token"
PATH = "/v2/models/reward_model/infer"


@pytest.fixture
def server(tiny_tokenizer_dir, data_dir):
    from rcstudio.serve.tokenizer import load_tokenizer

    tok = load_tokenizer(str(tiny_tokenizer_dir))
    rows, texts = load_table(data_dir)
    batcher = MatchBatcher(ExactMatcher(), max_wait_s=0.01)
    backend = RewardBackend(SequenceSplitter(PromptIndex(rows, texts, tok, tok.special_ids), tok),
                            HybridScorer(RewardSettings(form="gated"), batcher),
                            step_logger=StepLogger(NoopRun("r", None, {}), 1000, idle_flush_s=0), batcher=batcher)
    settings = ServerSettings(port=0, token=TOKEN, max_body_bytes=body_limit(8, 512),
                              header_timeout_s=1.0, body_timeout_s=1.0)
    with BackgroundServer(lambda: backend, settings) as srv:
        srv.vocab = tok.vocab_size
        yield srv


def _raw(srv, data: bytes, timeout: float = 10.0) -> tuple[int | None, dict | str, float]:
    """Send raw bytes, read until the server closes or answers; (status, body, seconds)."""
    host, port = srv.url.rsplit(":", 1)
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
            text = b"".join(chunks)
            if b"\r\n\r\n" in text:
                head, _, body = text.partition(b"\r\n\r\n")
                length = [int(ln.split(b":")[1]) for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")]
                if length and len(body) >= length[0]:
                    break
    elapsed = time.monotonic() - started
    text = b"".join(chunks)
    if not text:
        return None, "", elapsed
    head, _, body = text.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    try:
        return status, json.loads(body), elapsed
    except ValueError:
        return status, body.decode("latin-1"), elapsed


def _post(body: bytes, headers: dict[str, str] | None = None, token: bytes | None = TOKEN.encode(),
          content_length: int | None = None) -> bytes:
    lines = [f"POST {PATH} HTTP/1.1".encode(), b"Host: x", b"Connection: close",
             b"Content-Type: application/json",
             f"Content-Length: {len(body) if content_length is None else content_length}".encode()]
    if token is not None:
        lines.append(b"X-RCStudio-Token: " + token)
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _json_request(tokens, lengths=None, datatype="INT64", shape=None) -> bytes:
    n = len(tokens)
    lengths = lengths if lengths is not None else [[len(t)] for t in tokens]
    return json.dumps({"inputs": [
        {"name": "tokens", "datatype": datatype, "shape": shape or [n, len(tokens[0])], "data": tokens},
        {"name": "sequence_lengths", "datatype": "INT64", "shape": [n, 1], "data": lengths},
    ]}).encode()


def _cases(vocab: int) -> list[tuple[str, bytes, int, str]]:
    """(label, raw request, expected status, a word the error names)."""
    deep = b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    return [
        ("non-ASCII token", _post(b"{}", token="é\xff".encode("latin-1")), 401, "token"),
        ("no token, bad body", _post(b"not json", token=None), 401, "token"),
        ("wrong token", _post(_json_request([[1, 2]]), token=b"nope"), 401, "token"),
        ("bearer non-ASCII", _post(b"{}", token=None, headers={"Authorization": "Bearer \u00e9"}), 401, "token"),
        ("not JSON", _post(b"\xff\xfe{"), 400, "JSON"),
        ("2**70", _post(_json_request([[2**70, 1]])), 400, "range"),
        ("Infinity", _post(b'{"inputs": [{"name": "tokens", "datatype": "INT64", "shape": [1], "data": [Infinity]}]}'),
         400, "finite"),
        ("NaN", _post(b'{"inputs": [{"name": "tokens", "datatype": "FP32", "shape": [1], "data": [NaN]}]}'), 400, "finite"),
        ("negative id", _post(_json_request([[-5, 3]])), 400, "vocabulary"),
        ("huge id", _post(_json_request([[3, vocab + 10**9]])), 400, "vocabulary"),
        ("float ids", _post(_json_request([[1.5, 2.0]])), 400, "integers"),
        ("deep JSON", _post(deep), 400, "nested"),
        ("nested data", _post(_json_request([[[[[[[[[[1]]]]]]]]]], shape=[1, 1])), 400, "data"),
        ("length past width", _post(_json_request([[1, 2]], lengths=[[9]])), 400, "sequence_lengths"),
        ("negative length", _post(_json_request([[1, 2]], lengths=[[-1]])), 400, "sequence_lengths"),
        ("huge shape", _post(_json_request([[1]], shape=[2**40, 2**40])), 400, "shape"),
        ("bad header length", _post(b"{}", headers={"Inference-Header-Content-Length": "12abc"}), 400, "byte count"),
        ("header length past body", _post(b"{}", headers={"Inference-Header-Content-Length": "999"}), 400, "larger"),
        ("BYTES of ints", _post(b'{"inputs": [{"name": "sentences", "datatype": "BYTES", "shape": [1], "data": [99999999999]}]}'),
         400, "strings"),
        ("too big", _post(b"x", content_length=10**9), 413, "limit"),
        ("unknown model", _post(b"{}").replace(b"reward_model", b"other_model", 1), 404, "unknown model"),
        ("no inputs", _post(b'{"inputs": 5}'), 400, "inputs"),
    ]


def test_every_malformed_request_gets_a_4xx_json_error(server, tiny_tokenizer_dir):
    for label, request, status, word in _cases(server.vocab):
        got, body, _ = _raw(server, request)
        assert got == status, (label, got, body)
        assert isinstance(body, dict) and word.lower() in body["error"].lower(), (label, body)
    _good(server, tiny_tokenizer_dir)
    assert server.app.failures > 10


def test_half_sent_requests_are_dropped(server, tiny_tokenizer_dir):
    host, port = server.url.rsplit(":", 1)
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=15) as sock:  # headers never finished
        sock.sendall(b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\nX-RCStudio-Token: " + TOKEN.encode())
        assert sock.recv(100) == b""  # closed by the server
    assert time.monotonic() - started < 8
    status, body, elapsed = _raw(server, _post(b'{"inputs": [', content_length=5000))  # a lying Content-Length
    assert status == 408 and "not received" in body["error"] and elapsed < 8
    _good(server, tiny_tokenizer_dir)


def _good(srv, tokenizer_dir) -> float:
    batch = make_batch(tokenizer_dir, [(PROMPTS["item-3"], GOOD_3)], pad_to=64)
    client = triton.InferenceServerClient(srv.url, connection_timeout=10, network_timeout=10)
    t = triton.InferInput("tokens", list(batch.tokens.shape), "INT64")
    t.set_data_from_numpy(batch.tokens)
    n = triton.InferInput("sequence_lengths", list(batch.lengths.shape), "INT64")
    n.set_data_from_numpy(batch.lengths)
    started = time.monotonic()
    res = client.infer("reward_model", [t, n], headers={"Authorization": f"Bearer {TOKEN}"})
    elapsed = time.monotonic() - started
    assert res.as_numpy("rewards").ravel().tolist() == [1.0]
    client.close()
    return elapsed


def test_concurrent_abusers_do_not_starve_a_good_client(server, tiny_tokenizer_dir):
    stop = threading.Event()
    statuses: list[int | None] = []
    cases = _cases(server.vocab)

    def abuse(offset: int) -> None:
        i = offset
        while not stop.is_set():
            statuses.append(_raw(server, cases[i % len(cases)][1])[0])
            i += 1

    def stall() -> None:  # holds half-sent requests open the whole time
        while not stop.is_set():
            _raw(server, _post(b"{", content_length=100), timeout=5)

    threads = [threading.Thread(target=abuse, args=(k,)) for k in range(3)] + [threading.Thread(target=stall)]
    for t in threads:
        t.start()
    try:
        times = [_good(server, tiny_tokenizer_dir) for _ in range(5)]
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert len(statuses) > 10 and all(s is not None and 400 <= s < 500 for s in statuses), set(statuses)
    assert max(times) < 5.0
    assert np.median(times) < 2.0
