"""`rcstudio eval ...` and `rcstudio report` as users call them (exit codes, --json, tables)."""

from __future__ import annotations

import json

import pytest

from rcstudio.cli import main


def _run(capsys, *argv):
    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
        raise SystemExit(0)
    out = capsys.readouterr()
    return exit_.value.code or 0, out.out, out.err


def test_judgebench_json_keys(capsys, shared_dir):
    code, out, err = _run(capsys, "eval", "judgebench", "--decisions",
                          str(shared_dir / "data" / "judgebench_stored_judge_decisions.jsonl"),
                          "--judge", "reward_model,judge_model=Skywork_Skywork-Reward-Gemma-2-27B", "--json")
    assert code == 0
    obj = json.loads(out)
    assert {"micro", "macro", "categories", "inconsistent", "ties", "failures"} <= set(obj)
    assert set(obj["categories"]) == {"knowledge", "reasoning", "math", "coding"}
    assert obj["micro"] == 64.29


def test_judgebench_with_data_and_table(capsys, shared_dir):
    data = shared_dir / "data"
    code, out, _ = _run(capsys, "eval", "judgebench", "--decisions", str(data / "judgebench_stored_judge_decisions.jsonl"),
                        "--data", str(data / "judgebench_claude-3-5-sonnet-20240620.jsonl"),
                        "--judge", "arena_hard,judge_model=claude-3-haiku-20240307")
    assert code == 0 and "32.22" in out and "JudgeBench" in out


def test_several_judges_json(capsys, shared_dir):
    code, out, _ = _run(capsys, "eval", "judgebench", "--decisions",
                        str(shared_dir / "data" / "judgebench_stored_judge_decisions.jsonl"), "--json")
    assert code == 0 and len(json.loads(out)["judges"]) == 5


def test_bad_file_exit_2_with_line(capsys, tmp_path):
    bad = tmp_path / "d.jsonl"
    bad.write_text('{"pair_id": "1", "label": "A>B", "source": "livecodebench", "decisions": ["A>B", "B>A"]}\n'
                   '{"pair_id": "2", "label": "A>B", "source": "livecodebench", "decisions": "A>B"}\n')
    code, out, err = _run(capsys, "eval", "judgebench", "--decisions", str(bad), "--json")
    assert code == 2 and out == ""
    assert f"{bad}:2" in err and "decisions" in err and "Traceback" not in err


def test_rmbench_json(capsys, tmp_path, shared_dir):
    items = json.loads((shared_dir / "data" / "rmbench_subset_40_nomath.json").read_text())
    scores = tmp_path / "s.json"
    scores.write_text(json.dumps([{"id": it["id"], "subset": it["subset"], "score_chosen": [0, 1, 2],
                                   "score_rejected": [-0.5, 0.5, 1.5]} for it in items]))
    code, out, _ = _run(capsys, "eval", "rmbench", "--scores", str(scores), "--json")
    obj = json.loads(out)
    assert code == 0 and {"overall", "hard", "normal", "easy", "domains"} <= set(obj)
    assert (obj["hard"], obj["normal"], obj["easy"]) == (0.0, 100.0, 100.0)
    code, out, _ = _run(capsys, "eval", "rmbench", "--scores", str(scores))
    assert code == 0 and "safety" in out


def test_arena_hard_json_and_seed(capsys, tmp_path):
    path = tmp_path / "j.jsonl"
    verdicts = ["A>>B", "A>B", "A=B", "B>A", "B>>A"]
    path.write_text("".join(json.dumps({"uid": str(i), "category": "hard_prompt" if i % 3 else "creative_writing",
                                        "games": [verdicts[i % 5], verdicts[(i * 7) % 5]]}) + "\n" for i in range(60)))
    outs = []
    for seed in ("1", "1", "2"):
        code, out, _ = _run(capsys, "eval", "arena-hard", "--judgments", str(path), "--seed", seed, "--json")
        assert code == 0
        outs.append(json.loads(out))
    assert outs[0] == outs[1] and outs[0] != outs[2]
    assert set(outs[0]) == {"hard_prompt", "creative_writing"}
    assert {"score", "ci_low", "ci_high", "n"} <= set(outs[0]["hard_prompt"])


