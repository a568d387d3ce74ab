"""Run commands: submit, ls, status, logs, cancel, resubmit, export.

Thin: parse, call rcstudio.launch, print. `--json` prints one object on stdout and nothing else.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Optional

import typer

from rcstudio.cli.common import SET_HELP, echo_json
from rcstudio.errors import JobFailed, UserError

EXECUTORS = ("auto", "local", "slurm")
SHOWN = 20  # rows of the table `submit` prints


def _when(ts: float | None) -> str:
    return time.strftime("%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def _duration(record) -> str:
    if not record.started_at:
        return "-"
    seconds = int((record.ended_at or time.time()) - record.started_at)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _job_label(record) -> str:
    return record.scheduler_id or "-"


_STATE_STYLE = {"COMPLETED": "green", "RUNNING": "cyan", "PENDING": "yellow", "FAILED": "red",
                "CANCELLED": "magenta", "TIMEOUT": "red", "UNKNOWN": "dim"}


def _runs_table(records, title: str | None = None):
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for col in ("run", "name", "kind", "executor", "job", "state", "runtime", "created"):
        table.add_column(col, no_wrap=col in ("run", "job", "state"))
    for r in records:
        style = _STATE_STYLE.get(r.state, "")
        table.add_row(r.run_id, r.name, r.kind + (f"/{r.engine}" if r.engine else ""), r.executor,
                      _job_label(r), f"[{style}]{r.state}[/]" if style else r.state, _duration(r), _when(r.created_at))
    return table


def _console():
    from rich.console import Console

    return Console()


def _wait(records, as_json: bool):
    """Block until every run ends, with a live progress display (none with --json)."""
    from rcstudio.launch import Poller

    poller = Poller()
    ids = [r.run_id for r in records]
    if as_json:
        return poller.wait(ids, interval=1.0)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[states]}"), TimeElapsedColumn(), console=_console()) as progress:
        task = progress.add_task("runs finished", total=len(ids), states="")

        def update(runs):
            counts: dict[str, int] = {}
            for r in runs:
                counts[r.state] = counts.get(r.state, 0) + 1
            progress.update(task, completed=sum(r.finished for r in runs),
                            states=" ".join(f"{k.lower()}={v}" for k, v in sorted(counts.items())))

        return poller.wait(ids, interval=1.0, on_update=update)


def submit(
    spec: Path = typer.Argument(..., help="Spec file (TOML)."),
    set_: list[str] = typer.Option([], "--set", help=SET_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="Compile and show what would run; submit nothing."),
    executor: Optional[str] = typer.Option(None, "--executor", "-e",
                                           help="auto | local | slurm (default: the spec's cluster.executor)."),
    force: bool = typer.Option(False, "--force", help="Submit even if an identical spec was submitted (new ids)."),
    wait: bool = typer.Option(False, "--wait", help="Block until every run ends; exit 1 if one did not complete."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
) -> None:
    """Compile a spec and submit its runs (a sweep goes to Slurm as ONE job array)."""
    from rcstudio.launch import Registry
    from rcstudio.launch.submit import execute_plan, plan_spec

    if executor is not None and executor not in EXECUTORS:
        raise UserError(f"unknown executor {executor!r}", key="--executor", hint="auto, local or slurm")
    registry = Registry()
    plan = plan_spec(spec, set_, executor, force, registry)
    if plan.skipped and not as_json:
        _console().print(f"{len(plan.skipped)} run(s) of this spec already exist and are not submitted again: "
                         + ", ".join(f"{r.run_id} ({r.state.lower()})" for r in plan.skipped[:SHOWN])
                         + (" ..." if len(plan.skipped) > SHOWN else ""), markup=False, highlight=False)
    if dry_run:
        described = plan.describe()
        plan.discard()
        if as_json:
            echo_json({"dry_run": True, **described})
            return
        out = _console()
        out.print(f"[bold]dry run[/]: {len(described['runs'])} run(s) via {described['executor']}, "
                  f"{described['submissions']} submission(s)"
                  + (f", job array(s) of {described['arrays']}" if described["arrays"] else ""))
        for item in described["runs"][:SHOWN]:
            res = item["resources"]
            out.print(f"  {item['run_id']}  {item['name']}  [dim]{item['mode']}[/]")
            out.print(f"    {item['launch']}", markup=False, highlight=False)
            out.print(f"    nodes={res['nodes']} gpus/node={res['gpus_per_node']} cpus={res['cpus_per_task']} "
                      f"time={res['time'] or '-'} partition={res['partition'] or '-'}", markup=False)
        if len(described["runs"]) > SHOWN:
            out.print(f"  ... and {len(described['runs']) - SHOWN} more (--json lists every run)")
        out.print("nothing submitted; `rcstudio compile SPEC --out DIR` keeps the compiled files")
        return
    records = execute_plan(plan, registry)
    jobs = sorted({r.job_id for r in records if r.job_id}, key=str)
    if not as_json:
        out = _console()
        out.print(f"submitted {len(records)} run(s) via {plan.executor.name}: job(s) {', '.join(jobs)}")
        out.print(_runs_table(records[:SHOWN]))
        if len(records) > SHOWN:
            out.print(f"... and {len(records) - SHOWN} more (rcstudio ls --experiment {records[0].experiment})")
    if wait:
        records = _wait(records, as_json)
    if as_json:
        echo_json({"executor": plan.executor.name, "jobs": jobs, "runs": [r.to_dict() for r in records],
                   "skipped": [r.run_id for r in plan.skipped]})
    if wait:
        bad = [r for r in records if r.state != "COMPLETED"]
        if not as_json:
            out = _console()
            out.print(_runs_table(records[:SHOWN], title="final states"))
            from rcstudio.engines.results import benchmark_table, results_table

            for table in (results_table([r.run_dir for r in records[:SHOWN]]),
                          benchmark_table([r.run_dir for r in records[:SHOWN]])):
                if table is not None:
                    out.print(table)
        if bad:
            raise JobFailed(f"{len(bad)} of {len(records)} run(s) did not complete: "
                            + ", ".join(f"{r.run_id} {r.state}" for r in bad)
                            + f" (see `rcstudio logs {bad[0].run_id} --err`)")


def ls(
    experiment: Optional[str] = typer.Option(None, "--experiment", "-x", help="Only this experiment."),
    state: Optional[str] = typer.Option(None, "--state", "-s", help="Only this state (e.g. RUNNING)."),
    tag: Optional[str] = typer.Option(None, "--tag", "-t", help="Only runs with this tag."),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", help="At most this many (newest first)."),
    refresh: bool = typer.Option(True, "--refresh/--no-refresh", help="Ask the executors for current states first."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
) -> None:
    """List runs, newest first (states refreshed with one batched sacct/squeue call)."""
    from rcstudio.launch import STATES, Poller, Registry

    if state is not None and state.upper() not in STATES:
        raise UserError(f"unknown state {state!r}", key="--state", hint=", ".join(STATES))
    registry = Registry()
    if refresh:
        Poller(registry).refresh()
    records = registry.list_runs(experiment=experiment, state=state, tag=tag, limit=limit)
    if as_json:
        echo_json({"runs": [r.to_dict() for r in records]})
        return
    if not records:
        typer.echo("no runs" + (" match" if (experiment or state or tag) else " yet: rcstudio submit SPEC"))
        return
    _console().print(_runs_table(records))


def status(
    run: str = typer.Argument(..., help="Run id, a unique prefix of it, or a unique run name."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
) -> None:
    """Show one run: state, job, times, paths, W&B reference."""
    from rcstudio.launch import Poller, Registry
    from rcstudio.launch.actions import log_path

    registry = Registry()
    record = registry.get(run)
    Poller(registry).refresh([record])
    record = registry.get(record.run_id)
    job = registry.get_job(record.job_id) if record.job_id else None
    logs = {"stdout": str(log_path(record, registry=registry)), "stderr": str(log_path(record, True, registry))}
    if as_json:
        echo_json({"run": record.to_dict(), "job": job.__dict__ if job else None, "logs": logs})
        return
    rows = [
        ("run", record.run_id), ("name", record.name), ("experiment", record.experiment),
        ("kind", record.kind + (f" / {record.engine}" if record.engine else "")), ("state", record.state),
        ("executor", record.executor), ("job", _job_label(record) + (f" ({job.mode})" if job else "")),
        ("created", _when(record.created_at)), ("started", _when(record.started_at)),
        ("ended", _when(record.ended_at)), ("runtime", _duration(record)),
        ("point", json.dumps(record.point, sort_keys=True) if record.point else "-"),
        ("tags", ", ".join(record.tags) or "-"), ("run dir", record.run_dir),
        ("stdout", logs["stdout"]), ("stderr", logs["stderr"]),
        ("wandb", " ".join(f"{k}={v}" for k, v in record.wandb.items() if v) or "-"),
    ]
    from rich.table import Table

    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, str(value))
    _console().print(table)


def logs(
    run: str = typer.Argument(..., help="Run id, a unique prefix of it, or a unique run name."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing until the run ends."),
    err: bool = typer.Option(False, "--err", help="The command's stderr instead of stdout."),
) -> None:
    """Print a run's log (the command's stdout, or stderr with --err)."""
    from rcstudio.launch import Poller, Registry
    from rcstudio.launch.actions import follow as follow_file
    from rcstudio.launch.actions import log_path

    registry = Registry()
    record = registry.get(run)
    path = log_path(record, err, registry)
    if not follow:
        if not path.exists():
            raise UserError(f"no log yet at {path}", key="RUN",
                            hint=f"the run is {record.state}; try again later or use --follow")
        sys.stdout.write(path.read_text(errors="replace"))
        return
    poller = Poller(registry)

    def done() -> bool:
        current = registry.get(record.run_id)
        if not current.finished:
            poller.refresh([current])
            current = registry.get(record.run_id)
        return current.finished

    for chunk in follow_file(path, done):
        sys.stdout.write(chunk)
        sys.stdout.flush()


def cancel(
    runs: list[str] = typer.Argument(..., help="Run ids (or unique prefixes)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
) -> None:
    """Cancel runs (scancel for Slurm; a sweep's other array tasks keep running)."""
    from rcstudio.launch import Registry
    from rcstudio.launch.actions import cancel_run

    registry = Registry()
    records = [registry.get(r) for r in runs]
    done = [cancel_run(r, registry) for r in records]
    if as_json:
        echo_json({"cancelled": [r.run_id for r in done]})
        return
    for r in done:
        typer.echo(f"cancelled {r.run_id} (job {_job_label(r)})")


def resubmit(
    run: str = typer.Argument(..., help="Run id (or unique prefix) of a finished run."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
) -> None:
    """Submit a finished run again from its compiled directory (same run id, new job)."""
    from rcstudio.launch import Registry
    from rcstudio.launch.actions import resubmit_run

    registry = Registry()
    record = resubmit_run(registry.get(run), registry)
    if as_json:
        echo_json({"run": record.to_dict()})
        return
    typer.echo(f"resubmitted {record.run_id} as job {_job_label(record)} ({record.executor})")


def export(
    run: str = typer.Argument(..., help="Run id (or unique prefix)."),
    dest: Path = typer.Argument(..., help="Directory to write (new or empty)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
) -> None:
    """Bundle a run to share or rerun: resolved spec, compiled files, versions, git commit, README."""
    from rcstudio.launch import Registry
    from rcstudio.launch.export import export_run

    record = Registry().get(run)
    written = export_run(record, dest)
    if as_json:
        echo_json({"run_id": record.run_id, "dir": str(dest), "files": [str(p) for p in written]})
        return
    typer.echo(f"exported {record.run_id} to {dest}: " + ", ".join(p.name for p in written))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command()(submit)
    app.command("ls")(ls)
    app.command()(status)
    app.command()(logs)
    app.command()(cancel)
    app.command()(resubmit)
    app.command()(export)
