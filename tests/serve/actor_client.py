"""Stands in for the NeMo-Aligner actor in het group 1 (rl.nemo_aligner.actor_command): reads the prepared
prompts, writes one right, one wrong and one malformed judgment per prompt, sends them to the reward
server the job started (RCSTUDIO_REWARD_URL) with the Triton client, saves the rewards."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import tritonclient.http as triton
from transformers import AutoTokenizer


def judgment(row: dict, right: bool) -> str:
    one, two = ("B", "A") if row["swapped"] else ("A", "B")
    reasons = [re.sub(r"Response ([12])", lambda m: f"Response {one if m.group(1) == '1' else two}", h)
               for h in row["human_checklist"]]
    b_better = row["preference"] > 0
    verdict = "B>A" if b_better == right else "A>B"
    items = "\n".join(f"{i}. {r}" for i, r in enumerate(reasons, 1))
    return f"<think>checking</think>\n<RESULT_START>\n{items}\n\\boxed{{{verdict}}}\n<RESULT_END>"


def main() -> int:
    run_dir = Path(os.environ["RCSTUDIO_RUN_DIR"])
    tok = AutoTokenizer.from_pretrained(sys.argv[1])
    rows = {}
    for line in (run_dir / "data" / "ground_truth.jsonl").read_text().splitlines():
        row = json.loads(line)
        rows[row["prompt_sha"]] = row
    import hashlib

    prompts = [json.loads(l)["text"] for l in (run_dir / "data" / "train_prompts.jsonl").read_text().splitlines()]
    seqs, kinds = [], []
    for text in prompts:
        row = rows[hashlib.sha256(text.encode()).hexdigest()]
        for kind, response in (("right", judgment(row, True)), ("wrong", judgment(row, False)),
                               ("malformed", "no verdict here")):
            seqs.append(tok(text, add_special_tokens=False)["input_ids"] + tok(response, add_special_tokens=False)["input_ids"])
            kinds.append(kind)
    width = max(map(len, seqs))
    tokens = np.zeros((len(seqs), width), dtype=np.int64)
    for i, s in enumerate(seqs):
        tokens[i, : len(s)] = s
    lengths = np.asarray([[len(s)] for s in seqs], dtype=np.int64)
    url = os.environ["RCSTUDIO_REWARD_URL"].removeprefix("http://")
    client = triton.InferenceServerClient(url, network_timeout=120)
    t = triton.InferInput("tokens", list(tokens.shape), "INT64")
    t.set_data_from_numpy(tokens)
    n = triton.InferInput("sequence_lengths", list(lengths.shape), "INT64")
    n.set_data_from_numpy(lengths)
    rewards = client.infer("reward_model", [t, n]).as_numpy("rewards").ravel().tolist()
    (run_dir / "results" / "actor_rewards.json").write_text(json.dumps({"kinds": kinds, "rewards": rewards}))
    print("actor: got", len(rewards), "rewards")
    return 0


if __name__ == "__main__":
    sys.exit(main())
