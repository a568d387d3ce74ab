"""Embedding matcher speed on CPU with the packaged all-MiniLM-L6-v2.

Figures: wall time for `--items` items of 4-5 human and 5 model reasons (target: under 60 s on 2
CPU cores), the share of time spent embedding vs matching (cosine + snapping), and the ratio
against a baseline measured in the same run: encoding item by item (one `encode` call per item,
no sharing across items), timed on `--baseline-items` items and scaled up. Usage:
    python benchmarks/bench_embedding_matcher.py [--items 1000] [--baseline-items 100]
"""

from __future__ import annotations

import argparse
import os
import time


def make_requests(n: int, offset: int = 0):
    from rcstudio.rationale.matchers import MatchRequest

    topics = ["the loop bound", "the unit conversion", "the citation", "the tone", "the SQL join", "the date", "the proof step"]
    return [
        MatchRequest(
            f"item-{i}",
            [f"Response {1 + j % 2} gets {topics[(i + j) % 7]} right in case {i}, step {j}." for j in range(4 + i % 2)],
            [f"Response {'AB'[j % 2]} is careful about {topics[(i * 3 + j) % 7]} (case {i}, point {j})." for j in range(5)],
        )
        for i in range(offset, offset + n)
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--baseline-items", type=int, default=100)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from rcstudio.rationale.matchers import make_matcher
    from rcstudio.rationale.matchers.embedding import encode_threads, load_model

    t0 = time.perf_counter()
    model = load_model()
    load_s = time.perf_counter() - t0
    requests = make_requests(args.items)
    n_sentences = len({s for r in requests for s in (*r.human, *r.model)})

    threads = encode_threads()
    matcher = make_matcher({"kind": "embedding"})
    t0 = time.perf_counter()
    out = matcher.match(requests)
    wall = time.perf_counter() - t0
    st = matcher.stats()

    base_reqs = make_requests(args.baseline_items, offset=10**6)  # unseen sentences
    torch.set_num_threads(threads)  # same threads as the matcher used
    t0 = time.perf_counter()
    for r in base_reqs:
        model.encode([*r.human, *r.model], normalize_embeddings=True, show_progress_bar=False)
    baseline = (time.perf_counter() - t0) * args.items / args.baseline_items

    nonzero = sum(float((m > 0).mean()) for m in out) / len(out)
    print(f"items {args.items} ({n_sentences} unique sentences), encode threads {threads} (load average {os.getloadavg()[0]:.1f}), model load {load_s:.1f} s")
    print(f"embedding matcher: {wall:7.2f} s wall ({args.items / wall:.0f} items/s) -> target < 60 s: {'met' if wall < 60 else 'MISSED'}")
    print(f"  embedding {st['embed_s']:.2f} s ({100 * st['embed_share']:.1f}%), matching {st['match_s']:.3f} s "
          f"({100 * (1 - st['embed_share']):.1f}%), mean share of pairs scored > 0: {nonzero:.2f}")  # fmt: skip
    print(f"baseline (one encode call per item, {args.baseline_items} items scaled to {args.items}): {baseline:.2f} s "
          f"-> batched matcher is {baseline / wall:.1f}x faster")  # fmt: skip


if __name__ == "__main__":
    main()
