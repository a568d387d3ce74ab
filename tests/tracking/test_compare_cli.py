"""`rcstudio compare`: registry runs and paths, PNG + CSV + JSON, user errors exit 2."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from rcstudio.launch.registry import Registry, RunRecord
from rcstudio.tracking.synthetic import curves, write_run
from rcstudio.spec.models import Spec
from rcstudio.tracking.wandb_log import wandb_link


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("cmp")
    dirs = {}
    for alpha in (0.0, 1.0):
        rid = f"cmp-a{alpha:g}"
        write_run(root / rid, rid, alpha=alpha, steps=30)
        dirs[alpha] = root / rid
    return dirs


def cli(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rcstudio", *args], capture_output=True, text=True, env=env)


def test_compare_paths_png_csv_json(sweep, tmp_path):
    png, table = tmp_path / "out.png", tmp_path / "out.csv"
    res = cli("compare", str(sweep[0.0]), str(sweep[1.0]), "--metric", "reward/rationale",
              "--metric", "reward/outcome", "-o", str(png), "--csv", str(table), "--json")
    assert res.returncode == 0, res.stderr
    payload = json.loads(res.stdout)
    assert [(c["run"], c["metric"]) for c in payload["curves"]] == [
        ("cmp-a0", "reward/rationale"), ("cmp-a0", "reward/outcome"),
        ("cmp-a1", "reward/rationale"), ("cmp-a1", "reward/outcome")]
    first = payload["curves"][0]
    assert first["steps"] == list(range(30))
    assert first["values"] == [curves(s, 30, 0.0)["reward/rationale"] for s in range(30)]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader(table.open()))
    assert len(rows) == 4 * 30 and rows[0]["run"] == "cmp-a0" and float(rows[0]["value"]) == first["values"][0]


def test_compare_registry_ids(sweep, tmp_path):
    reg = Registry()
    spec = Spec.model_validate({"experiment": {"name": "cmp", "kind": "eval"}, "tracking": {"mode": "offline"}})
    reg.add_runs([
        RunRecord(run_id=f"cmp-a{a:g}", name=f"cmp-alpha{a:g}", experiment="cmp", kind="genrm-train", engine="trl",
                  executor="local", state="COMPLETED", created_at=1.0 + a, updated_at=1.0, started_at=1.0,
                  ended_at=2.0, run_dir=str(d), spec_hash=f"h{a}", point={"reward.alpha": a},
                  wandb=wandb_link(spec, d, f"cmp-a{a:g}"))
        for a, d in sweep.items()
    ])
    res = cli("compare", "cmp-a0", "cmp-a1", "-m", "reward/total", "--samples", "10", "--json")
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)["curves"]
    assert [c["run"] for c in got] == ["cmp-alpha0", "cmp-alpha1"] and all(len(c["values"]) <= 10 for c in got)


def test_compare_user_errors(sweep):
    res = cli("compare", str(sweep[0.0]), "--metric", "reward/nope")
    assert res.returncode == 2 and "reward/nope" in res.stderr and "Traceback" not in res.stderr
    res = cli("compare", "no-such-run", "--metric", "reward/total")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    res = cli("compare", str(sweep[0.0]), "-m", "reward/total", "-o", "/nonexistent-dir/x.png")
    assert res.returncode == 2 and "does not exist" in res.stderr
    res = cli("compare", str(sweep[0.0]), "-m", "reward/total", "-o", "plot.gif")
    assert res.returncode == 2 and ".png" in res.stderr


def test_compare_eval_result_and_run_lacking_the_key(sweep, tmp_path):
    """A key one run lacks is listed, not fatal; eval results (final values) compare too; a key
    no run has fails with the keys that exist."""
    import json as _json

    eval_dir = tmp_path / "evalrun"
    (eval_dir / "results").mkdir(parents=True)
    (eval_dir / "results" / "summary.json").write_text(_json.dumps({"metrics": {"eval/hs3_atomic/j/rc": 0.86}}))
    write_run(eval_dir, "evalrun", alpha=0.5, steps=3)
    png = tmp_path / "mixed.png"
    res = cli("compare", str(sweep[0.0]), str(eval_dir), "-m", "eval/hs3_atomic/j/rc", "-m", "reward/total",
              "-o", str(png), "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["missing"] == {"eval/hs3_atomic/j/rc": ["cmp-a0"]}
    (final,) = [c for c in doc["curves"] if c["metric"] == "eval/hs3_atomic/j/rc"]
    assert final["scalar"] is True and final["values"] == [0.86]
    assert "reward/total" in doc["available"]["cmp-a0"] and png.read_bytes()[:4] == b"\x89PNG"
    text = cli("compare", str(sweep[0.0]), str(eval_dir), "-m", "eval/hs3_atomic/j/rc")
    assert text.returncode == 0 and "not in 1 run(s) for eval/hs3_atomic/j/rc: cmp-a0" in text.stderr
    res = cli("compare", str(sweep[0.0]), "-m", "reward/totl")
    assert res.returncode == 2 and "keys these runs have:" in res.stderr and "reward/total" in res.stderr
