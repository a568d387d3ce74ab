"""JudgeBench: the stored judges' decisions reproduce the official scores (and the paper's row)."""

from __future__ import annotations

import json

import pytest

from rcstudio.errors import UserError
from rcstudio.evals import judgebench as jb

O1 = "arena_hard,judge_model=o1-mini-2024-09-12"
HAIKU = "arena_hard,judge_model=claude-3-haiku-20240307"
SKYWORK = "reward_model,judge_model=Skywork_Skywork-Reward-Gemma-2-27B"


@pytest.fixture(scope="module")
def stored(shared_dir):
    return jb.score_file(shared_dir / "data" / "judgebench_stored_judge_decisions.jsonl")


def test_o1_mini_reproduces_official_scores(stored):
    r = stored[O1]
    assert r.categories == {"knowledge": 58.44, "reasoning": 62.24, "math": 82.14, "coding": 78.57}
    assert r.micro == 65.71 and r.n == 350 and r.correct == 230


def test_skywork_matches_paper_table_2(stored):
    r = stored[SKYWORK]
    assert r.micro == 64.29
    rounded = {c: round(v, 1) for c, v in r.categories.items()}
    assert rounded == {"knowledge": 59.7, "reasoning": 66.3, "math": 83.9, "coding": 50.0}
    assert round(r.macro, 1) == 65.0


def test_all_five_judges_on_their_splits(stored, shared_dir):
    # Published JudgeBench leaderboard values for the other three stored judges.
    assert stored["reward_model,judge_model=Skywork_Skywork-Reward-Llama-3.1-8B"].micro == 62.29
    assert stored["reward_model,judge_model=internlm_internlm2-20b-reward"].micro == 63.43
    assert stored[HAIKU].n == 270  # the Claude split
    data = shared_dir / "data"
    with_split = jb.score_file(data / "judgebench_stored_judge_decisions.jsonl",
                               data=data / "judgebench_claude-3-5-sonnet-20240620.jsonl", judge=HAIKU)
    assert with_split[HAIKU].micro == stored[HAIKU].micro == 32.22
    assert stored[HAIKU].failures > 0 and stored[HAIKU].ties > 0


def test_without_flipping_back_the_score_collapses(shared_dir):
    """Guards the flip: the stored swapped decisions are as the judge gave them."""
    rows = jb.load_decisions(shared_dir / "data" / "judgebench_stored_judge_decisions.jsonl")[SKYWORK]
    unflipped = [jb.DecisionRow(r.pair_id, r.source, r.label, (r.decisions[0], jb.verdicts.flip(r.decisions[1])))
                 for r in rows]
    assert jb.score(unflipped).micro == 0.0


def test_counter_rule():
    assert jb.pair_counter("A>B", "A>B", "B>A") == 2  # both right once the swap is undone
    assert jb.pair_counter("A>B", "A>B", "A=B") == 1
    assert jb.pair_counter("A>B", "A>B", "A>B") == 0  # position bias: one right, one wrong
    assert jb.pair_counter("A>B", None, "B>A") == 1
    assert jb.pair_counter("B>A", "A=B", None) == 0


def test_rates_on_constructed_rows():
    rows = [
        jb.DecisionRow("1", "livecodebench", "A>B", ("A>B", "B>A")),  # correct, consistent
        jb.DecisionRow("2", "livebench-math", "B>A", ("A>B", "B>A")),  # wrong, consistent
        jb.DecisionRow("3", "mmlu-pro-law", "A>B", ("A=B", None)),  # tie + failure
        jb.DecisionRow("4", "livebench-reasoning", "A>B", ("A>B", "A>B")),  # inconsistent
    ]
    r = jb.score(rows)
    assert r.micro == 25.0
    assert r.categories == {"knowledge": 0.0, "reasoning": 0.0, "math": 0.0, "coding": 100.0}
    assert r.macro == 25.0
    assert r.ties == 12.5 and r.failures == 12.5 and r.inconsistent == 25.0


def test_data_split_fills_labels_and_counts_missing_pairs(tmp_path, shared_dir):
    split = shared_dir / "data" / "judgebench_gpt-4o-2024-05-13.jsonl"
    pairs = jb.load_pairs(split)
    first = pairs[0]
    path = tmp_path / "d.jsonl"
    right = "A>B" if first.label == "A>B" else "B>A"
    path.write_text(json.dumps({"pair_id": first.pair_id, "decisions": [right, jb.verdicts.flip(right)]}) + "\n")
    r = jb.score_file(path, data=split)[""]
    assert r.n == 350 and r.correct == 1
    assert r.failures == pytest.approx(100 * 698 / 700, abs=0.01)


@pytest.mark.parametrize(
    "row, needle",
    [
        ({"pair_id": "x", "label": "A>B", "source": "livecodebench", "decisions": ["A>B"]}, "expected 2"),
        ({"pair_id": "x", "label": "A>B", "source": "livecodebench", "decisions": ["A>B", "C"]}, "unknown verdict"),
        ({"pair_id": "x", "label": "A=B", "source": "livecodebench", "decisions": ["A>B", "B>A"]}, "A>B or B>A"),
        ({"pair_id": "x", "label": "A>B", "source": "gsm8k", "decisions": ["A>B", "B>A"]}, "unknown JudgeBench source"),
        ({"pair_id": "x", "source": "livecodebench", "decisions": ["A>B", "B>A"]}, "missing field 'label'"),
    ],
)
def test_bad_rows_name_the_line(tmp_path, row, needle):
    good = {"pair_id": "g", "label": "A>B", "source": "livecodebench", "decisions": ["A>B", "B>A"]}
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(good) + "\n\n" + json.dumps(row) + "\n")
    with pytest.raises(UserError) as err:
        jb.score_file(path)
    assert needle in err.value.message
    assert err.value.location.line == 3


def test_invalid_json_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"pair_id": "g"}\n{"pair_id": \n')
    with pytest.raises(UserError) as err:
        jb.load_decisions(path)
    assert err.value.location.line == 2 and "invalid JSON" in err.value.message


def test_reads_judgebench_output_layout(tmp_path):
    rows = [{"pair_id": "1", "label": "A>B", "source": "livecodebench",
             "judgments": [{"judgment": {"response": "..."}, "decision": "A>B"}, {"judgment": None, "decision": "B>A"}]},
            {"pair_id": "2", "label": "B>A", "source": "mmlu-pro-law",
             "judgments": [{"decision": "A>B"}, {"decision": None}]}]
    path = tmp_path / "out.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = jb.score_file(path)[""]
    assert r.correct == 1 and r.failures == 25.0
