"""Data preparation inside NeMo-Aligner jobs: prompt JSONL, ground-truth table, swaps with flipped labels."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from rcstudio.engines.prepare import chatml, orders, prepare_data, split_val, swap_decision
from rcstudio.errors import JobFailed
from rcstudio.spec import expand, load_spec

ROW_KEYS = {"prompt_sha", "id", "domain", "preference", "swapped", "human_checklist", "split"}


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
def make_spec(tmp_path, prep_tokenizer_dir):
    def _make(train_recs, extra: str = "", eval_recs=None, overrides=(), val_items=6, rl_extra=""):
        train = write_jsonl(tmp_path / "train.jsonl", train_recs)
        eval_line = ""
        if eval_recs is not None:
            eval_line = f'eval = ["{write_jsonl(tmp_path / "val.jsonl", eval_recs)}"]\n'
        text = (f'[experiment]\nname = "prep"\n[judge]\nmodel = "meta-llama/Llama-3.1-8B-Instruct"\n'
                f'tokenizer = "{prep_tokenizer_dir}"\ncheckpoint = "/c.nemo"\n'
                f'[data]\ntrain = ["{train}"]\nval_items = {val_items}\n{eval_line}{extra}\n'
                '[rl]\nglobal_batch_size = 4\nmini_batch_size = 4\n' + rl_extra +
                '[rl.nemo_aligner]\nrollout_micro_batch_size = 1\n'
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


class _Item:
    def __init__(self, item_id: str) -> None:
        self.id = item_id


def test_split_val_holds_out_by_item_id_seeded():
    items = [_Item(f"id{i}") for i in range(100)]
    train, val = split_val(items, 3, 7)
    assert len(val) == 7 and not {i.id for i in train} & {i.id for i in val} and len(train) == 93
    # the slice depends on the ids and the seed, not on the order of the file
    _, val_rev = split_val(list(reversed(items)), 3, 7)
    assert {i.id for i in val_rev} == {i.id for i in val}
    assert {i.id for i in split_val(items, 4, 7)[1]} != {i.id for i in val}
    # every copy of a held-out id is held out; at least one item stays for training
    dup = items[:3] + [_Item(val[0].id)]
    assert len(split_val(dup, 3, 10)[0]) >= 1
    only, none = split_val([_Item("a")], 3, 5)
    assert (len(only), none) == (1, [])


def test_prepare_writes_prompts_and_ground_truth(make_spec, tmp_path):
    spec = make_spec(records(40), extra='swap = "both"\n', eval_recs=records(6, start=100))
    run_dir = tmp_path / "run"
    summary = prepare_data(run_dir, spec)
    train = read_jsonl(run_dir / "data" / "train_prompts.jsonl")
    val = read_jsonl(run_dir / "data" / "val_prompts.jsonl")
    rows = read_jsonl(run_dir / "data" / "ground_truth.jsonl")
    # validation = 6 of the 40 training items held out by id (data.eval is an evaluation split)
    assert (len(train), len(val), len(rows)) == (68, 12, 80)
    assert summary["swapped"] == 40
    assert {r["split"] for r in rows} == {"train", "val"} and sum(r["split"] == "val" for r in rows) == 12
    assert not any(r["id"].startswith("item-10") and int(r["id"][5:]) >= 100 for r in rows)
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
    assert saved["train_prompts"] == 68
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
    summary = prepare_data(tmp_path / "r", make_spec(records(30), extra='swap = "none"\nmax_items = 8\n', eval_recs=[],
                                                      val_items=2))
    assert summary["train_prompts"] == 6 and summary["sources"][0].startswith("8 items loaded")
    rows = read_jsonl(tmp_path / "r" / "data" / "ground_truth.jsonl")
    assert sorted(r["id"] for r in rows) == [f"item-{i}" for i in range(8)]


def test_unusable_items_are_dropped_and_counted(make_spec, tmp_path):
    recs = records(12)
    recs[0]["overall_preference"] = 0
    recs[1]["human-checklist"] = []
    summary = prepare_data(tmp_path / "r", make_spec(recs, extra='swap = "none"\n', eval_recs=[]))
    assert summary["dropped"] == {"tie (reward.tie_policy = skip)": 1, "no human checklist": 1}
    assert summary["train_prompts"] + summary["val_prompts"] == 10
    assert summary["over_max_prompt_tokens"] == {"train": 0, "val": 0}
    summary = prepare_data(tmp_path / "r2", make_spec(recs, extra='swap = "none"\n[reward]\ntie_policy = "half"\n'))
    assert "tie (reward.tie_policy = skip)" not in summary["dropped"]


def test_too_few_prompts_for_one_step_fail_clearly(make_spec, tmp_path):
    with pytest.raises(JobFailed, match="fewer than one step"):
        prepare_data(tmp_path / "r", make_spec(records(3), eval_recs=[]))


def test_policy_rlhf_prompts_are_the_conversation(tmp_path, prep_tokenizer_dir):
    write_jsonl(tmp_path / "p.jsonl", records(8))
    (tmp_path / "spec.toml").write_text(
        '[experiment]\nname = "pol"\nkind = "policy-rlhf"\n[judge]\nendpoint = "http://genrm:8000/v1"\n'
        f'tokenizer = "{prep_tokenizer_dir}"\n'
        '[policy]\ncheckpoint = "/p.nemo"\n[data]\ntrain = ["p.jsonl"]\nval_items = 2\n'
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

    make_spec(records(10), eval_recs=records(2, start=50), val_items=2)
    run = expand(load_spec(tmp_path / "spec.toml"))[0]
    compiled = compile_run(run, tmp_path / "runs" / run.run_id)
    try:
        main(["run-job", "--run-dir", str(compiled.run_dir), "--step", "prepare"])
    except SystemExit as exc:
        assert exc.code in (0, None), capsys.readouterr()
    assert len(read_jsonl(compiled.run_dir / "data" / "train_prompts.jsonl")) == 8
    assert len(read_jsonl(compiled.run_dir / "data" / "val_prompts.jsonl")) == 2
    # 8 prompts // 4 per step = 2 steps per epoch, x 2 epochs, x 1 optimizer step per step (256/128
    # scaled down: global 4 / mini 4); validation: 2 prompts in whole batches of 1 x DP 1
    assert (compiled.run_dir / "data" / "actor_overrides.txt").read_text().splitlines() == [
        "++model.optim.sched.max_steps=4", "model.reinforce.num_val_samples=2"]


def test_prompts_over_the_budget_are_dropped_and_counted_per_split(make_spec, tmp_path, prep_tokenizer_dir):
    from transformers import AutoTokenizer

    from rcstudio.tokens import count_prompt_tokens

    recs = records(12)
    for i in range(12):  # every third item gets a long context
        if i % 3 == 0:
            recs[i]["context"] = [{"role": "user", "content": "Question about answers " * 150}]
    tok = AutoTokenizer.from_pretrained(prep_tokenizer_dir)
    # first without a binding budget: measure what the judge's tokenizer counts for each prompt
    wide = prepare_data(tmp_path / "wide", make_spec(recs, extra='swap = "none"\n', val_items=4,
                                                      rl_extra="max_prompt_tokens = 1000000\n"))
    assert wide["over_max_prompt_tokens"] == {"train": 0, "val": 0}
    rows = {r["prompt_sha"]: r["id"] for r in read_jsonl(tmp_path / "wide" / "data" / "ground_truth.jsonl")}
    by_id = {}
    for s in ("train", "val"):
        for line in read_jsonl(tmp_path / "wide" / "data" / f"{s}_prompts.jsonl"):
            by_id[rows[hashlib.sha256(line["text"].encode()).hexdigest()]] = count_prompt_tokens(tok, line["text"], chat=False)
    limit = max(n for i, n in by_id.items() if int(i.split("-")[1]) % 3)
    assert min(n for i, n in by_id.items() if int(i.split("-")[1]) % 3 == 0) > limit
    spec = make_spec(recs, extra='swap = "none"\n', val_items=4, rl_extra=f"max_prompt_tokens = {limit}\n")
    summary = prepare_data(tmp_path / "r", spec)
    texts = {s: [row["text"] for row in read_jsonl(tmp_path / "r" / "data" / f"{s}_prompts.jsonl")] for s in ("train", "val")}
    counts = [count_prompt_tokens(tok, x, chat=False) for s in texts for x in texts[s]]
    assert counts and max(counts) <= limit
    rows = read_jsonl(tmp_path / "r" / "data" / "ground_truth.jsonl")
    long_ids = {f"item-{i}" for i in range(0, 12, 3)}
    assert not long_ids & {r["id"] for r in rows}
    over = summary["over_max_prompt_tokens"]
    assert over["train"] + over["val"] == 4 and summary["train_prompts"] + summary["val_prompts"] == 8
    assert over["val"] == len(long_ids & {it for it in _held_out(recs, spec)})


def _held_out(recs, spec):
    from rcstudio.engines.prepare import val_rank

    return sorted((r["id"] for r in recs), key=lambda i: val_rank(i, spec.data.seed))[: spec.data.val_items]


def test_fewer_validation_prompts_than_a_batch_fail_in_prep(make_spec, tmp_path):
    # 1 validation prompt < rollout_micro_batch_size 2 x DP 1 (the compile check uses the same rule)
    spec = make_spec(records(12), extra='swap = "none"\n', val_items=1)
    na = spec.rl.nemo_aligner.model_copy(update={"rollout_micro_batch_size": 2})
    spec = spec.model_copy(update={"rl": spec.rl.model_copy(update={"nemo_aligner": na})})
    from rcstudio.engines.nemo_aligner.prep import prepare_actor_data

    with pytest.raises(JobFailed, match="fewer than one validation rollout batch"):
        prepare_actor_data(tmp_path / "r", spec)
