"""Good-request latency of the reward server while other clients abuse it.

    python benchmarks/bench_reward_server_abuse.py [--rounds 6] [--requests 10]

One server (real aiohttp, loopback; tiny BPE tokenizer; a matcher that answers at once, so the
figure is the server's own cost). A good client sends rollout micro-batches of 8 sequences with the
real Triton HTTP client. Baseline: the same client with nobody else talking to the server. Under
abuse: 4 threads send malformed requests (bad JSON, 2**70, Infinity, ids outside the vocabulary,
100k-deep JSON, oversized Content-Length, a wrong token) and 2 threads hold half-sent requests
open. Rounds alternate baseline / abuse (interleaved, so machine load hits both alike); the figure
is the median good-request latency under abuse and its ratio to the baseline median. Target:
within 2x (the abusers share two CPU cores with the server and the client here).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("WANDB_MODE", "disabled")

PROMPT = "<|im_start|>user\nCompare the two answers about item {i}.\nA: short.\nB: longer and right.<|im_end|>\n<|im_start|>assistant\n"
REPLY = "<RESULT_START>\n1. Response B is right\n\\boxed{B>A}\n<RESULT_END>"
TOKEN = "bench-token"


class InstantMatcher:
    async def amatch(self, requests):
        return [np.ones((len(r.human), len(r.model))) for r in requests]

    def stats(self):
        return {}


def build(tmp: Path):
    from rcstudio.rationale.reward import RewardSettings
    from rcstudio.serve.batcher import MatchBatcher
    from rcstudio.serve.ground_truth import PromptIndex, load_table, prompt_sha
    from rcstudio.serve.reward_model import RewardBackend
    from rcstudio.serve.scorer import HybridScorer, SequenceSplitter
    from rcstudio.serve.tokenizer import load_tokenizer
    from rcstudio.testing.tokenizer import bpe_tokenizer

    prompts = [PROMPT.format(i=i) for i in range(16)]
    fast = bpe_tokenizer(prompts + [REPLY] * 4, 400, ["<pad>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"],
                         additional_special_tokens=["<|im_start|>", "<|im_end|>"])
    fast.save_pretrained(tmp / "tok")
    data = tmp / "data"
    data.mkdir()
    with (data / "ground_truth.jsonl").open("w") as gt, (data / "train_prompts.jsonl").open("w") as tp:
        for i, p in enumerate(prompts):
            gt.write(json.dumps({"prompt_sha": prompt_sha(p), "id": f"i{i}", "preference": 2, "swapped": False,
                                 "domain": "general", "human_checklist": ["Response 2 is right"]}) + "\n")
            tp.write(json.dumps({"text": p}) + "\n")
    tok = load_tokenizer(str(tmp / "tok"))
    rows, texts = load_table(data)
    batcher = MatchBatcher(InstantMatcher(), max_wait_s=0.002)
    backend = RewardBackend(SequenceSplitter(PromptIndex(rows, texts, tok, tok.special_ids), tok),
                            HybridScorer(RewardSettings(form="gated"), batcher), batcher=batcher)
    ids = []
    for p in prompts[:8]:
        seq = tok.encode(p) + tok.encode(REPLY) + [2]
        ids.append(seq)
    width = max(len(s) for s in ids) + 32
    tokens = np.zeros((8, width), dtype=np.int64)
    for i, s in enumerate(ids):
        tokens[i, : len(s)] = s
    lengths = np.asarray([[len(s)] for s in ids], dtype=np.int64)
    return backend, tokens, lengths, tok.vocab_size


def raw(host: str, port: int, data: bytes, timeout: float = 5.0) -> None:
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(data)
            while sock.recv(65536):
                pass
    except OSError:
        pass


def post(body: bytes, token: str = TOKEN, length: int | None = None) -> bytes:
    head = (f"POST /v2/models/reward_model/infer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            f"X-RCStudio-Token: {token}\r\nContent-Length: {len(body) if length is None else length}\r\n\r\n")
    return head.encode() + body


def bad_requests(vocab: int) -> list[bytes]:
    def req(data, dtype="INT64"):
        return json.dumps({"inputs": [{"name": "tokens", "datatype": dtype, "shape": [1, len(data)], "data": [data]},
                                      {"name": "sequence_lengths", "datatype": "INT64", "shape": [1, 1],
                                       "data": [[len(data)]]}]}).encode()
    return [post(b"not json"), post(req([2**70, 1])), post(b'{"inputs": [Infinity]}'), post(req([vocab + 5, 1])),
            post(b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"), post(b"x", length=10**9),
            post(req([1, 2]), token="wrong")]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--requests", type=int, default=10, help="good requests per round")
    args = ap.parse_args()
    import tritonclient.http as triton

    from rcstudio.serve.background import BackgroundServer
    from rcstudio.serve.kserve import ServerSettings, body_limit

    tmp = Path(tempfile.mkdtemp(prefix="bench-abuse-"))
    backend, tokens, lengths, vocab = build(tmp)
    settings = ServerSettings(port=0, token=TOKEN, max_body_bytes=body_limit(64, 512), header_timeout_s=2.0,
                              body_timeout_s=2.0)
    bad = bad_requests(vocab)
    timings: dict[str, list[float]] = {"baseline": [], "abuse": []}
    with BackgroundServer(lambda: backend, settings) as srv:
        host, port = srv.url.rsplit(":", 1)
        client = triton.InferenceServerClient(srv.url, network_timeout=30)

        def good() -> float:
            t = triton.InferInput("tokens", list(tokens.shape), "INT64")
            t.set_data_from_numpy(tokens)
            n = triton.InferInput("sequence_lengths", list(lengths.shape), "INT64")
            n.set_data_from_numpy(lengths)
            started = time.perf_counter()
            out = client.infer("reward_model", [t, n], headers={"X-RCStudio-Token": TOKEN}).as_numpy("rewards")
            assert out.shape == (8, 1)
            return time.perf_counter() - started

        for _ in range(3):
            good()  # warm-up
        sent = {"bad": 0, "stalled": 0}
        for r in range(args.rounds * 2):
            mode = "abuse" if r % 2 else "baseline"
            stop = threading.Event()
            threads = []
            if mode == "abuse":
                def abuse(k: int) -> None:
                    i = k
                    while not stop.is_set():
                        raw(host, int(port), bad[i % len(bad)])
                        sent["bad"] += 1
                        i += 1

                def stall() -> None:
                    while not stop.is_set():
                        raw(host, int(port), post(b"{", length=100), timeout=4)
                        sent["stalled"] += 1

                threads = [threading.Thread(target=abuse, args=(k,)) for k in range(4)]
                threads += [threading.Thread(target=stall) for _ in range(2)]
                for t in threads:
                    t.start()
                time.sleep(0.2)
            timings[mode] += [good() for _ in range(args.requests)]
            stop.set()
            for t in threads:
                t.join(10)
    base, abuse = statistics.median(timings["baseline"]), statistics.median(timings["abuse"])
    load = os.getloadavg()
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} CPUs)")
    print(f"good request (8 sequences), median of {len(timings['baseline'])}: baseline {base * 1e3:.1f} ms, "
          f"under abuse {abuse * 1e3:.1f} ms (p90 {np.percentile(timings['abuse'], 90) * 1e3:.1f} ms)")
    print(f"abusive requests answered meanwhile: {sent['bad']} malformed, {sent['stalled']} half-sent")
    print(f"ratio under abuse / baseline: {abuse / base:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
