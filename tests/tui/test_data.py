"""Pure helpers behind the runs table."""

from __future__ import annotations

from types import SimpleNamespace

from rcstudio.tui.data import (
    BASE_COLUMNS,
    COLUMNS,
    WIDTHS,
    RunRow,
    eval_cell,
    filter_rows,
    format_elapsed,
    format_point,
    group_by_experiment,
    is_sweep_point,
    layout,
    row_cells,
    sort_rows,
    table_columns,
)


def rec(i, state="RUNNING", tags=(), point=None, started=100.0, ended=None, name=None):
    return SimpleNamespace(run_id=f"r-{i}", name=name or f"run-{i}", experiment="e", kind="eval", engine="",
                           executor="slurm", state=state, tags=list(tags), point=point or {}, created_at=float(i),
                           started_at=started, ended_at=ended)


def test_format_elapsed_and_point():
    assert format_elapsed(None) == "-"
    assert format_elapsed(59) == "0:59"
    assert format_elapsed(3600 + 61) == "1:01:01"
    assert format_elapsed(86400 * 2 + 3600) == "2d01h"
    assert format_point({"reward.alpha": 0.8, "rl.lr": 2e-6}) == "alpha=0.8 lr=2e-06"


def test_row_cells_elapsed_and_metrics():
    row = RunRow(rec(1, started=100.0), {"reward/total": 0.5, "eval/judgebench/micro": 71.25})
    at = {key: i for i, key in enumerate(COLUMNS)}
    cells = row_cells(row, now=190.0)
    assert cells[at["elapsed"]] == "1:30" and cells[at["reward/total"]] == "0.500"
    assert cells[at["reward/rationale"]] == "-" and cells[at["eval"]] == "judgebench/micro=71.250"
    assert cells[at["run_id"]] == "r-1"
    done = RunRow(rec(2, started=100.0, ended=130.0))
    assert row_cells(done, now=10_000.0)[at["elapsed"]] == "0:30"
    long = RunRow(rec(3, name="x" * 80))
    assert len(row_cells(long, 0)[0]) == WIDTHS[0] and row_cells(long, 0)[0].endswith("~")


def test_filter_words_tags_states():
    rows = [RunRow(rec(1, tags=["paper"], point={"reward.alpha": 0.5})), RunRow(rec(2, state="FAILED"))]
    assert [r.run_id for r in filter_rows(rows, "alpha=0.5")] == ["r-1"]
    assert [r.run_id for r in filter_rows(rows, "tag:paper")] == ["r-1"]
    assert [r.run_id for r in filter_rows(rows, "state:failed")] == ["r-2"]
    assert [r.run_id for r in filter_rows(rows, "run- slurm")] == ["r-1", "r-2"]
    assert filter_rows(rows, "nothing-matches") == []
    assert [r.run_id for r in filter_rows(rows, "", tag="paper")] == ["r-1"]


def test_sort_missing_values_last_both_ways():
    rows = [RunRow(rec(1), {"reward/total": 0.2}), RunRow(rec(2)), RunRow(rec(3), {"reward/total": 0.9})]
    assert [r.run_id for r in sort_rows(rows, "reward/total")] == ["r-1", "r-3", "r-2"]
    assert [r.run_id for r in sort_rows(rows, "reward/total", reverse=True)] == ["r-3", "r-1", "r-2"]
    assert [r.run_id for r in sort_rows(rows, "created", reverse=True)] == ["r-3", "r-2", "r-1"]


def test_layout_keeps_the_state_column_at_80_and_grows_to_content():
    columns = list(BASE_COLUMNS)
    narrow = [c.key for c, _ in layout(columns, 80, {"name": 10, "run_id": 19, "eval": 50})]
    assert {"name", "state", "run_id"} <= set(narrow)
    assert narrow.index("name") < narrow.index("state")  # display order is kept
    total = sum(w + 2 for _, w in layout(columns, 80, {"eval": 50})) + 3
    assert total <= 80
    content = {"name": 20, "run_id": 19, "kind": 4, "engine": 6, "point": 5, "executor": 5, "state": 9,
               "elapsed": 7, "reward/total": 7, "reward/rationale": 5, "eval": 55}
    wide = dict((c.key, w) for c, w in layout(columns, 160, content))
    assert wide["eval"] == 55 and wide["run_id"] == 19 and "state" in wide  # the eval cell is not cut at 160


def test_eval_cell_shows_judges_rc_whole():
    metrics = {"eval/hs3_atomic/evidence-judge/rc": 0.858, "eval/hs3_atomic/surface-judge/rc": 0.221,
               "eval/hs3_atomic/evidence-judge/ap": 0.863}
    assert eval_cell(metrics) == "hs3_atomic rc: evidence-judge=0.858 surface-judge=0.221"


def test_swept_values_are_columns_and_variants_are_not_points():
    point = SimpleNamespace(run_id="e-1", name="e-alpha0.5", experiment="e", point={"reward.alpha": 0.5})
    variant = SimpleNamespace(run_id="e-2", name="e-tiny-trl", experiment="e",
                              point={"rl.engine": "trl", "cluster.gpus_per_node": 0})
    assert is_sweep_point(point) and not is_sweep_point(variant)
    rows = [RunRow(rec(1, point={"reward.alpha": 0.5}, name="e-alpha0.5")),
            RunRow(rec(2, point={"rl.engine": "trl"}, name="e-tiny-trl"))]
    keys = [c.key for c in table_columns(rows)]
    assert "point:reward.alpha" in keys and "point" not in keys and "point:rl.engine" not in keys
    widths = [(c, 20) for c in table_columns(rows)]
    cells = dict(zip(keys, row_cells(rows[1], 0.0, widths)))
    assert cells["point:reward.alpha"] == "-"  # the variant is no sweep point
    grouped = group_by_experiment(rows)
    assert grouped[0].text() == "▾ e (2)" and grouped[0].states_text() == "run 2" and [r.run_id for r in grouped[1:]] == ["r-1", "r-2"]
