"""Pure helpers behind the runs table."""

from __future__ import annotations

from types import SimpleNamespace

from rcstudio.tui.data import RunRow, filter_rows, format_elapsed, format_point, row_cells, sort_rows


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
    cells = row_cells(row, now=190.0)
    assert cells[6] == "1:30" and cells[7] == "0.500" and cells[8] == "-" and cells[9] == "judgebench/micro=71.250"
    done = RunRow(rec(2, started=100.0, ended=130.0))
    assert row_cells(done, now=10_000.0)[6] == "0:30"
    long = RunRow(rec(3, name="x" * 80))
    assert len(row_cells(long, 0)[0]) == 34 and row_cells(long, 0)[0].endswith("~")


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
