"""The end-of-run results table reads what eval and training jobs write."""

from __future__ import annotations

import json

from rich.console import Console

from rcstudio.engines.results import results_table, rows_for


def _metric(mean, lo=None, hi=None):
    return {"mean": mean, "ci_low": lo if lo is not None else mean, "ci_high": hi if hi is not None else mean, "n": 40}


def test_rows_from_eval_and_training_results(tmp_path):
    ev = tmp_path / "quickstart-aaaa1111"
    (ev / "results").mkdir(parents=True)
    judges = {name: {"items": 40, "valid": 40, "oa": _metric(0.775), "rc": _metric(rc, rc - 0.04, rc + 0.03),
                     "ap": _metric(rc), "reward": _metric(rc * 0.7)}
              for name, rc in (("surface-judge", 0.221), ("evidence-judge", 0.858))}
    (ev / "results" / "summary.json").write_text(json.dumps({"benchmarks": {"hs3-atomic": judges}}))
    tr = tmp_path / "quickstart-bbbb2222"
    (tr / "results").mkdir(parents=True)
    (tr / "results" / "train_summary.json").write_text(json.dumps({
        "global_step": 2, "prompts": 40,
        "last_rewards": {"reward/total": 0.25, "reward/outcome": 0.5, "reward/format_error_rate": 0.5}}))
    empty = tmp_path / "nothing-yet"
    empty.mkdir()

    rows = rows_for(ev)
    assert [r.subject for r in rows] == ["evidence-judge", "surface-judge"]
    assert rows[0].rc == 0.858 and rows[0].rc_ci == (0.818, 0.888) and rows[1].oa == 0.775
    [train] = rows_for(tr)
    assert train.subject == "train (step 2, last)" and train.reward == 0.25 and train.format_errors == 0.5
    (tr / "results" / "train_summary.json").write_text(json.dumps({
        "global_step": 2, "prompts": 40, "reward_steps": 2,
        "last_rewards": {"reward/total": 0.0, "reward/outcome": 0.0},
        "mean_rewards": {"reward/total": 0.125, "reward/outcome": 0.5, "reward/rc": 0.31}}))
    [train] = rows_for(tr)  # the run's means, not a last batch of format errors read as zeros
    assert train.subject == "train (step 2, mean of 2 steps)" and train.reward == 0.125 and train.rc == 0.31
    assert rows_for(empty) == [] and results_table([empty]) is None

    console = Console(record=True, width=140)
    console.print(results_table([ev, tr, empty]))
    text = console.export_text()
    assert "evidence-judge" in text and "0.858" in text and "[0.82, 0.89]" in text and "train (step 2, mean of 2 steps)" in text


def test_names_with_brackets_are_shown_as_written(tmp_path):
    """Run and judge names go into rich cells escaped: a `[` in a name is text, not markup."""
    import json

    from rich.console import Console

    from rcstudio.engines.results import results_table

    run_dir = tmp_path / "run[bold]x"
    (run_dir / "results").mkdir(parents=True)
    metric = {"mean": 0.5, "ci_low": 0.4, "ci_high": 0.6}
    summary = {"benchmarks": {"hs3-atomic": {"judge[red]": {"items": 2, "oa": metric, "rc": metric, "ap": metric}}}}
    (run_dir / "results" / "summary.json").write_text(json.dumps(summary))
    console = Console(record=True, width=200)
    console.print(results_table([run_dir]))
    text = console.export_text()
    assert "judge[red]" in text and "[0.40, 0.60]" in text


def test_a_run_with_no_valid_items_renders_dashes_not_a_crash(tmp_path):
    """Zero valid items: every mean and CI bound is None (was `NoneType.__format__` in `submit --wait`)."""
    ev = tmp_path / "allfail-cccc3333"
    (ev / "results").mkdir(parents=True)
    empty = {"mean": None, "ci_low": None, "ci_high": None, "n": 0}
    judge = {"items": 4, "valid": 0, "oa": empty, "rc": empty, "ap": empty, "reward": empty}
    (ev / "results" / "summary.json").write_text(json.dumps({"benchmarks": {"hs3-atomic": {"j": judge}},
                                                             "failed": ["j: 0 of 4 items valid"]}))
    (row,) = rows_for(ev)
    assert row.rc is None and row.rc_ci is None and row.items == 0
    console = Console(width=160, record=True)
    console.print(results_table([ev]))
    assert "allfail-cccc3333" in console.export_text()
