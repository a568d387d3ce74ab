"""`rcstudio eval judgebench|rmbench|arena-hard` (re-score stored outputs) and `rcstudio report`.

Thin: parse, call `rcstudio.evals`, print. `--json` prints one object on stdout and nothing else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rcstudio.cli.common import echo_json
from rcstudio.errors import UserError

eval_app = typer.Typer(
    name="eval",
    help="Score judge outputs on RM-Bench, JudgeBench and Arena-Hard v2 the way their authors do.",
    no_args_is_help=True,
)


def _table(title: str, columns: list[str], rows: list[list[object]]) -> None:
    from rich.table import Table

    from rcstudio.cli.common import console as make_console

    table = Table(title=title)
    for i, c in enumerate(columns):
        if i == 0:
            table.add_column(c, justify="left", overflow="fold", min_width=16)
        else:
            table.add_column(c, justify="right", no_wrap=True)
    for r in rows:
        table.add_row(*[f"{v:.2f}" if isinstance(v, float) else str(v) for v in r])
    make_console().print(table)


@eval_app.command("judgebench")
def judgebench_cmd(
    decisions: Path = typer.Option(..., "--decisions", help="JSONL: pair_id, decisions=[original order, swapped order]"),
    data: Optional[Path] = typer.Option(None, "--data", help="JudgeBench split the labels and sources come from"),
    judge: Optional[str] = typer.Option(None, "--judge", help="only this judge (when the file holds several)"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object on stdout"),
) -> None:
    """JudgeBench: both orders, swapped decision flipped back, correct iff counter > 0."""
    from rcstudio.cli.progress_ui import phases
    from rcstudio.evals import judgebench

    with phases(enabled=not as_json) as ph, ph.step(f"scoring JudgeBench decisions in {decisions}"):
        results = judgebench.score_file(decisions, data=data, judge=judge)
    if as_json:
        if len(results) == 1:
            echo_json(next(iter(results.values())).to_json())
        else:
            echo_json({"judges": {name: r.to_json() for name, r in results.items()}})
        return
    cols = ["judge", "know.", "reas.", "math", "coding", "micro", "macro", "incons.", "ties", "fail."]
    rows = [[name or "(judge)", *[r.categories.get(c, float("nan")) for c in judgebench.CATEGORIES],
             r.micro, r.macro, r.inconsistent, r.ties, r.failures] for name, r in results.items()]
    _table("JudgeBench (%)", cols, rows)


@eval_app.command("rmbench")
def rmbench_cmd(
    scores: Path = typer.Option(..., "--scores", help="JSON/JSONL: id, domain|subset, score_chosen, score_rejected"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object on stdout"),
) -> None:
    """RM-Bench: 3x3 style matrix per prompt, strict wins, hard/normal/easy, safety pooled."""
    from rcstudio.cli.progress_ui import phases
    from rcstudio.evals import rmbench

    with phases(enabled=not as_json) as ph, ph.step(f"scoring RM-Bench matrices in {scores}"):
        result = rmbench.score_file(scores)
    if as_json:
        echo_json(result.to_json())
        return
    rows = [[d, s.hard, s.normal, s.easy, s.score, s.n] for d, s in result.domains.items()]
    rows.append(["overall", result.hard, result.normal, result.easy, result.overall, sum(s.n for s in result.domains.values())])
    _table("RM-Bench (%)", ["domain", "hard", "normal", "easy", "score", "n"], rows)


@eval_app.command("arena-hard")
def arena_hard_cmd(
    judgments: Path = typer.Option(..., "--judgments", help="JSONL: uid, category, games=[game 1, game 2]"),
    seed: int = typer.Option(0, "--seed", help="bootstrap RNG seed"),
    bootstrap: int = typer.Option(100, "--bootstrap", min=10, help="bootstrap resamples"),
    style_control: bool = typer.Option(False, "--style-control", help="Bradley-Terry with length/markdown features"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object on stdout"),
) -> None:
    """Arena-Hard v2: two games vs the baseline, strong verdicts x3, bootstrap 5-95% interval."""
    from rcstudio.cli.progress_ui import phases
    from rcstudio.evals import arena_hard

    with phases(enabled=not as_json) as ph, ph.step(f"scoring Arena-Hard games in {judgments} ({bootstrap} bootstrap rounds)"):
        result = arena_hard.score_file(judgments, seed=seed, n_boot=bootstrap, style_control=style_control)
    if as_json:
        echo_json(result.to_json())
        return
    rows = [[c, s.score, s.ci_low, s.ci_high, s.n, s.dropped] for c, s in result.categories.items()]
    title = "Arena-Hard v2 win rate vs baseline (%)" + (" - style controlled" if style_control else "")
    _table(title, ["category", "score", "ci_low", "ci_high", "n", "dropped"], rows)


def registry_lookup(ref: str) -> tuple[str, str, Path]:
    """(run id, name, run dir) of a registry run reference, for `evals.report.load_rows`."""
    from rcstudio.launch.registry import Registry

    record = Registry().get(ref)
    return record.run_id, record.name or record.experiment, Path(record.run_dir)


def report_cmd(
    runs: list[str] = typer.Argument(..., help="registry run ids (or unique prefixes) or run directories"),
    fmt: str = typer.Option("text", "--format", help="text | markdown | csv"),
    plot: Optional[Path] = typer.Option(None, "--plot", help="also write a grouped bar chart (PNG) here"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object on stdout"),
) -> None:
    """The paper's table 2: RM-Bench chat/math/code/safety/overall, JudgeBench categories/overall, total."""
    from rcstudio.evals import report

    if fmt not in report.FORMATS:
        raise UserError(f"unknown format {fmt!r}", key="--format", hint="use text, markdown or csv")
    rows = [row for r in runs for row in report.load_rows(r, registry_lookup)]
    if plot is not None:
        from rcstudio.evals.plots import plot_table2

        plot_table2(rows, plot)
    if as_json:
        echo_json({"rows": [r.to_json() for r in rows]})
        return
    typer.echo(report.render(rows, fmt), nl=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(eval_app, name="eval")
    app.command("report")(report_cmd)
