"""Arena-Hard v2: the real questions load; the scorer on judgments with known outcomes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rcstudio.errors import UserError
from rcstudio.evals import arena_hard as ah


@pytest.fixture(scope="module")
def questions(shared_dir):
    return ah.load_questions(shared_dir / "data" / "arena-hard-v2.0_question.jsonl")


def test_750_questions_load(questions, shared_dir):
    assert len(questions) == 750
    cats = {c: sum(q.category == c for q in questions) for c in ah.CATEGORIES}
    assert cats == {"hard_prompt": 500, "creative_writing": 250}
    assert len(ah.load_questions(shared_dir / "data" / "arena-hard-v0.1_question.jsonl")) == 500


def test_battle_outcomes_from_both_games():
    # Game 1: baseline is A. Game 2: the model is A. Strong verdicts count 3 times.
    assert ah.battle_outcomes("B>A", "A>B") == [1.0, 1.0]
    assert ah.battle_outcomes("A>>B", "A>B") == [1.0, 0.0, 0.0, 0.0]
    assert ah.battle_outcomes("A=B", "B>>A") == [0.0, 0.0, 0.0, 0.5]
    assert ah.battle_outcomes(None, "A>B") is None


def _judgments(questions, games_for):
    return [ah.Judgment(q.uid, q.category, games_for(i, q)) for i, q in enumerate(questions)]


def test_known_outcomes(questions):
    wins = ah.score(_judgments(questions, lambda i, q: ("B>>A", "A>>B")), seed=0)
    assert {c: (s.score, s.ci_low, s.ci_high) for c, s in wins.categories.items()} == {
        "hard_prompt": (100.0, 100.0, 100.0), "creative_writing": (100.0, 100.0, 100.0)}
    ties = ah.score(_judgments(questions, lambda i, q: ("A=B", "A=B")), seed=0)
    assert ties.categories["hard_prompt"].score == 50.0
    # Alternate strong wins (4 battles won) and weak losses (2 lost): 2/3 with weighting.
    mixed = ah.score(_judgments(questions, lambda i, q: ("B>>A", "A>B") if i % 2 else ("A>B", "B>A")), seed=0)
    hp = mixed.categories["hard_prompt"]
    assert hp.n == 500 and hp.score == pytest.approx(66.67, abs=1.0)
    assert hp.ci_low < hp.score < hp.ci_high and hp.ci_high - hp.ci_low < 6


def test_failed_game_drops_the_question(questions):
    r = ah.score(_judgments(questions, lambda i, q: (None, "A>B") if i < 10 else ("B>A", "A>B")))
    hp = r.categories["hard_prompt"]
    assert hp.n == 490 and hp.dropped == 10 and hp.score == 100.0


def test_bootstrap_is_reproducible_with_a_seed(questions):
    rng = np.random.default_rng(7)
    games = [tuple(rng.choice(ah.verdicts.VERDICTS, 2)) for _ in questions]
    js = _judgments(questions, lambda i, q: games[i])
    a, b, c = ah.score(js, seed=1), ah.score(js, seed=1), ah.score(js, seed=2)
    assert a.to_json() == b.to_json()
    assert a.to_json() != c.to_json()


def test_style_control_recovers_the_equal_style_win_rate():
    # Longer answers win 90% of battles, shorter ones 30%: raw 60%, BT intercept sigmoid(a) with
    # a + b = logit(0.9), a - b = logit(0.3).
    long_meta = {"token_len": 200, "header_count": {}, "list_count": {}, "bold_count": {}}
    short_meta = {"token_len": 100, "header_count": {}, "list_count": {}, "bold_count": {}}
    js = []
    for i in range(400):
        longer = i % 2 == 0
        k = (i // 2) % 10
        win = k < (9 if longer else 3)
        games = ("B>A", "A>B") if win else ("A>B", "B>A")
        feats = ah.style_features(long_meta, short_meta) if longer else ah.style_features(short_meta, long_meta)
        js.append(ah.Judgment(str(i), "hard_prompt", games, tuple(feats)))
    raw = ah.score(js, seed=0).categories["hard_prompt"]
    sc = ah.score(js, seed=0, style_control=True).categories["hard_prompt"]
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    expected = 100 / (1 + math.exp(-(logit(0.9) + logit(0.3)) / 2))
    assert raw.score == pytest.approx(60.0, abs=2.0)
    assert sc.score == pytest.approx(expected, abs=2.0)
    assert sc.style_coefs[0] > 0  # length helps


def test_style_metadata_counts_markdown():
    meta = ah.style_metadata("# Title\n\n- a\n- b\n1. c\n**bold** text\n```\n# not a header\n```")
    assert meta["header_count"]["h"] == 1
    assert meta["list_count"] == {"ordered": 1, "unordered": 2}
    assert meta["bold_count"]["**"] == 1


def test_file_layouts_and_errors(tmp_path):
    path = tmp_path / "j.jsonl"
    rows = [
        {"uid": "1", "category": "hard_prompt", "games": [{"score": "B>A"}, {"score": "A>B"}]},
        {"uid": "2", "category": "hard_prompt", "games": ["A<B", "A>B"], "answer": "x y", "baseline_answer": "z"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert ah.score_file(path).categories["hard_prompt"].score == 100.0
    with pytest.raises(UserError, match="style control needs"):
        ah.score_file(path, style_control=True)
    path.write_text(json.dumps({"uid": "1", "category": "hard_prompt", "games": ["B>A", "maybe"]}) + "\n")
    with pytest.raises(UserError) as err:
        ah.score_file(path)
    assert "unknown verdict" in err.value.message and err.value.location.line == 1
