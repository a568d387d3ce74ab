"""Commands of this group: `tui` (the dashboard) and `compare` (metric curves of several runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rcstudio.cli.common import echo_json


def tui(
    runs_root: Optional[Path] = typer.Option(None, "--runs-root", help="Root of run directories (default: RCSTUDIO_RUNS)."),
    refresh: float = typer.Option(5.0, "--refresh", help="Seconds between refreshes of states and metrics."),
    screenshots: Optional[Path] = typer.Option(None, "--screenshots",
                                               help="Folder for `p` screenshots (default: RCSTUDIO_HOME/screenshots)."),
) -> None:
    """Open the terminal dashboard: runs, live states, metrics, logs, charts; `?` lists the keys."""
    from rcstudio.tui.app import run_tui

    run_tui(str(runs_root) if runs_root else None, refresh_s=refresh,
            screenshot_dir=str(screenshots) if screenshots else None)


def compare(
    runs: list[str] = typer.Argument(..., help="Runs: ids, unique names, EXPERIMENT/NAME, or .wandb files / run dirs."),
    metric: list[str] = typer.Option(..., "--metric", "-m", help="Metric key (W&B history or an eval result); repeatable."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write a plot (png, pdf, svg)."),
    csv_path: Optional[Path] = typer.Option(None, "--csv", help="Write run,run_id,metric,step,value rows."),
    samples: Optional[int] = typer.Option(None, "--samples", help="Downsample each curve to this many points."),
    as_json: bool = typer.Option(False, "--json", help="Print the curves as one JSON object."),
) -> None:
    """Overlay a metric of several runs, e.g. reward/rationale for alpha 0, 0.5, 0.8 and 1.

    Any key a run logged works, eval results too (eval/hs3_atomic/evidence-judge/rc); a run
    lacking it is listed and left out. A key no run has fails with the keys that exist."""
    from rcstudio.tracking.compare import (
        PLOT_FORMATS,
        check_output,
        compare_runs,
        plot,
        write_csv,
    )

    check_output(output, "--output", PLOT_FORMATS)
    check_output(csv_path, "--csv")
    registry = None
    if any(not Path(r).exists() for r in runs):  # run ids: looked up in the registry
        from rcstudio.launch.registry import Registry

        registry = Registry()
    result = compare_runs(runs, metric, samples, registry)
    curves = result.curves
    if output is not None:
        plot(curves, output)
    if csv_path is not None:
        write_csv(curves, csv_path)
    if as_json:
        payload = {
            "curves": [c.to_dict() for c in curves],
            "missing": result.missing,
            "available": result.available,
            "plot": str(output) if output else None,
            "csv": str(csv_path) if csv_path else None,
        }
        echo_json(payload, indent=None)
        return
    width = max([len(c.run) for c in curves] + [10])
    for c in curves:
        last = c.series.last()
        kind = "final" if c.scalar else f"points={len(c.series)}"
        typer.echo(f"{c.run:<{width}}  {c.metric:<24} {kind:<12} last={last if last is None else f'{last:.4f}'}")
    for key, lacking in result.missing.items():
        typer.echo(f"not in {len(lacking)} run(s) for {key}: {', '.join(lacking)}", err=True)
    if output is not None:
        typer.echo(f"plot: {output}")
    if csv_path is not None:
        typer.echo(f"csv: {csv_path}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("tui")(tui)
    app.command("compare")(compare)
