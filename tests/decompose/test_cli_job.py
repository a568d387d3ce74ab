"""`rcstudio decompose` (incl. --audit) and the `kind = "data"` job, against the loopback stub."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rcstudio.cli import main
from rcstudio.errors import UserError
from rcstudio.engines.decompose_job import run_decompose_job
from rcstudio.rationale.decompose.store import rejected_path


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


def cli_ok(args, capsys):
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code or 0, captured.out, captured.err


def test_cli_json_summary_and_secret_never_written(stub, hs3_file, tmp_path, capsys, monkeypatch):
    secret = "sk-test-SECRET-0123456789"
    monkeypatch.setenv("MY_LLM_KEY", secret)
    out = tmp_path / "checklists.jsonl"
    code, stdout, stderr = cli_ok(["decompose", "--data", str(hs3_file), "--out", str(out), "--endpoint", stub.base_url,
                                   "--model", "decomposer", "--api-key-env", "MY_LLM_KEY", "--max-retries", "0", "--json",
                                   "--plot", str(tmp_path / "hist.png")], capsys)
    assert code == 0, stderr
    payload = json.loads(stdout)  # one JSON object, nothing else on stdout
    assert (payload["kept"], payload["filtered"], payload["failed"]) == (5, 4, 1)
    assert payload["output"] == str(out) and payload["rejected"] == str(rejected_path(out))
    assert payload["mean_items_kept"] == pytest.approx(3.4)
    assert (tmp_path / "hist.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for path in (out, rejected_path(out)):
        assert secret not in path.read_text()
    assert secret not in stdout + stderr
    home = os.environ["RCSTUDIO_HOME"]
    for root, _, files in os.walk(home):
        for name in files:
            assert secret.encode() not in open(os.path.join(root, name), "rb").read()


def test_cli_tables_and_bounds_flags(stub, hs3_file, tmp_path, capsys):
    out = tmp_path / "c.jsonl"
    code, stdout, _ = cli_ok(["decompose", "--data", str(hs3_file), "--out", str(out), "--endpoint", stub.base_url,
                              "--model", "decomposer", "--min-items", "1", "--max-items", "0"], capsys)
    assert code == 0
    assert "items per pair" in stdout and "mean items per kept pair" in stdout
    assert "rerun the same command" in stdout  # the malformed pair failed
    kept = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(kept) == 7 and max(len(r["human-checklist"]) for r in kept) == 12


def test_cli_user_errors_exit_2_without_traceback(hs3_file, tmp_path):
    env = {**os.environ}
    proc = subprocess.run([sys.executable, "-m", "rcstudio", "decompose", "--data", str(hs3_file), "--out", str(tmp_path / "o.jsonl")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    assert "error:" in proc.stderr and "--endpoint" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o.jsonl").exists()


def test_cli_missing_input_is_user_error(stub, tmp_path, capsys):
    code, _, err = run_cli(["decompose", "--data", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o.jsonl"),
                            "--endpoint", stub.base_url, "--model", "m"], capsys)
    assert code == 2 and "input file not found" in err


def test_audit_of_source_and_of_output(stub, hs3_file, tmp_path, capsys):
    out = tmp_path / "c.jsonl"
    cli_ok(["decompose", "--data", str(hs3_file), "--out", str(out), "--endpoint", stub.base_url, "--model", "decomposer"], capsys)
    calls = stub.calls
    # auditing the source file: the sampled pairs come from the reply cache, side by side
    md = tmp_path / "audit.md"
    code, stdout, _ = cli_ok(["decompose", "--data", str(hs3_file), "--audit", "4", "--seed", "3", "--out", str(md),
                              "--endpoint", stub.base_url, "--model", "decomposer", "--json"], capsys)
    assert code == 0
    result = json.loads(stdout)
    assert result["sampled"] == 4 and result["total"] == 10 and len(set(result["ids"])) == 4
    text = md.read_text()
    assert text.count("| source reasoning | resulting items |") == 4 and "seed 3" in text
    assert "- [ ] faithful" in text
    # same seed, same sample; the malformed pair (if sampled) is the only one asked again
    code, stdout2, _ = cli_ok(["decompose", "--data", str(hs3_file), "--audit", "4", "--seed", "3", "--out", str(md),
                               "--endpoint", stub.base_url, "--model", "decomposer", "--json"], capsys)
    assert json.loads(stdout2)["ids"] == result["ids"] and md.read_text() == text
    # auditing the checklist file needs no endpoint and makes no calls
    calls = stub.calls
    md2 = tmp_path / "audit-out.md"
    code, stdout, _ = cli_ok(["decompose", "--data", str(out), "--audit", "10", "--out", str(md2), "--json"], capsys)
    assert code == 0 and stub.calls == calls
    text2 = md2.read_text()
    assert text2.count("## ") == 5  # all kept pairs
    assert "**Annotator 1** (-3): @Response 1 names Canberra correctly." in text2
    assert "1. Response 1 names Canberra correctly" in text2
    assert "'Response 1 is more helpful': generic preference" in text2


def _write_spec(tmp_path, hs3_file, endpoint: str, output: str, tracking: str = "disabled") -> object:
    from rcstudio.spec.load import load_spec

    path = tmp_path / "data.toml"
    path.write_text(f"""
