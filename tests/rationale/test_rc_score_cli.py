"""`rcstudio score` and `rcstudio plot rc-vs-oa` end to end (in-process CLI, real files, loopback HTTP)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from rcstudio.cli import main
from rcstudio.rationale.plots import plot_rc_vs_oa
from rcstudio.rationale.score import label_to_verdict


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def write_lines(path, rows):
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


@pytest.fixture
def judged(tmp_path, make_pair):
    """4 items judged by "j": item-0 right verdict, item-1 wrong, item-2 no output, item-3 generated text only."""
    rows = [
        make_pair(0, **{"j-checklist": ["A is right", "B is wrong", "A is short", "x", "y"], "j-label": "A>B"}),
        make_pair(1, **{"j-checklist": ["B is right", "A is wrong", "z", "u", "v"], "j-label": "B>>A"}),
        make_pair(2),
        make_pair(3, **{"j-generated_text": "<RESULT_START>\n1. A ok\n2. B bad\n\\boxed{A>>B}\n<RESULT_END>"}),
        "{broken",
    ]
    data = write_lines(tmp_path / "judged.jsonl", rows)
    matches = write_lines(
        tmp_path / "m.jsonl",
        [
            {"id": "item-0", "scores": [[1, 0, 0, 0, 0], [0, 1, 0, 0, 0]]},  # AP 1, RC 1
            {"id": "item-1", "scores": [[0, 1, 0, 0, 0], [0, 0, 0, 0, 1]]},  # AP (1/2+2/5)/2 = .45
            {"id": "item-3", "scores": [[0, 0], [0, 0.5]]},  # RC .25, AP (.5/2)/2
        ],
    )
    return data, matches


def test_score_matrix_with_data_json(capsys, judged):
    data, matches = judged
    code, out, err = run_cli(capsys, "score", "--data", str(data), "--model", "j", "--matches", str(matches), "--json", "--bootstrap", "200")
    assert code == 0, err
    res = json.loads(out)
    for key in ("items", "valid", "rc", "precision", "f1", "ap", "oa", "reward"):
        assert key in res
    assert res["items"] == 5 and res["valid"] == 3
    assert res["skipped"] == {"no output for this judge": 1, "bad record in data": 1}
    assert res["rc"]["mean"] == pytest.approx((1 + 1 + 0.25) / 3, abs=1e-6)
    assert res["ap"]["mean"] == pytest.approx((1 + 0.45 + 0.125) / 3, abs=1e-6)
    assert res["precision"]["mean"] == pytest.approx((2 / 5 + 2 / 5 + 0.5 / 2) / 3, abs=1e-6)
    assert res["oa"]["mean"] == pytest.approx(2 / 3, abs=1e-6) and res["oa"]["n"] == 3
    assert res["reward"]["mean"] == pytest.approx((1 + 0 + 0.125) / 3, abs=1e-6)  # gated: AP x outcome
    assert res["rc"]["ci_low"] <= res["rc"]["mean"] <= res["rc"]["ci_high"]
    assert set(res["domains"]) == {"general", "stem", "code", "multilingual"}
    assert res["domains"]["code"]["items"] == 1 and res["domains"]["code"]["valid"] == 0
    assert res["domains"]["code"]["rc"]["mean"] is None
    assert res["domains"]["general"]["rc"]["mean"] == pytest.approx(1.0)
    assert res["matcher"] == "matrix" and res["variant"] == "paper" and res["top_k"] == 5


def test_score_additive_and_reference_variant(capsys, judged):
    data, matches = judged
    base = ["score", "--data", str(data), "--model", "j", "--matches", str(matches), "--json", "--bootstrap", "0"]
    code, out, _ = run_cli(capsys, *base, "--reward-form", "additive", "--alpha", "0.5")
    assert code == 0
    res = json.loads(out)
    assert res["reward"]["mean"] == pytest.approx((0.5 * 1 + 0.5) / 3 + (0.5 * 0.45) / 3 + (0.5 * 0.125 + 0.5) / 3, abs=1e-6)
    code, out, _ = run_cli(capsys, *base, "--variant", "reference")
    ref = json.loads(out)
    # item-1: matches at ranks 2 and 5 count like ranks 1, 2 in the reference variant
    assert ref["ap"]["mean"] == pytest.approx((1 + 1 + 0.25) / 3, abs=1e-6)


def test_score_matches_file_alone(capsys, tmp_path):
    m = write_lines(tmp_path / "only.jsonl", [
        {"id": "a", "scores": [[1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 0, 0, 0]], "outcome": 1},
        {"id": "b", "scores": [[0, 1, 0, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]], "outcome": 0},
        "oops",
    ])  # fmt: skip
    code, out, err = run_cli(capsys, "score", "--model", "stored", "--matcher", "matrix", "--matches", str(m), "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["items"] == 3 and res["valid"] == 2
    assert res["ap"]["mean"] == pytest.approx((2 / 3 + 0.3) / 2, abs=1e-6)
    assert res["oa"]["mean"] == 0.5
    assert res["reward"]["mean"] == pytest.approx((2 / 3) / 2, abs=1e-6)


def test_score_llm_matcher_over_http_then_zero_calls(capsys, judged, stub):
    data, _ = judged
    args = ["score", "--data", str(data), "--model", "j", "--endpoint", stub.base_url, "--matcher-model", "matcher", "--json"]
    code, out, err = run_cli(capsys, *args)
    assert code == 0, err
    res = json.loads(out)
    assert res["matcher"] == "llm" and res["valid"] == 3
    assert res["rc"]["mean"] == pytest.approx(1.0)  # the stub answers with a diagonal
    assert stub.calls == 3
    code, out2, _ = run_cli(capsys, *args)
    assert code == 0 and stub.calls == 3  # a rerun is served from the cache
    assert json.loads(out2)["rc"] == res["rc"]


def test_table_output_and_out_file(capsys, judged, tmp_path):
    data, matches = judged
    out_file = tmp_path / "res" / "j.json"
    code, out, err = run_cli(capsys, "score", "--data", str(data), "--model", "j", "--matches", str(matches), "--out", str(out_file))
    assert code == 0, err
    for label in ("RC", "Precision", "F1", "AP", "OA", "Mean reward", "per domain", "skipped"):
        assert label in out
    assert "judged.jsonl:5: skipped: invalid JSON" in err
    full = json.loads(out_file.read_text())
    assert [r["id"] for r in full["per_item"]] == ["item-0", "item-1", "item-2", "item-3"]
    assert full["per_item"][1]["outcome"] == 0 and full["per_item"][1]["matched"] == [1, 4]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--alpha", "0.5"], "--alpha only applies"),
        (["--variant", "fancy"], "unknown variant"),
        (["--matcher", "psychic"], "unknown matcher"),
        (["--reward-form", "sum"], "reward form"),
    ],
)
def test_score_user_errors(capsys, judged, extra, message):
    data, matches = judged
    code, out, err = run_cli(capsys, "score", "--data", str(data), "--model", "j", "--matches", str(matches), *extra)
    assert code == 2 and message in err and "Traceback" not in err and out == ""


def test_score_unknown_judge_and_missing_data(capsys, judged, tmp_path):
    data, _ = judged
    code, _, err = run_cli(capsys, "score", "--data", str(data), "--model", "nobody", "--matcher", "embedding")
    assert code == 2 and "no stored outputs for judge 'nobody'" in err and "judges in the file: j" in err
    code, _, err = run_cli(capsys, "score", "--model", "j")
    assert code == 2 and "--data is required" in err
    code, _, err = run_cli(capsys, "score", "--data", str(tmp_path / "none.jsonl"), "--model", "j", "--matcher", "embedding")
    assert code == 2 and "not found" in err


def test_plot_rc_vs_oa(capsys, judged, tmp_path):
    data, matches = judged
    files = []
    for variant in ("paper", "reference"):
        f = tmp_path / f"{variant}.json"
        code, _, _ = run_cli(capsys, "score", "--data", str(data), "--model", "j", "--matches", str(matches), "--variant", variant, "--out", str(f))
        assert code == 0
        files.append(str(f))
    png = tmp_path / "fig" / "rc_vs_oa.png"
    code, out, err = run_cli(capsys, "plot", "rc-vs-oa", *files, "-o", str(png), "--json")
    assert code == 0, err
    assert json.loads(out) == {"output": str(png), "judges": ["j", "j"]}
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    bad = write_lines(tmp_path / "bad.json", ['{"model": "x"}'])
    code, _, err = run_cli(capsys, "plot", "rc-vs-oa", str(bad), "-o", str(png))
    assert code == 2 and "not a score result" in err


def test_plot_accepts_result_dicts_with_missing_means(tmp_path):
    row = {"model": "empty", "rc": {"mean": None}, "oa": {"mean": None}}
    ok = {"model": "m", "rc": {"mean": 0.3, "ci_low": 0.25, "ci_high": 0.35}, "oa": {"mean": 0.8, "ci_low": 0.75, "ci_high": 0.85}}
    assert plot_rc_vs_oa([row, ok], tmp_path / "p.png").is_file()


def test_label_to_verdict():
    assert label_to_verdict("A>B") == "A>B"
    assert label_to_verdict("\\boxed{B>>A}") == "B>>A"
    assert label_to_verdict(-2) == "A>>B" and label_to_verdict("1") == "B>A" and label_to_verdict(0) == "A=B"
    assert label_to_verdict("Response 2") == "B>A" and label_to_verdict("A") == "A>B"
    assert label_to_verdict("maybe") is None and label_to_verdict(None) is None


@pytest.mark.slow
def test_score_with_embedding_matcher(capsys, tmp_path, make_pair):
    rows = [
        make_pair(0, **{"human-checklist": ["Response 1 correctly says the boiling point of water is 100 degrees Celsius."],
                        "e-checklist": ["Response A gives the correct boiling point of water, 100 degrees Celsius."],
                        "e-label": "A>B"}),
        make_pair(1, **{"human-checklist": ["Response 2 forgets to close the file handle in the Python snippet."],
                        "e-checklist": ["Response A has a nicer greeting."], "e-label": "B>A"}),
    ]  # fmt: skip
    data = write_lines(tmp_path / "e.jsonl", rows)
    code, out, err = run_cli(capsys, "score", "--data", str(data), "--model", "e", "--json", "--bootstrap", "0")
    assert code == 0, err
    assert out.count("\n") == 1, out[:300]
    res = json.loads(out)
    assert res["matcher"] == "embedding" and res["valid"] == 2
    per = {d: v["rc"]["mean"] for d, v in res["domains"].items()}
    assert per["general"] >= 0.75 and per["stem"] <= 0.25  # paraphrase vs unrelated reason
    assert res["oa"]["mean"] == 0.5


@pytest.mark.slow
def test_score_json_in_a_fresh_process_with_wandb_offline(tmp_path, make_pair, repo_root):
    """A new interpreter imports sentence_transformers, which prints an [INFO] line because
    WANDB_MODE=offline: it must land on stderr, leaving exactly one JSON object on stdout."""
    rows = [make_pair(0, **{"human-checklist": ["Response 1 is correct."], "e-checklist": ["Response A is correct."],
                            "e-label": "A>B"})]  # fmt: skip
    data = write_lines(tmp_path / "e.jsonl", rows)
    proc = subprocess.run(
        [sys.executable, "-m", "rcstudio", "score", "--data", str(data), "--model", "e", "--json", "--bootstrap", "0"],
        capture_output=True, text=True, cwd=repo_root, env={**os.environ, "WANDB_MODE": "offline"}, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["matcher"] == "embedding"
    assert "Running in WANDB offline mode" in proc.stderr


def test_every_matcher_call_failing_is_a_failure_not_zeros(capsys, judged, stub, tmp_path, monkeypatch):
    """All 401: exit 1 with the reason (the JSON still printed, with `failed`), never exit 0 with valid 0."""
    monkeypatch.setenv("RCSTUDIO_HOME", str(tmp_path / "fresh-home"))  # no cached matches
    data, _ = judged
    stub.fail_next("401", times=50)
    args = ["score", "--data", str(data), "--model", "j", "--endpoint", stub.base_url, "--matcher-model", "matcher"]
    code, out, err = run_cli(capsys, *args, "--json")
    assert code == 1 and "Traceback" not in err
    res = json.loads(out)
    assert res["valid"] == 0 or "failed" in res
    assert "0 of 4 items valid" in res["failed"] and "matcher failed: 3" in res["failed"]
    assert "failed: judge j: 0 of 4 items valid (none valid)" in err


def test_min_valid_fraction_decides_a_partly_failed_run(capsys, judged, tmp_path):
    data, matches = judged  # 4 scorable items, 3 valid (one judge output missing)
    base = ["score", "--data", str(data), "--model", "j", "--matches", str(matches), "--bootstrap", "0", "--json"]
    assert run_cli(capsys, *base, "--min-valid-fraction", "0.75")[0] == 0
    code, out, err = run_cli(capsys, *base, "--min-valid-fraction", "0.8")
    assert code == 1 and "3 of 4 items valid (below eval.min_valid_fraction = 0.8)" in err
    assert "no output for this judge: 1" in json.loads(out)["failed"]
    code, _, err = run_cli(capsys, *base, "--min-valid-fraction", "2")
    assert code == 2 and "--min-valid-fraction" in err
