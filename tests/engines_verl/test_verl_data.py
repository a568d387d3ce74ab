"""verl's parquet comes from the one shared prep: verl's own RLHFDataset loads it, and its prompts,
swaps and ground truth equal what the NeMo-Aligner/TRL path writes for the same spec."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
from verl_test_helpers import run_verl

from rcstudio.compile import compile_run
from rcstudio.engines.prepare import chatml, prepare_data
from rcstudio.engines.verl.data import prepare_parquet


def test_parquet_loads_in_rlhfdataset_and_matches_the_shared_prep(verl_spec, verl_python, tmp_path, chatml_tokenizer):
    run = verl_spec()
    verl_dir = tmp_path / "verl-run"
    compile_run(run, verl_dir)
    summary = prepare_parquet(verl_dir, run.spec)
    train = pq.read_table(verl_dir / "data" / "train.parquet").to_pylist()
    val = pq.read_table(verl_dir / "data" / "val.parquet").to_pylist()
    # 12 training items: 11 train + 1 held out for validation by id (5%, at least one; never data.eval)
    assert summary["train_prompts"] == len(train) == 11 and summary["val_prompts"] == len(val) == 1
    assert 0 < summary["swapped"] < 16

    # the other engines' prep of the same spec: ChatML-wrapped JSONL + ground-truth table
    other = tmp_path / "other-run"
    prepare_data(other, run.spec)
    texts = [json.loads(line)["text"] for line in (other / "data" / "train_prompts.jsonl").read_text().splitlines()]
    truth = {json.loads(line)["prompt_sha"]: json.loads(line)
             for line in (other / "data" / "ground_truth.jsonl").read_text().splitlines()}
    assert [chatml(r["prompt"][0]["content"]) for r in train] == texts
    by_id = {row["id"]: row for row in truth.values()}
    for r in train:
        info, gt = r["extra_info"], by_id[r["extra_info"]["id"]]
        assert (info["preference"], info["swapped"], info["human_checklist"]) == (
            gt["preference"], gt["swapped"], gt["human_checklist"])
        assert json.loads(r["reward_model"]["ground_truth"]) == gt["preference"]
        assert r["data_source"] == "rcstudio/genrm" and r["prompt"][0]["role"] == "user"

    # verl's own dataset class over the parquet, with the (ChatML) tokenizer the actor would use
    out = tmp_path / "dataset.json"
    run_verl(verl_python, "-m", "rcstudio.engines.verl.rollouts", "dataset", "--parquet",
             str(verl_dir / "data" / "train.parquet"), "--tokenizer", str(chatml_tokenizer), "--out", str(out))
    items = json.loads(out.read_text())
    assert [it["text"] for it in items] == texts  # the rendered prompts equal the other engines' prompts
    assert [it["extra_info"]["human_checklist"] for it in items] == [r["extra_info"]["human_checklist"] for r in train]
    assert {it["data_source"] for it in items} == {"rcstudio/genrm"}