[experiment]
name = "hs3-decompose"
kind = "data"

[decompose]
input = "{hs3_file}"
output = "{output}"
min_items = 3
max_items = 7

[reward.matcher]
endpoint = "{endpoint}"
model = "decomposer"
max_retries = 0

[tracking]
mode = "{tracking}"
""")
    return load_spec(path)


def test_data_job_writes_output_and_summary(stub, hs3_file, tmp_path):
    out = tmp_path / "shared-data" / "hs3-checklists.jsonl"
    spec = _write_spec(tmp_path, hs3_file, stub.base_url, str(out))
    run_dir = tmp_path / "run"
    summary = run_decompose_job(run_dir, spec, progress=False)
    assert summary["kept"] == 5 and out.exists()
    stored = json.loads((run_dir / "results" / "decompose_summary.json").read_text())
    assert stored["output"] == str(out) and stored["kept"] == 5 and stored["model"] == "decomposer"
    assert (run_dir / "results" / "decompose_items_hist.png").stat().st_size > 1000
    # the output feeds a training / eval spec by path
    from rcstudio.rationale.data import load_pairs

    assert len(load_pairs(str(out)).items) == 5


def test_data_job_without_endpoint_is_user_error(hs3_file, tmp_path):
    spec = _write_spec(tmp_path, hs3_file, "", str(tmp_path / "o.jsonl"))
    with pytest.raises(UserError, match="endpoint"):
        run_decompose_job(tmp_path / "run", spec)
    assert not (tmp_path / "o.jsonl").exists()


def test_job_reads_llm_keys_the_schema_allows(hs3_file, tmp_path):
    """The job takes its LLM from [reward.matcher]; [decompose] rejects LLM keys (exit-2 error at the
    key), and the missing-endpoint hint names only a key the schema accepts."""
    from rcstudio.engines.decompose_job import llm_config_from_spec
    from rcstudio.spec.load import load_spec
    from rcstudio.spec.models import DecomposeSection

    spec = _write_spec(tmp_path, hs3_file, "http://127.0.0.1:9/v1", str(tmp_path / "o.jsonl"))
    cfg = llm_config_from_spec(spec)
    m = spec.reward.matcher
    assert (cfg.base_url, cfg.model, cfg.concurrency, cfg.max_retries) == (m.endpoint, "decomposer", m.concurrency, 0)
    for key in ("endpoint", "model", "concurrency", "api_key_env"):
        assert key not in DecomposeSection.model_fields
    bad = tmp_path / "bad.toml"
    bad.write_text((tmp_path / "data.toml").read_text().replace("[decompose]\n", '[decompose]\nendpoint = "http://x/v1"\n'))
    with pytest.raises(UserError) as err:
        load_spec(bad)
    assert "decompose.endpoint" in err.value.render()
    empty = _write_spec(tmp_path, hs3_file, "", str(tmp_path / "o.jsonl"))
    with pytest.raises(UserError) as err:
        llm_config_from_spec(empty)
    assert err.value.location.key == "reward.matcher.endpoint" and "decompose.endpoint" not in (err.value.hint or "")


@pytest.mark.slow
def test_compiled_data_run_executes_through_run_job(stub, hs3_file, tmp_path, monkeypatch):
    """spec -> compile_run -> `rcstudio run-job --run-dir` (a real process, as the job runs it)."""
    from rcstudio.compile import compile_run
    from rcstudio.spec import expand

    secret = "sk-run-job-SECRET-42"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    out = tmp_path / "hs3-checklists.jsonl"
    spec = _write_spec(tmp_path, hs3_file, stub.base_url, str(out), tracking="offline")
    (run,) = expand(spec)
    run_dir = tmp_path / "runs" / run.run_id
    compiled = compile_run(run, run_dir)
    assert compiled.plan.mode == "command" and compiled.plan.argv[:4] == [sys.executable, "-m", "rcstudio", "run-job"]
    proc = subprocess.run([*compiled.plan.argv, "--json"], cwd=run_dir,
                          capture_output=True, text=True, timeout=300, env={**os.environ})
    assert proc.returncode == 0, proc.stderr[-2000:]
    stored = json.loads((run_dir / "results" / "decompose_summary.json").read_text())
    assert (stored["kept"], stored["filtered"], stored["failed"]) == (5, 4, 1)
    assert len(out.read_text().splitlines()) == 5
    assert json.loads(proc.stdout)["kept"] == 5  # run-job --json prints the job's summary
    offline = list((run_dir / "wandb").glob("offline-run-*/run-*.wandb"))
    assert offline, "the job logs its counts to an offline W&B run"
    from rcstudio.tracking.offline import OfflineRun

    wb = OfflineRun(offline[0])
    wb.refresh()
    assert wb.run_id == run.run_id and wb.job_type == "decompose"
    assert wb.summary["decompose/kept"] == 5 and wb.summary["decompose/items_12"] == 1
    for root, _, files in os.walk(tmp_path):
        for name in files:
            assert secret.encode() not in open(os.path.join(root, name), "rb").read(), name


def _controller_answers() -> bool:
    from rcstudio.launch.slurm import controller_answers

    return controller_answers()


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["local", pytest.param("slurm", marks=pytest.mark.slurm)])
def test_submitted_data_spec_runs_on_executor(stub, hs3_file, tmp_path, executor):
    """`rcstudio submit` of a kind = "data" spec: compiled, run by the executor, COMPLETED in the registry."""
    if executor == "slurm" and not _controller_answers():
        pytest.skip("no Slurm controller answers sinfo: start one with `bash slurm/cluster.sh start`")
    out = tmp_path / f"checklists-{executor}.jsonl"
    spec = tmp_path / "spec.toml"
    spec.write_text(f"""
[experiment]
name = "dec-{executor}"
kind = "data"
[decompose]
input = "{hs3_file}"
output = "{out}"
[reward.matcher]
endpoint = "{stub.base_url}"
model = "decomposer"
max_retries = 0
[cluster]
executor = "{executor}"
gpus_per_node = 0
cpus_per_task = 1
time = "00:10:00"
[tracking]
mode = "disabled"
""")
    proc = subprocess.run([sys.executable, "-m", "rcstudio", "submit", str(spec), "-e", executor, "--wait", "--json"],
                          capture_output=True, text=True, timeout=400, env={**os.environ})
    assert proc.returncode == 0, proc.stderr[-2000:]
    (run,) = json.loads(proc.stdout)["runs"]
    assert run["state"] == "COMPLETED" and run["kind"] == "data" and run["executor"] == executor
    assert len(out.read_text().splitlines()) == 5
    summary = json.loads((Path(run["run_dir"]) / "results" / "decompose_summary.json").read_text())
    assert (summary["kept"], summary["filtered"], summary["failed"]) == (5, 4, 1)