def _fake_run(tmp_path, name, rm, jb):
    run_dir = tmp_path / name
    (run_dir / "results").mkdir(parents=True)
    benchmarks = {
        "rmbench": {"judge": {"overall": rm, "domains": {d: {"score": rm} for d in ("chat", "math", "code", "safety")}}},
        "judgebench": {"judge": {"micro": jb, "categories": {c: jb for c in ("knowledge", "reasoning", "math", "coding")}}},
    }
    (run_dir / "results" / "summary.json").write_text(json.dumps({"benchmarks": benchmarks}))
    return run_dir


def test_report_formats(capsys, tmp_path):
    a = _fake_run(tmp_path, "hybrid-14b", 86.7, 79.1)
    b = _fake_run(tmp_path, "outcome-14b", 83.6, 70.0)
    code, out, _ = _run(capsys, "report", str(a), str(b), "--format", "markdown")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("| run | RM chat") and "| hybrid-14b |" in lines[2]
    cells = [c.strip() for c in lines[2].strip(" |").split("|")]
    assert cells[[c.strip() for c in lines[0].strip(" |").split("|")].index("Avg")] == "82.9"  # the paper's avg
    code, out, _ = _run(capsys, "report", str(a), "--format", "csv")
    header, row = out.splitlines()[0].split(","), out.splitlines()[1].split(",")
    assert header[:2] == ["run", "rmbench/chat"] and row[header.index("total")] == "82.9"
    code, out, _ = _run(capsys, "report", str(a), str(b))
    assert code == 0 and "outcome-14b" in out and "76.8" in out
    code, out, _ = _run(capsys, "report", str(a), "--json", "--plot", str(tmp_path / "t2.png"))
    assert json.loads(out)["rows"][0]["total"] == 82.9
    assert (tmp_path / "t2.png").read_bytes()[:4] == b"\x89PNG"


def test_report_errors(capsys, tmp_path):
    code, _, err = _run(capsys, "report", "no-such-run")
    assert code == 2 and "no run matches" in err
    (tmp_path / "empty").mkdir()
    code, _, err = _run(capsys, "report", str(tmp_path / "empty"))
    assert code == 2 and "no eval results" in err
    code, _, err = _run(capsys, "report", str(_fake_run(tmp_path, "r", 1.0, 2.0)), "--format", "html")
    assert code == 2 and "unknown format" in err


def test_report_by_registry_run_id(capsys, tmp_path):
    import time

    from rcstudio.launch.registry import Registry, RunRecord

    run_dir = _fake_run(tmp_path, "evalrun-abcdef12", 87.1, 82.0)
    now = time.time()
    Registry().add_runs([RunRecord("evalrun-abcdef12", "hybrid-30b", "evalrun", "eval", "", "local", "COMPLETED",
                                   now, now, now, now, str(run_dir), "abcdef12")])
    code, out, _ = _run(capsys, "report", "evalrun-abc", "--format", "csv")
    header, row = out.splitlines()[0].split(","), out.splitlines()[1].split(",")
    # rows are labelled by run id: two runs of one spec (same name) stay apart
    assert code == 0 and row[0] == "evalrun-abcdef12" and row[header.index("total")] == "84.55"


def test_report_shows_hs3_atomic_per_stored_judge(capsys, tmp_path):
    run_dir = tmp_path / "quickstart-1"
    (run_dir / "results").mkdir(parents=True)
    hs3 = {judge: {"rc": {"mean": rc, "ci_low": rc - 0.03, "ci_high": rc + 0.03}, "oa": {"mean": 0.775}}
           for judge, rc in (("evidence-judge", 0.858), ("surface-judge", 0.221))}
    (run_dir / "results" / "summary.json").write_text(json.dumps({"benchmarks": {"hs3-atomic": hs3}}))
    code, out, _ = _run(capsys, "report", str(run_dir), "--format", "csv")
    assert code == 0
    header, *rows = out.strip().splitlines()
    assert header.endswith(",hs3/rc,hs3/oa,calls/failed,calls/unparsed")
    # stored outputs made no judge calls: the failure columns are empty, not 0
    assert rows[0].startswith("quickstart-1/evidence-judge,") and rows[0].endswith(",85.8,77.5,,")
    assert rows[1].startswith("quickstart-1/surface-judge,") and rows[1].endswith(",22.1,77.5,,")
