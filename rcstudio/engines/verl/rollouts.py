"""Hand-built rollouts through verl's real reward loop (tests and benchmarks; runs in the verl Python).

`rollout_batch` builds the `DataProto` verl's trainer hands `RewardLoopManager.compute_rm_score`
(left-padded prompts, right-padded responses, their attention mask, and the parquet columns as
non-tensor fields); `RewardRun` composes the run's compiled overrides with verl's configs (as
`main_ppo` would), starts a small local Ray and scores batches. CLI (JSON in, JSON out)::

    python -m rcstudio.engines.verl.rollouts reward --run-dir RUN --rollouts R.json --out O.json
    python -m rcstudio.engines.verl.rollouts dataset --parquet P --tokenizer DIR --out O.json

where R.json is a list of batches, each a list of {"row": <parquet row>, "response": "..."}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any


def load_rows(parquet: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    return pq.read_table(parquet).to_pylist()


def rollout_batch(tokenizer: Any, rows: list[dict[str, Any]], responses: list[str]) -> Any:
    """The DataProto of `len(rows)` finished rollouts (one response text each)."""
    import numpy as np
    import torch
    from tensordict import TensorDict
    from verl.protocol import DataProto

    prompts = [tokenizer.apply_chat_template(r["prompt"], add_generation_prompt=True, tokenize=True) for r in rows]
    prompts = [list(p["input_ids"]) if hasattr(p, "keys") else list(p) for p in prompts]
    answers = [tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id] for text in responses]
    p_len = max(len(p) for p in prompts)
    r_len = max(len(a) for a in answers)
    pad = tokenizer.pad_token_id
    prompt_ids = torch.full((len(rows), p_len), pad, dtype=torch.long)
    resp_ids = torch.full((len(rows), r_len), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), p_len + r_len), dtype=torch.long)
    for i, (p, a) in enumerate(zip(prompts, answers)):
        prompt_ids[i, p_len - len(p):] = torch.tensor(p)  # left-padded, as verl's rollout returns them
        resp_ids[i, : len(a)] = torch.tensor(a)
        mask[i, p_len - len(p): p_len + len(a)] = 1
    batch = TensorDict({"prompts": prompt_ids, "responses": resp_ids, "attention_mask": mask,
                        "input_ids": torch.cat([prompt_ids, resp_ids], dim=1)}, batch_size=len(rows))

    def column(name: str) -> Any:
        out = np.empty(len(rows), dtype=object)
        for i, r in enumerate(rows):
            out[i] = r[name]
        return out

    raw = np.empty(len(rows), dtype=object)
    for i, r in enumerate(rows):
        raw[i] = np.array(r["prompt"], dtype=object)
    non_tensor = {"data_source": column("data_source"), "reward_model": column("reward_model"),
                  "extra_info": column("extra_info"), "raw_prompt": raw}
    return DataProto(batch=batch, non_tensor_batch=non_tensor)


class RewardRun:
    """verl's RewardLoopManager for a compiled run dir, on a local Ray of `num_cpus` CPUs."""

    def __init__(self, run_dir: Path, num_cpus: int = 2) -> None:
        import ray
        from omegaconf import OmegaConf

        from rcstudio.engines.verl.check import compose

        self.run_dir = Path(run_dir)
        overrides = (self.run_dir / "compiled" / "overrides.txt").read_text().splitlines()
        self.config = compose(overrides)
        OmegaConf.resolve(self.config)
        if not ray.is_initialized():
            # workers inherit this process's environment (PYTHONPATH, RCSTUDIO_HOME)
            ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
        from verl.experimental.reward_loop import RewardLoopManager
        from verl.utils import hf_tokenizer

        self.manager = RewardLoopManager(self.config)
        self.tokenizer = hf_tokenizer(self.config.actor_rollout_ref.model.path)

    def score(self, rows: list[dict[str, Any]], responses: list[str]) -> dict[str, Any]:
        data = rollout_batch(self.tokenizer, rows, responses)
        t0 = time.perf_counter()
        out = self.manager.compute_rm_score(data)
        wall = time.perf_counter() - t0
        rm = out.batch["rm_scores"]
        # the score sits on the last valid response token (verl's assemble_rm_scores)
        last = data.batch["attention_mask"][:, data.batch["prompts"].size(1):].sum(dim=1) - 1
        extra = {k: [float(x) for x in out.non_tensor_batch[k]] for k in out.meta_info.get("reward_extra_keys", [])}
        return {"scores": [float(v) for v in rm.sum(dim=1)], "last_index": [int(i) for i in last],
                "at_last": [float(rm[i, int(last[i])]) for i in range(len(rows))],
                "nonzero_per_row": [int((rm[i] != 0).sum()) for i in range(len(rows))],
                "extra": extra, "wall_s": wall}

    def close(self) -> None:
        import ray

        ray.shutdown()


def dataset_prompts(parquet: Path, tokenizer_dir: str, max_prompt_length: int = 8192) -> list[dict[str, Any]]:
    """Every item of verl's RLHFDataset over `parquet`, with the prompt as the chat template renders it."""
    from omegaconf import OmegaConf
    from verl.utils import hf_tokenizer
    from verl.utils.dataset.rl_dataset import RLHFDataset

    tok = hf_tokenizer(tokenizer_dir)
    cfg = OmegaConf.create({"prompt_key": "prompt", "max_prompt_length": max_prompt_length, "return_raw_chat": True,
                            "filter_overlong_prompts": True, "filter_overlong_prompts_workers": 1,
                            "truncation": "error", "cache_dir": str(Path(parquet).parent / ".verl-cache")})
    ds = RLHFDataset(data_files=[str(parquet)], tokenizer=tok, config=cfg)
    out = []
    for i in range(len(ds)):
        item = ds[i]
        messages = [dict(m) for m in item["raw_prompt"]]
        out.append({"messages": messages, "data_source": item["data_source"],
                    "ground_truth": item["reward_model"]["ground_truth"], "extra_info": dict(item["extra_info"]),
                    "text": tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    rw = sub.add_parser("reward", help="score batches of rollouts through RewardLoopManager")
    rw.add_argument("--run-dir", type=Path, required=True)
    rw.add_argument("--rollouts", type=Path, required=True)
    rw.add_argument("--out", type=Path, required=True)
    rw.add_argument("--num-cpus", type=int, default=2)
    ds = sub.add_parser("dataset", help="load a parquet with verl's RLHFDataset")
    ds.add_argument("--parquet", type=Path, required=True)
    ds.add_argument("--tokenizer", required=True)
    ds.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    if args.cmd == "dataset":
        args.out.write_text(json.dumps(dataset_prompts(args.parquet, args.tokenizer), default=str))
        return 0
    batches = json.loads(args.rollouts.read_text())  # a list of batches: [[{"row", "response"}, ...], ...]
    run = RewardRun(args.run_dir, num_cpus=args.num_cpus)
    try:
        results = [run.score([r["row"] for r in b], [r["response"] for r in b]) for b in batches]
    finally:
        run.close()
    args.out.write_text(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
