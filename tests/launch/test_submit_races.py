"""Concurrent and killed submits: identical submits at the same moment register exactly one run and
leave its dir intact; distinct ones with readers lose nothing; a killed submit's dir is cleaned by the
next submit and `rcstudio gc` finds and removes unowned run dirs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from rcstudio import paths
from rcstudio.launch import Poller, Registry
from rcstudio.launch.orphans import find_orphans
from rcstudio.launch.submit import execute_plan

from launch_helpers import trivial_plan

HERE = Path(__file__).resolve().parent

RACER = """
import os, sys, time
from pathlib import Path
sys.path.insert(0, {here!r})
from launch_helpers import trivial_plan
from rcstudio.errors import UserError
from rcstudio.launch.submit import execute_plan
spec, barrier, mode, executor = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
while not barrier.exists():
    time.sleep(0.002)
try:
    code = "import time; time.sleep(300)" if mode == "die-submitted" else "print('point done')"
    plan = trivial_plan(spec, code, executor=executor)
    if mode == "die":  # killed between claiming (dir written) and recording the run
        os.kill(os.getpid(), 9)
    if mode == "die-submitted":  # killed after the job was submitted, before its row was written
        from rcstudio.launch.registry import Registry
        Registry.add_runs = lambda *a, **k: os.kill(os.getpid(), 9)
    records = execute_plan(plan)
    print("WON", records[0].run_id, flush=True)
except UserError as exc:
    print("LOST", exc.render().replace("\\n", " "), flush=True)
