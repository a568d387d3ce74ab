"""Parquet for verl's `RLHFDataset`, written from the one shared prep (`engines.prepare.select_prompts`).

verl applies the actor tokenizer's chat template itself (`prompt` = chat messages), so the judge
prompt is taken unwrapped: the user message holds exactly the text the other engines wrap in
ChatML. Columns (verl/trainer/config/data/legacy_data.yaml + the reward loop's reads):
`data_source`, `prompt`, `ability`, `reward_model.{style, ground_truth}`, `extra_info`. The human
rationales, the swap flag and the item id travel in `extra_info`, which verl hands to `compute_score`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rcstudio.engines.prepare import SUMMARY_FILE, Prompt, TrainingPrompt, dedupe, load_items, policy_prompts, \
    training_prompts
from rcstudio.engines.verl.mapping import DATA_SOURCE, POLICY_DATA_SOURCE, TRAIN_PARQUET, VAL_PARQUET
from rcstudio.errors import JobFailed


def _conversation_json(context: list) -> str:
    return json.dumps(context, ensure_ascii=False, sort_keys=True)


def genrm_row(p: TrainingPrompt, split: str, index: int) -> dict[str, Any]:
    """One GenRM training row: the judge prompt as a user turn; ground truth = the (swapped) preference."""
    return {
        "data_source": DATA_SOURCE,
        "prompt": [{"role": "user", "content": p.prompt}],
        "ability": "genrm",
        "reward_model": {"style": "rule", "ground_truth": json.dumps(p.preference)},
        "extra_info": {
            "split": split, "index": index, "id": str(p.id), "domain": str(p.domain or ""),
            "preference": p.preference, "swapped": bool(p.swapped),
            "human_checklist": [str(x) for x in p.human_checklist],
            "prompt_sha": p.ground_truth(p.prompt)["prompt_sha"], "reference": "",
        },
    }


def policy_row(p: Prompt, split: str, index: int) -> dict[str, Any]:
    """One policy-RLHF row: the conversation; the GenRM compares the answer with `reference`."""
    r = p.row
    return {
        "data_source": POLICY_DATA_SOURCE,
        "prompt": [{"role": str(m.get("role", "user")), "content": str(m.get("content", ""))} for m in r["context"]],
        "ability": "policy",
        "reward_model": {"style": "model", "ground_truth": str(r.get("reference") or "")},
        "extra_info": {
            "split": split, "index": index, "id": str(r["id"]), "domain": str(r.get("domain") or ""),
            "preference": 0, "swapped": False, "human_checklist": [str(x) for x in r["human_checklist"]],
            "prompt_sha": r["prompt_sha"], "reference": str(r.get("reference") or ""),
        },
    }


def policy_sets(spec: Any) -> tuple[list[Prompt], list[Prompt], list[str]]:
    train_items, val_items, notes = load_items(spec)

    def build(items: list[Any]) -> list[Prompt]:
        return dedupe(policy_prompts([it for it in items if it.context], wrap_conversation=_conversation_json))

    return build(train_items), build(val_items), notes


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(pa.Table.from_pylist(rows), tmp)
    tmp.replace(path)
    return len(rows)


def prepare_parquet(run_dir: Path, spec: Any) -> dict[str, Any]:
    """Write `data/train.parquet` and `data/val.parquet` for verl; returns a summary (also in results/)."""
    run_dir = Path(run_dir)
    data_dir = run_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    dropped: dict[str, int] = {}
    if spec.experiment.kind == "policy-rlhf":
        ptrain, pval, notes = policy_sets(spec)
        train = [policy_row(p, "train", i) for i, p in enumerate(ptrain)]
        val = [policy_row(p, "val", i) for i, p in enumerate(pval)]
    else:  # THE shared GenRM training prompts (engines/prepare.training_prompts), unwrapped
        data = training_prompts(spec)
        notes, dropped = data.sources, data.dropped
        train = [genrm_row(p, "train", i) for i, p in enumerate(data.train)]
        val = [genrm_row(p, "val", i) for i, p in enumerate(data.val)]
    if not train:
        raise JobFailed(f"no usable training prompts ({'; '.join(notes)}; dropped: {dropped or 'none'})")
    if len(train) < spec.rl.global_batch_size:
        raise JobFailed(f"{len(train)} training prompts are fewer than one step's rl.global_batch_size "
                        f"({spec.rl.global_batch_size}): verl would train 0 steps")
    if not val:
        raise JobFailed("no validation prompts: verl's trainer needs data.val_files rows (raise data.val_items)")
    summary = {
        "engine": "verl",
        "train_prompts": write_parquet(data_dir / TRAIN_PARQUET, train),
        "val_prompts": write_parquet(data_dir / VAL_PARQUET, val),
        "swapped": sum(1 for r in train + val if r["extra_info"]["swapped"]),
        "dropped": dropped,
        "sources": notes,
    }
    (run_dir / "results").mkdir(exist_ok=True)
    (run_dir / "results" / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    print(f"prepared {summary['train_prompts']} train / {summary['val_prompts']} val prompts "
          f"(verl parquet) in {data_dir}", flush=True)
    return summary


def training_rows(run_dir: Path, spec: Any) -> list[dict[str, Any]]:
    """The GenRM rows verl trains on, read back from the parquet `prepare_parquet` wrote."""
    import pyarrow.parquet as pq

    prepare_parquet(run_dir, spec)
    out = []
    for r in pq.read_table(Path(run_dir) / "data" / TRAIN_PARQUET).to_pylist():
        info = r["extra_info"]
        out.append({"prompt": r["prompt"][0]["content"], "id": info["id"], "swapped": info["swapped"],
                    "preference": info["preference"], "human_checklist": list(info["human_checklist"])})
    return out
