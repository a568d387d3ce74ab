"""The hybrid reward (method.md 6): forms, rationale metric, format penalty, tie policy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcstudio.rationale.metrics import LEVELS, item_metrics
from rcstudio.rationale.parse import VERDICTS, parse_judgment
from rcstudio.rationale.reward import RewardSettings, hybrid_reward, needs_matching, outcome_reward

# AP of this matrix is (1/1 + 2/2)/3 = 2/3, RC 2/3
S = np.zeros((3, 5))
S[0, 0] = S[1, 1] = 1.0
GOOD = "<RESULT_START>\n1. A is right about X.\n2. B is wrong about Y.\n\\boxed{A>B}\n<RESULT_END>"


def test_gated_is_ap_times_outcome():
    g = RewardSettings(form="gated")
    right = hybrid_reward(parse_judgment(GOOD), S, -2, g)
    assert right.total == pytest.approx(2 / 3)
    assert (right.outcome, right.rationale, right.format_error) == (1.0, pytest.approx(2 / 3), False)
    assert right.rc == pytest.approx(2 / 3) and right.ap == pytest.approx(2 / 3)
    wrong = hybrid_reward("A>B", S, 3, g)
    assert wrong.total == 0.0 and wrong.outcome == 0.0


def test_additive_mixes():
    a = RewardSettings(form="additive", alpha=0.8)
    assert hybrid_reward("A>B", S, -1, a).total == pytest.approx(0.8 * 2 / 3 + 0.2)
    assert hybrid_reward("B>A", S, -1, a).total == pytest.approx(0.8 * 2 / 3)
    outcome_only = RewardSettings(form="additive", alpha=0.0)
    assert hybrid_reward("A>B", S, -1, outcome_only).total == 1.0


def test_rationale_metric_choice():
    s = np.zeros((2, 3))
    s[0, 2] = 1.0  # RC 0.5, AP (1/3)/2, precision 1/3
    m = item_metrics(s, top_k=0)
    for metric, expected in (("ap", m.ap), ("recall", m.rc), ("f1", m.f1)):
        r = hybrid_reward("B>A", s, 2, RewardSettings(rationale_metric=metric))
        assert r.rationale == pytest.approx(expected)
        assert r.total == pytest.approx(expected)


def test_format_error_gets_penalty():
    settings_ = RewardSettings(format_penalty=-0.5)
    broken = parse_judgment("I like A more.")
    r = hybrid_reward(broken, None, -1, settings_)
    assert r.format_error and r.total == -0.5 and r.rc is None
    assert hybrid_reward(None, None, -1, settings_).format_error
    no_reasons = parse_judgment("<RESULT_START>\n\\boxed{A>B}\n<RESULT_END>")
    assert hybrid_reward(no_reasons, None, -1, settings_).total == -0.5


def test_tie_policy():
    assert outcome_reward("A>B", 0, "skip") is None
    assert outcome_reward("A=B", 0, "half") == 1.0
    assert outcome_reward("A>B", 0, "half") == 0.5
    assert outcome_reward("B>>A", 0, "wrong") == 0.0
    assert outcome_reward("A=B", 0, "wrong") == 1.0
    assert outcome_reward("A=B", -1, "half") == 0.0
    assert outcome_reward("A>B", None, "half") is None
    skipped = hybrid_reward("A>B", S, 0, RewardSettings(tie_policy="skip"))
    assert skipped.skipped and skipped.total == 0.0
    half = hybrid_reward("A>B", S, 0, RewardSettings(tie_policy="half"))
    assert half.total == pytest.approx(0.5 * 2 / 3)


def test_needs_matching_and_missing_scores():
    g = RewardSettings(form="gated")
    assert needs_matching(g, 1.0) and not needs_matching(g, 0.0) and not needs_matching(g, None)
    assert not needs_matching(g, 1.0, format_error=True)
    a = RewardSettings(form="additive", alpha=0.5)
    assert needs_matching(a, 0.0)
    assert not needs_matching(RewardSettings(form="additive", alpha=0.0), 1.0)
    r = hybrid_reward("B>A", None, -1, g)  # wrong: the matcher was skipped
    assert r.total == 0.0 and r.rc is None and r.outcome == 0.0
    with pytest.raises(ValueError):
        hybrid_reward("A>B", None, -1, g)  # right: scores are needed
    assert hybrid_reward("A>B", None, -1, RewardSettings(form="additive", alpha=0.0)).total == 1.0


def test_settings_from_spec_and_validation():
    class Section:
        form = "additive"
        alpha = 0.5
        rationale_metric = "f1"
        format_penalty = -1.0
        tie_policy = "half"

    s = RewardSettings.from_spec(Section())
    assert (s.form, s.alpha, s.rationale_metric, s.format_penalty, s.tie_policy) == ("additive", 0.5, "f1", -1.0, "half")
    assert RewardSettings.from_spec({"form": "gated", "alpha": None}).alpha == 0.8
    for bad in ({"form": "sum"}, {"alpha": 1.5}, {"rationale_metric": "ndcg"}, {"tie_policy": "coin"}):
        with pytest.raises(ValueError):
            RewardSettings(**bad)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 6).flatmap(lambda n: st.integers(0, 7).flatmap(
        lambda k: st.lists(st.sampled_from(LEVELS), min_size=n * k, max_size=n * k).map(
            lambda v: np.array(v, dtype=float).reshape(n, k)))),
    st.sampled_from(VERDICTS),
    st.sampled_from([-3, -2, -1, 1, 2, 3]),
    st.sampled_from(["ap", "recall", "f1"]),
)  # fmt: skip
def test_gated_reward_is_zero_whenever_outcome_is_zero(s, verdict, preference, metric):
    r = hybrid_reward(verdict, s, preference, RewardSettings(form="gated", rationale_metric=metric))
    assert 0.0 <= r.total <= 1.0
    if r.outcome == 0.0:
        assert r.total == 0.0
    else:
        assert r.total == pytest.approx(r.rationale)