"""


def _racers(spec: Path, n: int, tmp_path: Path, mode: str = "race",
            executor: str = "local") -> list[subprocess.CompletedProcess]:
    barrier = tmp_path / f"go-{mode}"
    script = tmp_path / "racer.py"
    script.write_text(RACER.format(here=str(HERE)))
    # Output goes to files, not pipes: a job a racer started keeps its inherited descriptors open.
    files = [(tmp_path / f"{mode}-{i}.out", tmp_path / f"{mode}-{i}.err") for i in range(n)]
    procs = []
    for out_path, err_path in files:
        with out_path.open("w") as out, err_path.open("w") as err:
            procs.append(subprocess.Popen([sys.executable, str(script), str(spec), str(barrier), mode, executor],
                                          stdout=out, stderr=err, stdin=subprocess.DEVNULL))
    time.sleep(1.5)  # let every racer import and spin on the barrier
    barrier.touch()
    results = []
    for p, (out_path, err_path) in zip(procs, files):
        p.wait(timeout=120)
        results.append(subprocess.CompletedProcess(p.args, p.returncode, out_path.read_text(), err_path.read_text()))
    return results


def test_six_identical_submits_register_one_run_and_keep_its_dir(write_spec, registry, tmp_path):
    spec = write_spec("race")
    results = _racers(spec, 6, tmp_path)
    assert all(r.returncode == 0 for r in results), [r.stderr[-2000:] for r in results]
    lines = [r.stdout.strip() for r in results]
    won = [ln for ln in lines if ln.startswith("WON")]
    assert len(won) == 1, lines
    lost = [ln for ln in lines if ln.startswith("LOST")]
    assert len(lost) == 5 and all("already" in ln for ln in lost), lines
    runs = registry.list_runs()
    assert len(runs) == 1 and won[0].split()[1] == runs[0].run_id
    assert registry.claims() == []
    final = Poller(registry).wait([runs[0].run_id], interval=0.2, timeout=90)
    assert final[0].state == "COMPLETED"
    run_dir = Path(runs[0].run_dir)
    assert (run_dir / "launch.json").is_file() and (run_dir / "submission.json").is_file()
    assert "point done" in (run_dir / "logs" / "stdout.log").read_text()
    assert find_orphans(registry) == []


def test_thirty_distinct_submits_with_readers_are_all_recorded_once(write_spec, registry):
    specs = [write_spec(f"many{i}") for i in range(30)]
    errors: list[BaseException] = []
    seen: list[list[int]] = [[], []]
    stop = threading.Event()

    def submit(path: Path) -> None:
        try:
            execute_plan(trivial_plan(path, executor="local"), Registry())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def read(counts: list[int]) -> None:
        reader = Registry()
        while not stop.is_set():
            counts.append(len(reader.list_runs()))

    readers = [threading.Thread(target=read, args=(counts,)) for counts in seen]
    writers = [threading.Thread(target=submit, args=(p,)) for p in specs]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join(timeout=180)
    stop.set()
    for t in readers:
        t.join()
    assert errors == []
    runs = registry.list_runs()
    assert len(runs) == 30 and len({r.run_id for r in runs}) == 30
    assert sorted(r.experiment for r in runs) == sorted(f"many{i}" for i in range(30))
    for counts in seen:  # every reader kept reading, and never saw a row vanish
        assert counts and counts == sorted(counts)
    Poller(registry).wait([r.run_id for r in runs], interval=0.5, timeout=180)


def test_a_killed_submit_is_cleaned_by_the_next_and_gc_removes_unowned_dirs(write_spec, registry, tmp_path):
    spec = write_spec("killed")
    (died,) = _racers(spec, 1, tmp_path, mode="die")
    assert died.returncode == -signal.SIGKILL
    (claim,) = registry.claims()
    assert Path(claim.run_dir).is_dir() and registry.list_runs() == []
    gc_list = subprocess.run([sys.executable, "-m", "rcstudio", "gc", "--dry-run", "--json"],
                             capture_output=True, text=True, env=os.environ)
    listed = json.loads(gc_list.stdout)
    assert [o["path"] for o in listed["orphans"]] == [claim.run_dir] and listed["removed"] == []
    assert "killed submit" in listed["orphans"][0]["reason"]

    plan = trivial_plan(spec, executor="local")  # the next submit of the same spec adopts the id
    assert [str(o.path) for o in plan.reaped] == [claim.run_dir]
    records = execute_plan(plan, registry)
    assert records[0].run_dir == claim.run_dir and registry.claims() == []
    Poller(registry).wait([records[0].run_id], interval=0.2, timeout=60)

    stray = paths.runs_root() / "killed" / "killed-0123abcd"  # a run dir no row and no claim owns
    (stray / "logs").mkdir(parents=True)
    foreign = paths.runs_root() / "killed" / "notes"  # not a run dir: never touched
    foreign.mkdir()
    (paths.runs_root() / "killed" / "killed-89abcdef" / "mine").mkdir(parents=True)  # run-like name, foreign files
    gc = subprocess.run([sys.executable, "-m", "rcstudio", "gc"], capture_output=True, text=True, env=os.environ)
    assert gc.returncode == 0 and f"removed: {stray}" in gc.stdout, gc.stdout + gc.stderr
    assert not stray.exists() and Path(records[0].run_dir).is_dir()
    assert foreign.is_dir() and (paths.runs_root() / "killed" / "killed-89abcdef" / "mine").is_dir()


def test_jobs_of_a_submit_killed_before_recording_are_cancelled_by_the_next(write_spec, registry, tmp_path):
    spec = write_spec("killedjob")
    (died,) = _racers(spec, 1, tmp_path, mode="die-submitted")
    assert died.returncode == -signal.SIGKILL
    (claim,) = registry.claims()
    ((executor, job_id, _mode, _folder),) = claim.job_refs
    assert executor == "local" and int(job_id) > 0
    os.kill(int(job_id), 0)  # the submitted job runs, owned by no row
    plan = trivial_plan(spec, executor="local")
    assert [o.path for o in plan.reaped] == [Path(claim.run_dir)]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(int(job_id), 0)
        except ProcessLookupError:
            break
        if Path(f"/proc/{job_id}/stat").read_text().split()[2] == "Z":
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"job {job_id} of the killed submit still runs")
    Poller(registry).wait([r.run_id for r in execute_plan(plan, registry)], interval=0.2, timeout=60)
