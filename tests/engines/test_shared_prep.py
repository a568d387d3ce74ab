"""One training-data preparation for every engine: same items kept, same per-item-id swaps for the
same data.seed, same ground truth - checked on each registered engine's own training rows."""

from __future__ import annotations

import json

import pytest

from rcstudio.engines import registry
from rcstudio.engines.prepare import training_prompts
from rcstudio.evals.hs3_atomic import judge_tasks
from rcstudio.rationale.data import load_pairs
from rcstudio.spec import expand, load_spec


def _pairs(quickstart_pairs, path, drop_ids=()):
    """The shipped sample with the cases engines used to treat differently: items without a human
    checklist, ties, and an item without a preference label."""
    out = []
    for line in quickstart_pairs.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        if rec["id"] in drop_ids:
            continue
        n = int(rec["id"].rsplit("-", 1)[1])
        if n == 2:
            rec["human-checklist"] = []
        if n == 3:
            rec["overall_preference"] = 0
        if rec["id"] == "code-04":
            rec.pop("overall_preference")
        out.append(rec)
    path.write_text("".join(json.dumps(r) + "\n" for r in out), encoding="utf-8")
    return path


def _spec(tmp_path, train, swap="random", seed=7, extra=""):
    (tmp_path / "spec.toml").write_text(f"""
[experiment]
name = "prep"
[judge]
checkpoint = "/c.nemo"
chat_format = "none"
top_k = 0
[data]
train = ["{train}"]
swap = "{swap}"
seed = {seed}
[rl]
global_batch_size = 4
mini_batch_size = 4
rollouts_per_prompt = 2
[rl.nemo_aligner]
rollout_micro_batch_size = 1
[cluster]
gpus_per_node = 1
{extra}""")
    return load_spec(tmp_path / "spec.toml")


def _rows_per_engine(spec, tmp_path):
    out = {}
    for name in registry.names():
        run_spec = expand(spec.model_copy(update={"rl": spec.rl.model_copy(update={
            "engine": name, "algorithm": registry.algorithms()[name][0]})}))[0].spec
        work = tmp_path / f"work-{registry.table_of(name)}"
        work.mkdir()
        out[name] = registry.get(name).training_rows(run_spec, work)
    return out


@pytest.mark.parametrize("swap", ["random", "both", "none"])
def test_every_engine_trains_on_the_same_prompts_swaps_and_ground_truth(quickstart_pairs, tmp_path, swap):
    spec = _spec(tmp_path, _pairs(quickstart_pairs, tmp_path / "pairs.jsonl"), swap=swap)
    rows = _rows_per_engine(spec, tmp_path)
    first, *others = rows.values()
    assert first, "no training rows"
    for name, engine_rows in rows.items():
        assert engine_rows == first, f"engine {name} trains on other rows than {next(iter(rows))}"
    ids = {r["id"] for r in first}
    # items without a human checklist, ties (tie_policy = skip) and unlabelled items are not trained on
    assert not ids & {"general-02", "stem-02", "general-03", "code-04"}
    if swap == "random":
        assert 0 < sum(r["swapped"] for r in first) < len(first)
    for r in first:
        assert "Response A" in r["prompt"] or "## Response A" in r["prompt"]


def test_swaps_are_decided_per_item_id(quickstart_pairs, tmp_path):
    """Adding or removing items changes no other item's order; the seed changes them."""
    full = training_prompts(_spec(tmp_path, _pairs(quickstart_pairs, tmp_path / "a.jsonl")))
    (tmp_path / "fewer").mkdir()
    fewer = training_prompts(_spec(tmp_path / "fewer", _pairs(quickstart_pairs, tmp_path / "b.jsonl",
                                                              drop_ids=("general-01", "code-05", "stem-07"))))
    swaps = {p.id: p.swapped for p in full.train + full.val}
    assert all(swaps[p.id] == p.swapped for p in fewer.train + fewer.val)
    (tmp_path / "seed").mkdir()
    other = training_prompts(_spec(tmp_path / "seed", tmp_path / "a.jsonl", seed=8))
    assert {p.id: p.swapped for p in other.train + other.val} != swaps


def test_live_eval_prompts_use_the_same_swaps(quickstart_pairs, tmp_path):
    spec = _spec(tmp_path, _pairs(quickstart_pairs, tmp_path / "a.jsonl"))
    train = {p.id: p for p in training_prompts(spec).train}
    items = [it for it in load_pairs(str(tmp_path / "a.jsonl")).items if it.id in train]
    tasks, copies = judge_tasks(items, 0, "rcstudio-genrm-v1", "random", spec.data.seed)
    for task, copy in zip(tasks, copies):
        p = train[copy.id]
        assert copy.extra["swapped"] == p.swapped
        assert task.messages[0]["content"] == p.prompt  # the same judge prompt text
