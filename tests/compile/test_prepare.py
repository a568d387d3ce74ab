"""Data preparation inside NeMo-Aligner jobs: prompt JSONL, ground-truth table, swaps with flipped labels."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from rcstudio.engines.prepare import chatml, orders, prepare_data, split_val, swap_decision
from rcstudio.errors import JobFailed
from rcstudio.spec import expand, load_spec

ROW_KEYS = {"prompt_sha", "id", "domain", "preference", "swapped", "human_checklist"}


def records(n: int, start: int = 0) -> list[dict]:
    out = []
    for i in range(start, start + n):
        out.append({
            "id": f"item-{i}",
            "domain": ["general", "stem", "code", "multilingual"][i % 4],
            "context": [{"role": "user", "content": f"Question {i}?"}],
            "response1": f"first answer {i}",
            "response2": f"second answer {i}",
            "overall_preference": [-3, -2, -1, 1, 2, 3][i % 6],
            "human-checklist": [f"Response 1 states fact {i}.", f"Response 2 misses step {i}."],
        })
    return out


def write_jsonl(path: Path, recs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


@pytest.fixture
def make_spec(tmp_path):
    def _make(train_recs, extra: str = "", eval_recs=None, overrides=()):
        train = write_jsonl(tmp_path / "train.jsonl", train_recs)
        eval_line = ""
        if eval_recs is not None:
            eval_line = f'eval = ["{write_jsonl(tmp_path / "val.jsonl", eval_recs)}"]\n'
        text = (f'[experiment]\nname = "prep"\n[judge]\ncheckpoint = "/c.nemo"\n'
                f'[data]\ntrain = ["{train}"]\n{eval_line}{extra}\n'
                '[rl]\nglobal_batch_size = 4\nmini_batch_size = 4\n[rl.nemo_aligner]\nrollout_micro_batch_size = 1\n'
                '[cluster]\ngpus_per_node = 1\n')
        (tmp_path / "spec.toml").write_text(text)
        return expand(load_spec(tmp_path / "spec.toml", overrides))[0].spec

    return _make


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_orders_and_seeded_swaps():
    assert orders("x", "none", 1) == [False]
    assert orders("x", "both", 1) == [False, True]
    decisions = [swap_decision(f"id{i}", 7) for i in range(200)]
    assert decisions == [swap_decision(f"id{i}", 7) for i in range(200)]
    assert 60 < sum(decisions) < 140
    assert decisions != [swap_decision(f"id{i}", 8) for i in range(200)]


def test_split_val_is_seeded_and_disjoint():
    items = list(range(100))
    train, val = split_val(items, 3)
    assert len(val) == 5 and not set(train) & set(val) and sorted(train + val) == items
    assert split_val(items, 3) == (train, val)
    assert split_val([1], 3) == ([1], [])


def test_prepare_writes_prompts_and_ground_truth(make_spec, tmp_path):
    spec = make_spec(records(40), extra='swap = "both"\n', eval_recs=records(6, start=100))
    run_dir = tmp_path / "run"
    summary = prepare_data(run_dir, spec)
    train = read_jsonl(run_dir / "data" / "train_prompts.jsonl")
    val = read_jsonl(run_dir / "data" / "val_prompts.jsonl")
    rows = read_jsonl(run_dir / "data" / "ground_truth.jsonl")
    assert (len(train), len(val), len(rows)) == (80, 12, 92)
    assert summary["swapped"] == 46
    by_sha = {r["prompt_sha"]: r for r in rows}
    for line in train + val:
        assert set(line) == {"text"}
        text = line["text"]
        assert text.startswith("<|im_start|>user\n") and text.endswith("<|im_start|>assistant\n")
        row = by_sha[hashlib.sha256(text.encode()).hexdigest()]
        assert set(row) == ROW_KEYS
    # an item shown both ways: label flipped, responses swapped
    pair = [r for r in rows if r["id"] == "item-0"]
    assert sorted(r["swapped"] for r in pair) == [False, True]
    plain, swapped = sorted(pair, key=lambda r: r["swapped"])
    assert plain["preference"] == -3 and swapped["preference"] == 3
    texts = {r["swapped"]: next(t["text"] for t in train if hashlib.sha256(t["text"].encode()).hexdigest()
                                == r["prompt_sha"]) for r in pair}
    assert texts[False].index("first answer 0") < texts[False].index("second answer 0")
    assert texts[True].index("second answer 0") < texts[True].index("first answer 0")
    assert plain["human_checklist"] == ["Response 1 states fact 0.", "Response 2 misses step 0."]
    saved = json.loads((run_dir / "results" / "prepare_summary.json").read_text())
    assert saved["train_prompts"] == 80
    assert saved["warnings"] == []


def test_prepare_is_deterministic_and_holds_out_val(make_spec, tmp_path):
    spec = make_spec(records(60))
    prepare_data(tmp_path / "a", spec)
    prepare_data(tmp_path / "b", spec)
    for name in ("train_prompts.jsonl", "val_prompts.jsonl", "ground_truth.jsonl"):
        assert (tmp_path / "a" / "data" / name).read_bytes() == (tmp_path / "b" / "data" / name).read_bytes()
    rows = read_jsonl(tmp_path / "a" / "data" / "ground_truth.jsonl")
    assert len(rows) == 60 and 10 < sum(r["swapped"] for r in rows) < 50
    for r in rows:
        original = [-3, -2, -1, 1, 2, 3][int(r["id"].split("-")[1]) % 6]
        assert r["preference"] == (-original if r["swapped"] else original)


def test_max_items_keeps_the_first_items_and_stops_reading(make_spec, tmp_path):
    summary = prepare_data(tmp_path / "r", make_spec(records(30), extra='swap = "none"\nmax_items = 8\n', eval_recs=[]))
    assert summary["train_prompts"] == 8 and summary["sources"][0].startswith("8 items loaded")
    rows = read_jsonl(tmp_path / "r" / "data" / "ground_truth.jsonl")
    assert [r["id"] for r in rows] == [f"item-{i}" for i in range(8)]


def test_unusable_items_are_dropped_and_counted(make_spec, tmp_path):
    recs = records(12)
    recs[0]["overall_preference"] = 0
    recs[1]["human-checklist"] = []
    summary = prepare_data(tmp_path / "r", make_spec(recs, extra='swap = "none"\n', eval_recs=[]))
    assert summary["dropped"] == {"tie (reward.tie_policy = skip)": 1, "no human checklist": 1}
    assert summary["train_prompts"] == 10
    assert "fewer than one validation batch" in summary["warnings"][0]  # data.eval is empty
    summary = prepare_data(tmp_path / "r2", make_spec(recs, extra='swap = "none"\n[reward]\ntie_policy = "half"\n'))
    assert "tie (reward.tie_policy = skip)" not in summary["dropped"]


def test_too_few_prompts_for_one_step_fail_clearly(make_spec, tmp_path):
    with pytest.raises(JobFailed, match="fewer than one step"):
        prepare_data(tmp_path / "r", make_spec(records(3), eval_recs=[]))


def test_policy_rlhf_prompts_are_the_conversation(tmp_path):
    write_jsonl(tmp_path / "p.jsonl", records(8))
    (tmp_path / "spec.toml").write_text(
        '[experiment]\nname = "pol"\nkind = "policy-rlhf"\n[judge]\nendpoint = "http://genrm:8000/v1"\n'
        '[policy]\ncheckpoint = "/p.nemo"\n[data]\ntrain = ["p.jsonl"]\neval = ["p.jsonl"]\n'
        '[rl]\nglobal_batch_size = 4\nmini_batch_size = 4\n[rl.nemo_aligner]\nrollout_micro_batch_size = 1\n[cluster]\ngpus_per_node = 1\n')
    spec = load_spec(tmp_path / "spec.toml")
    prepare_data(tmp_path / "run", spec)
    train = read_jsonl(tmp_path / "run" / "data" / "train_prompts.jsonl")
    assert train[0]["text"] == "<|im_start|>user\nQuestion 0?<|im_end|>\n<|im_start|>assistant\n"
    row = read_jsonl(tmp_path / "run" / "data" / "ground_truth.jsonl")[0]
    assert row["context"] == [{"role": "user", "content": "Question 0?"}] and row["reference"] == "first answer 0"


def test_reward_server_reads_the_prepared_table(make_spec, tmp_path):
    from rcstudio.serve.ground_truth import load_table

    spec = make_spec(records(20))
    prepare_data(tmp_path / "run", spec)
    rows, texts = load_table(tmp_path / "run" / "data")
    assert len(rows) == 20 and len(texts) == 20
    assert all(hashlib.sha256(t.encode()).hexdigest() in rows for t in texts)


def test_chatml_wrapping():
    assert chatml("hi") == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_compiled_job_prepare_step_through_the_cli(make_spec, tmp_path, capsys):
    from rcstudio.cli import main
    from rcstudio.compile import compile_run

    make_spec(records(10), eval_recs=records(2, start=50))
    run = expand(load_spec(tmp_path / "spec.toml"))[0]
    compiled = compile_run(run, tmp_path / "runs" / run.run_id)
    try:
        main(["run-job", "--run-dir", str(compiled.run_dir), "--step", "prepare"])
    except SystemExit as exc:
        assert exc.code in (0, None), capsys.readouterr()
    assert len(read_jsonl(compiled.run_dir / "data" / "train_prompts.jsonl")) == 10
    assert len(read_jsonl(compiled.run_dir / "data" / "val_prompts.jsonl")) == 2
