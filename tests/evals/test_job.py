"""The eval job: stored outputs re-scored without a judge, and a live judge behind a loopback server."""

from __future__ import annotations

import json
import re

import pytest

from rcstudio.errors import UserError
from rcstudio.evals import sources
from rcstudio.evals.job import run_eval_job
from rcstudio.testing.openai_stub import OpenAIStub


def test_stored_outputs_no_judge_calls(tmp_path, shared_dir, eval_spec, offline_summary):
    data = shared_dir / "data"
    scores = tmp_path / "rmbench_scores.jsonl"
    items = json.loads((data / "rmbench_subset_40_nomath.json").read_text())
    scores.write_text("".join(json.dumps({"id": it["id"], "domain": it["domain"], "score_chosen": [1, 1, 1],
                                          "score_rejected": [0, 0, 0]}) + "\n" for it in items))
    spec = eval_spec(
        data={"eval": [str(data / "judgebench_stored_judge_decisions.jsonl"), str(scores)]},
        eval={"benchmarks": ["judgebench", "rmbench"]},
        judge={"endpoint": "http://127.0.0.1:9/v1"},  # never called: stored outputs only
    )
    run_dir = tmp_path / "evaltest-0001"
    summary = run_eval_job(run_dir, spec, progress=False)
    results = run_dir / "results"
    sky = json.loads((results / "judgebench.reward_model_judge_model_Skywork_Skywork-Reward-Gemma-2-27B.json").read_text())
    assert sky["micro"] == 64.29 and sky["macro"] == 65.0
    rm = json.loads((results / "rmbench.rmbench_scores.json").read_text())
    assert rm["overall"] == 100.0
    assert summary["table2"]["rmbench/overall"] == 100.0
    assert json.loads((results / "summary.json").read_text())["run_id"] == "evaltest-0001"
    from rcstudio.evals.report import load_rows, render

    rows = {r.name: r for r in load_rows(str(run_dir))}
    assert len(rows) == 6  # five stored JudgeBench judges + the RM-Bench scores file
    sky_row = rows["evaltest-0001/reward_model,judge_model=Skywork_Skywork-Reward-Gemma-2-27B"]
    assert sky_row.cells["judgebench/overall"] == 64.29 and sky_row.cells["rmbench/overall"] is None
    assert "64.3" in render(list(rows.values()), "markdown")
    logged = offline_summary(run_dir)
    assert logged["eval/judgebench/arena_hard_judge_model_o1-mini-2024-09-12/micro"] == 65.71
    assert logged["eval/rmbench/rmbench_scores/overall"] == 100.0


def _reply(messages, model):
    text = messages[-1]["content"]
    if "RESULT_START" in text:  # the GenRM prompt (hs3-atomic): reasons + verdict
        return "<RESULT_START>\n1. Response A gives the right answer.\n2. Response B is wrong.\n\\boxed{A>B}\n<RESULT_END>"
    return "Both look fine, A slightly better.\n\\boxed{A>B}"


