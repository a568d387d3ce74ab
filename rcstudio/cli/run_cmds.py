"""Run commands: submit, ls, status, logs, cancel, resubmit, export, gc.

Thin: parse, call rcstudio.launch, print. `--json` prints one object on stdout and nothing else.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Optional

import typer

from rcstudio.cli.common import RUN_HELP, RUNS_HELP, SET_HELP, complete_run, echo_json
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
    from rcstudio.cli.common import console as make_console

    return make_console()


def _wait(records, as_json: bool):
    """Block until every run ends, with a live progress display (none with --json): one bar for
    the runs finished and one per run (its step / total from `logs/progress.json`, the file jobs
    write through rcstudio.tracking.progress; the first SHOWN runs)."""
    from rcstudio.launch import Poller

    poller = Poller()
    ids = [r.run_id for r in records]
    if as_json:
        return poller.wait(ids, interval=1.0)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from rcstudio.tracking.progress import read_progress

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[states]}", markup=False), TimeElapsedColumn(),
                  console=_console()) as progress:
        task = progress.add_task("runs finished", total=len(ids), states="")
        per_run: dict[str, int] = {}

        def update(runs):
            counts: dict[str, int] = {}
            for r in runs:
                counts[r.state] = counts.get(r.state, 0) + 1
            progress.update(task, completed=sum(r.finished for r in runs),
                            states=" ".join(f"{k.lower()}={v}" for k, v in sorted(counts.items())))
            for r in runs[:SHOWN]:
                state = read_progress(r.run_dir)
                if state is None and r.run_id not in per_run:
                    continue
                if r.run_id not in per_run:
                    per_run[r.run_id] = progress.add_task(f"  {r.name}", total=None, states="")
                info = r.state.lower()
                if state is not None:
                    info = f"{info}  {state.line()}"
                    progress.update(per_run[r.run_id], total=state.total or None, completed=state.step)
                    if r.state == "COMPLETED" and state.total:
                        progress.update(per_run[r.run_id], completed=state.total)
                progress.update(per_run[r.run_id], states=info)

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
    yes: bool = typer.Option(False, "--yes", "-y", help="Submit a large sweep without asking."),
) -> None:
    """Compile a spec and submit its runs (a sweep of command runs goes to Slurm as ONE job array).

    NeMo-Aligner runs are heterogeneous jobs, one submission per sweep point: Slurm has no arrays of
    hetjobs. A run that no node of its partition can hold is refused before anything is submitted."""
    from rich.markup import escape

    from rcstudio.launch import Registry
    from rcstudio.launch.submit import CONFIRM_RUNS, execute_plan, plan_spec

    if executor is not None and executor not in EXECUTORS:
        raise UserError(f"unknown executor {executor!r}", key="--executor", hint="auto, local or slurm")

    def confirm(n: int) -> None:
        if yes or dry_run or n <= CONFIRM_RUNS:
            return
        question = f"{spec} submits {n} runs (a run dir and a registry row each). Continue?"
        if sys.stdin is None or not sys.stdin.isatty():
            raise UserError(f"this spec submits {n} runs, more than {CONFIRM_RUNS}; nothing was written",
                            file=str(spec), key="sweep",
                            hint="pass --yes to submit them all (no terminal to ask on), or --dry-run to list them")
        if not typer.confirm(question, default=False, err=True):
            raise UserError(f"not submitted ({n} runs declined)", file=str(spec), key="sweep")

    registry = Registry()
    plan = plan_spec(spec, set_, executor, force, registry, confirm=confirm, dry_run=dry_run)
    if plan.reaped and not as_json:
        _console().print(f"cleaned {len(plan.reaped)} run dir(s) left by killed submits: "
                         + ", ".join(str(o.path) for o in plan.reaped[:SHOWN]), markup=False, highlight=False)
    if plan.skipped and not as_json and not dry_run:
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
            seen = item.get("exists")
            note = f"  [yellow]already submitted ({seen['state'].lower()}): not submitted again[/]" if seen else ""
            out.print(f"  {escape(item['run_id'])}  {escape(item['name'])}  [dim]{item['mode']}[/]{note}")
            out.print(f"    {item['launch']}", markup=False, highlight=False)
            out.print(f"    nodes={res['nodes']} gpus/node={res['gpus_per_node']} cpus={res['cpus_per_task']} "
                      f"time={res['time'] or '-'} partition={res['partition'] or '-'}", markup=False)
        if len(described["runs"]) > SHOWN:
            out.print(f"  ... and {len(described['runs']) - SHOWN} more (--json lists every run)")
        if plan.executor.name == "slurm":
            from rcstudio.launch.partitions import misfit, query_partitions

            partitions = query_partitions()
            for prepared in plan.runs:
                found = misfit(prepared.plan, partitions)
                if found:
                    out.print(f"[red]would be refused[/]: {prepared.run.run_id} {escape(found[1])} "
                              f"({found[0]}); {escape(found[2])}")
        if described["skipped"]:
            n = len(described["skipped"])
            out.print(f"{n} run(s) already submitted: `submit` would skip them (all of them: refuse), "
                      "--force submits them again under new ids")
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
            from rcstudio.engines.dispatch import failure_reason

            reasons = [(r, failure_reason(r.run_dir)) for r in bad]
            lines = "".join(f"\n  {r.run_id} {r.state}: {why}" for r, why in reasons[:SHOWN] if why)
            raise JobFailed(f"{len(bad)} of {len(records)} run(s) did not complete: "
                            + ", ".join(f"{r.run_id} {r.state}" for r in bad)
                            + f" (see `rcstudio logs {bad[0].run_id} --err`)" + lines)


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
    run: str = typer.Argument(..., help=RUN_HELP, autocompletion=complete_run),
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
    logs = {"stdout": str(log_path(record, registry=registry)), "stderr": str(log_path(record, True, registry)),
            "job": str(Path(record.run_dir) / "logs" / "run-job.log")}
    from rcstudio.tracking.progress import read_progress

    progress = read_progress(record.run_dir)
    if as_json:
        echo_json({"run": record.to_dict(), "job": job.__dict__ if job else None, "logs": logs,
                   "progress": progress.__dict__ if progress else None})
        return
    rows = [
        ("run", record.run_id), ("name", record.name), ("experiment", record.experiment),
        ("kind", record.kind + (f" / {record.engine}" if record.engine else "")), ("state", record.state),
        ("executor", record.executor), ("job", _job_label(record) + (f" ({job.mode})" if job else "")),
        ("created", _when(record.created_at)), ("started", _when(record.started_at)),
        ("ended", _when(record.ended_at)), ("runtime", _duration(record)),
        ("point", json.dumps(record.point, sort_keys=True) if record.point else "-"),
        ("tags", ", ".join(record.tags) or "-"), ("run dir", record.run_dir),
        ("progress", progress.line() if progress else "-"),
        ("job log", logs["job"]), ("stdout", logs["stdout"]), ("stderr", logs["stderr"]),
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
    run: str = typer.Argument(..., help=RUN_HELP, autocompletion=complete_run),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing until the run ends."),
    err: bool = typer.Option(False, "--err", help="The error streams (command stderr, scheduler .err) instead."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout: every log file with its text."),
) -> None:
    """Print a run's output: job log, command stdout and scheduler output (--err: the error streams).

    The job log is logs/run-job.log (every step and its outcome); the command's stdout is
    logs/stdout.log (or the hetjob script's --output); the scheduler's files are submitit's
    *_log.out / *_log.err, which hold a failure to start the command at all."""
    from rcstudio.launch import Poller, Registry
    from rcstudio.launch.logs import follow as follow_files
    from rcstudio.launch.logs import render, run_log_files, select

    registry = Registry()
    record = registry.get(run)
    files = run_log_files(record, registry)
    if as_json:
        echo_json({"run_id": record.run_id, "state": record.state,
                   "files": [f.to_dict() for f in files]})
        return
    chosen = select(files, err)
    if not follow:
        text = render(chosen)
        if not text:
            other = render(select(files, not err))
            if other:
                note = "it wrote only to " + ("its output: drop --err" if err else "its error streams: add --err")
            else:
                note = f"the run is {record.state}" + ("" if record.finished else "; --follow waits for it")
            sys.stderr.write(f"{record.run_id}: no {'error ' if err else ''}output ({note})\n")
            return
        sys.stdout.write(text)
        if record.state == "FAILED" and not err and render(select(files, True)):
            sys.stderr.write(f"(the run FAILED; `rcstudio logs {record.run_id} --err` shows its error output)\n")
        return
    poller = Poller(registry)

    def done() -> bool:
        current = registry.get(record.run_id)
        if not current.finished:
            poller.refresh([current])
            current = registry.get(record.run_id)
        return current.finished

    def discover():
        return select(run_log_files(registry.get(record.run_id), registry), err)

    for chunk in follow_files(chosen, done, discover=discover):
        sys.stdout.write(chunk)
        sys.stdout.flush()


def cancel(
    runs: list[str] = typer.Argument(..., help=RUNS_HELP, autocompletion=complete_run),
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
    run: str = typer.Argument(..., help="A finished run: " + RUN_HELP, autocompletion=complete_run),
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
    run: str = typer.Argument(..., help=RUN_HELP, autocompletion=complete_run),
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


def gc(
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list the orphan run directories."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
) -> None:
    """List and remove run directories no registry row owns (left by killed submits)."""
    from rcstudio.launch import Registry
    from rcstudio.launch.orphans import find_orphans, remove_orphans

    registry = Registry()
    orphans = find_orphans(registry)
    removed = [] if dry_run else remove_orphans(registry, orphans)
    if as_json:
        echo_json({"orphans": [{"path": str(o.path), "reason": o.reason} for o in orphans],
                   "removed": [str(o.path) for o in removed]})
        return
    if not orphans:
        typer.echo("no orphan run directories")
        return
    done = {o.path for o in removed}
    for o in orphans:
        status = "removed" if o.path in done else ("orphan" if dry_run else "kept (claimed meanwhile)")
        typer.echo(f"{status}: {o.path} ({o.reason})")
    if dry_run:
        typer.echo(f"{len(orphans)} orphan run dir(s); `rcstudio gc` removes them")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command()(submit)
    app.command("ls")(ls)
    app.command()(status)
    app.command()(logs)
    app.command()(cancel)
    app.command()(resubmit)
    app.command()(export)
    app.command()(gc)
