"""Registry rows resolve to their W&B runs: actor `X` and reward server `X-rm` together."""

from __future__ import annotations

from types import SimpleNamespace

from rcstudio.tracking.links import Linker, wandb_url
from rcstudio.tracking.offline import wait_finished
from rcstudio.tracking.synthetic import write_run
from rcstudio.spec.models import Spec
from rcstudio.tracking.wandb_log import init_run, wandb_link

SPEC_DATA = {"experiment": {"name": "lk", "kind": "eval"}, "tracking": {"mode": "offline", "project": "rcstudio"}}
SPEC = Spec.model_validate(SPEC_DATA)


def record(run_dir, run_id, mode="offline"):
    link = wandb_link(Spec.model_validate(dict(SPEC_DATA, tracking={"mode": mode, "project": "rcstudio", "entity": "lab"})),
                      run_dir, run_id)
    return SimpleNamespace(run_id=run_id, run_dir=str(run_dir), wandb=link, finished=True)


def test_actor_and_reward_server_link_together(tmp_path):
    write_run(tmp_path, "lk-1", alpha=0.8, steps=20, summary={"eval/judgebench/micro": 70.0})
    rm = init_run(SPEC, tmp_path, "lk-1-rm", "reward-server")
    for step in range(7):
        rm.log({"matcher/latency_ms": 10.0 + step}, step=step)
    rm.finish()
    wait_finished(tmp_path, "lk-1-rm")
    linker = Linker()
    rec = record(tmp_path, "lk-1")
    linked = linker.link(rec)
    assert [r.id for r in linked.refs] == ["lk-1", "lk-1-rm"]
    latest = linker.latest(rec, keys=("reward/total", "matcher/latency_ms"))
    assert latest["matcher/latency_ms"] == 16.0 and latest["eval/judgebench/micro"] == 70.0
    assert latest["_wandb_state"] == "finished"
    hist = linker.history(rec, ["reward/total", "matcher/latency_ms"])
    assert len(hist["reward/total"]) == 20 and list(hist["matcher/latency_ms"].steps) == list(range(7))


def test_disabled_and_missing_runs(tmp_path):
    linker = Linker()
    assert linker.latest(record(tmp_path, "none-1", mode="disabled")) == {}
    assert linker.link(record(tmp_path, "nothing-yet")).refs == []  # job not started: no W&B run yet
    assert linker.history(record(tmp_path, "nothing-yet"), ["reward/total"]) == {}


def test_wandb_url():
    assert wandb_url(record("/r/x", "x-1", mode="online")) == "https://wandb.ai/lab/rcstudio/runs/x-1"
    assert wandb_url(record("/r/x", "x-1")) == "/r/x/wandb"