def test_live_judge_against_loopback_endpoint(tmp_path, shared_dir, eval_spec, offline_summary, monkeypatch):
    data = shared_dir / "data"
    from rcstudio.evals.arena_hard import load_questions

    questions = [vars(q) for q in load_questions(data / "arena-hard-v2.0_question.jsonl")]
    answers = tmp_path / "arena-hard-answers.jsonl"
    answers.write_text("".join(json.dumps({"uid": q["uid"], "category": q["category"], "prompt": q["prompt"],
                                           "answer": "# Plan\n- step one\n- step two", "baseline_answer": "Do it."})
                               + "\n" for q in questions[:6] + questions[-4:]))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value-123")
    with OpenAIStub(_reply) as stub:
        spec = eval_spec(
            judge={"endpoint": stub.base_url, "model": "stub-model", "prompt_template": "rcstudio-pairwise-v1"},
            data={"eval": [str(data / "judgebench_gpt-4o-2024-05-13.jsonl"), f"rmbench={data / 'rmbench_subset_40_nomath.json'}",
                           str(answers)], "max_items": 10},
            eval={"benchmarks": ["judgebench", "rmbench", "arena-hard"], "order_policy": "random", "seed": 1},
        )
        run_dir = tmp_path / "evaltest-live"
        run_eval_job(run_dir, spec, progress=False)
        calls = stub.calls
        assert calls == 10 * 2 + 10 * 9 + 10 * 2
        results = run_dir / "results"
        jb = json.loads((results / "judgebench.json").read_text())
        # Always "A>B": once the swapped decision is flipped back, every pair has counter 0.
        assert jb["micro"] == 0.0 and jb["inconsistent"] == 100.0 and jb["n"] == 10
        assert jb["prompt_version"] == "rcstudio-pairwise-v1" and jb["order_policy"] == "both"
        assert jb["judge"]["endpoint"] == stub.base_url and jb["calls"]["call_failures"] == 0
        rm = json.loads((results / "rmbench.json").read_text())
        assert rm["order_policy"] == "random"
        ah = json.loads((results / "arena-hard.json").read_text())
        # A>B in game 1 = baseline wins; in game 2 = model wins: half the battles.
        hp = ah["categories"]["hard_prompt"]
        assert hp["n"] == 6 and hp["ci_low"] < 50.0 < hp["ci_high"] and abs(hp["score"] - 50.0) < 5
        assert "style_controlled" in ah
        # Rerun: everything resumes from the judgments files, no new call.
        run_eval_job(run_dir, spec, progress=False)
        assert stub.calls == calls
    for path in run_dir.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".jsonl", ".toml", ".log", ".wandb", ".txt", ".yaml"):
            assert b"sk-secret-value-123" not in path.read_bytes(), path
    assert offline_summary(run_dir)["eval/judgebench/micro"] == 0.0


@pytest.mark.slow
def test_quickstart_through_run_job(tmp_path, repo_root, offline_summary):
    """The shipped quickstart spec, compiled and run as `rcstudio run-job` runs it."""
    from rcstudio.compile import compile_run
    from rcstudio.engines.dispatch import run_job
    from rcstudio.spec import expand, load_spec

    spec = load_spec(repo_root / "specs" / "quickstart.toml", ["eval.bootstrap=200"])
    run = expand(spec)[0]
    run_dir = tmp_path / run.run_id
    compile_run(run, run_dir)
    summary = run_job(run_dir)
    results = run_dir / "results"
    ev = json.loads((results / "hs3-atomic.evidence-judge.json").read_text())
    su = json.loads((results / "hs3-atomic.surface-judge.json").read_text())
    assert ev["oa"]["mean"] == su["oa"]["mean"]  # same outcome accuracy ...
    assert ev["rc"]["mean"] > su["rc"]["mean"] + 0.1  # ... very different rationale consistency
    assert (results / "rc_vs_oa.png").stat().st_size > 1000
    logged = offline_summary(run_dir)
    assert logged["eval/hs3_atomic/evidence-judge/rc"] == pytest.approx(ev["rc"]["mean"])
    assert set(summary["benchmarks"]["hs3-atomic"]) == {"evidence-judge", "surface-judge"}


def test_plan_errors(tmp_path, shared_dir, eval_spec):
    data = shared_dir / "data"
    with pytest.raises(UserError, match="has no data"):
        sources.plan(eval_spec(eval={"benchmarks": ["rmbench"]}))
    with pytest.raises(UserError, match="does not list judgebench"):
        sources.plan(eval_spec(data={"eval": [str(data / "judgebench_gpt-4o-2024-05-13.jsonl")]},
                               eval={"benchmarks": ["rmbench"]}))
    with pytest.raises(UserError, match="not found"):
        sources.plan(eval_spec(data={"eval": ["rmbench=/nonexistent.json"]}, eval={"benchmarks": ["rmbench"]}))
    questions = f"arena-hard={data / 'arena-hard-v2.0_question.jsonl'}"
    with pytest.raises(UserError) as err:
        sources.plan(eval_spec(data={"eval": [questions]}, eval={"benchmarks": ["arena-hard"]}))
    assert "answers" in err.value.hint
    with pytest.raises(UserError, match="no data file"):
        sources.plan(eval_spec(data={"eval": ["judgebench"]}, eval={"benchmarks": ["judgebench"]}))


