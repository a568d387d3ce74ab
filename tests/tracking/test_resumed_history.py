"""One run = one continuous history: a job resumed under the same W&B id writes a second
offline-run dir; the reader, `rcstudio compare` and the dashboard's source read both as one run."""

from __future__ import annotations

import time

from rcstudio.spec.models import Spec
from rcstudio.tracking.compare import collect
from rcstudio.tracking.offline import OfflineSource, wait_finished


def _attempt(spec, run_dir, steps, scale):
    from rcstudio.tracking.wandb_log import init_run

    run = init_run(spec, run_dir, run_dir.name, "train", "resumed")
    for step in steps:
        run.log({"reward/total": scale * step}, step=step)
    run.summary.update({"attempt": scale})
    run.finish()


def test_two_attempts_of_one_run_read_as_one_history(tmp_path):
    spec = Spec.model_validate({"experiment": {"name": "resumed"}, "tracking": {"mode": "offline"}})
    run_dir = tmp_path / "resumed-aaaa1111"
    run_dir.mkdir()
    _attempt(spec, run_dir, [1, 2, 3], 1.0)
    wait_finished(run_dir, "resumed-aaaa1111")
    time.sleep(1.1)  # wandb names offline dirs by the second
    _attempt(spec, run_dir, [3, 4, 5], 10.0)  # resumed from the step-2 checkpoint: step 3 redone
    dirs = sorted((run_dir / "wandb").glob("offline-run-*"))
    assert len(dirs) == 2  # what wandb does on resume="allow" offline

    deadline = time.monotonic() + 60
    while True:
        source = OfflineSource([run_dir])
        [ref] = source.runs()
        if source.state(ref) == "finished" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    hist = source.history(ref, ["reward/total"])["reward/total"]
    assert list(hist.steps) == [1, 2, 3, 4, 5]
    assert list(hist.values) == [1.0, 2.0, 30.0, 40.0, 50.0]  # the resumed attempt's step 3
    assert source.summary(ref)["attempt"] == 10.0 and source.summary(ref)["reward/total"] == 50.0

    [curve] = collect([str(run_dir)], ["reward/total"])
    assert list(curve.series.steps) == [1, 2, 3, 4, 5]