def test_benchmark_names_resolve_in_the_data_dir(tmp_path, shared_dir, eval_spec, monkeypatch):
    monkeypatch.setenv("RCSTUDIO_DATA", str(shared_dir / "data"))
    plan = sources.plan(eval_spec(data={"eval": ["judgebench", "rmbench"]}, eval={"benchmarks": ["judgebench", "rmbench"]},
                                  judge={"endpoint": "http://x/v1"}))
    assert [p.rsplit("/", 1)[-1] for p in plan["judgebench"].inputs] == ["judgebench_gpt-4o-2024-05-13.jsonl"]
    assert len(plan["rmbench"].inputs) == 2


@pytest.mark.slow
def test_live_hs3_atomic_both_orders(tmp_path, eval_spec, offline_summary):
    from rcstudio.paths import resolve_source

    pairs = resolve_source("pkg://rcstudio/data/quickstart/pairs.jsonl")
    with OpenAIStub(_reply) as stub:
        spec = eval_spec(
            judge={"endpoint": stub.base_url, "model": "my/genrm", "top_k": 5},
            data={"eval": [pairs], "max_items": 6},
            eval={"benchmarks": ["hs3-atomic"], "order_policy": "both", "bootstrap": 50},
            reward={"matcher": {"kind": "embedding"}},
        )
        run_dir = tmp_path / "evaltest-hs3"
        run_eval_job(run_dir, spec, progress=False)
        assert stub.calls == 12
        assert "<RESULT_START>" in stub.requests[0]["messages"][-1]["content"]  # the GenRM prompt
    res = json.loads((run_dir / "results" / "hs3-atomic.json").read_text())
    assert res["items"] == 12 and res["model"] == "my_genrm"
    # Always "A>B" as shown: right in exactly one of the two orders of every non-tie item.
    assert res["oa"]["mean"] == pytest.approx(0.5)
    assert res["settings"]["prompt_version"] == "rcstudio-genrm-v1" and res["settings"]["order_policy"] == "both"
    assert 0.0 <= res["rc"]["mean"] <= 1.0
    assert offline_summary(run_dir)["eval/hs3_atomic/rc"] == pytest.approx(res["rc"]["mean"])


@pytest.mark.slow
def test_tiny_local_judge_in_a_job(tmp_path, shared_dir, eval_spec, monkeypatch):
    """judge.model = tiny://random: a random model built in the run dir judges on CPU; its
    unparseable replies are counted as failures, and the scores still come out."""
    monkeypatch.setenv("RCSTUDIO_JUDGE_SERVER", "local")
    spec = eval_spec(judge={"model": "tiny://random?layers=1&hidden=32&vocab=280&max_positions=512", "max_tokens": 4},
                     data={"eval": [f"rmbench={shared_dir / 'data' / 'rmbench_subset_40_nomath.json'}"], "max_items": 2},
                     eval={"benchmarks": ["rmbench"], "order_policy": "random"})
    run_dir = tmp_path / "evaltest-tiny"
    run_eval_job(run_dir, spec, progress=False)
    res = json.loads((run_dir / "results" / "rmbench.json").read_text())
    assert res["judge"]["backend"] == "transformers" and res["calls"]["n"] == 18
    summary = json.loads((run_dir / "results" / "summary.json").read_text())
    assert summary["judge_backend"] == "transformers"
    # progress is visible in the job's log: the backend, a start line and done/total with a rate and ETA
    log = (run_dir / "logs" / "run-job.log").read_text()
    assert "judge backend: transformers (judge.backend = 'auto')" in log
    assert "progress rmbench: judging: started, 18 to do" in log
    assert re.search(r"progress rmbench: judging: 18/18 \(100%\), [0-9.]+ gen/s, ETA 0s", log)
    assert res["calls"]["parse_failures"] + res["calls"]["call_failures"] == 18  # random weights: no verdicts
    assert res["overall"] == 0.0  # a missing verdict is a loss
    assert (run_dir / "checkpoints" / "tiny-judge" / "config.json").is_file()
