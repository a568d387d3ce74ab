"""RC / precision / F1 / AP by hand (method.md 5), the reference variant, and properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcstudio.rationale.metrics import (
    LEVELS,
    aggregate,
    bootstrap_mean,
    item_metrics,
    one_to_one,
    outcome_correct,
)


def matrix(n, k, ones=(), values=None):
    s = np.zeros((n, k))
    for i, j in ones:
        s[i, j] = 1.0
    for (i, j), v in (values or {}).items():
        s[i, j] = v
    return s


def test_paper_ap_example_ranks_1_2():
    m = item_metrics(matrix(3, 5, ones=[(0, 0), (1, 1)]))
    assert m.ap == pytest.approx((1 / 1 + 2 / 2) / 3)
    assert round(m.ap, 3) == 0.667
    assert m.rc == pytest.approx(2 / 3)
    assert m.precision == pytest.approx(2 / 5)
    assert m.f1 == pytest.approx(2 * 0.4 * (2 / 3) / (0.4 + 2 / 3))


def test_paper_ap_example_ranks_2_5():
    m = item_metrics(matrix(3, 5, ones=[(0, 1), (1, 4)]))
    assert m.ap == pytest.approx((1 / 2 + 2 / 5) / 3)
    assert round(m.ap, 3) == 0.300
    assert m.matched == (1, 4)


def test_broad_reason_cannot_collect_two_human_points():
    # one model reason fully matches both human points: one-to-one gives it credit once
    m = item_metrics(np.array([[1.0], [1.0]]))
    assert m.rc == 0.5 and m.s_total == 1.0
    assert m.ap == pytest.approx(0.5)
    assert m.precision == 1.0
    ref = item_metrics(np.array([[1.0], [1.0]]), variant="reference")
    assert ref.rc == 1.0  # the released script has no one-to-one constraint
    assert ref.ap == pytest.approx(0.5)


def test_assignment_is_optimal_not_greedy():
    # greedy would take (0,0)=1 and leave (1,1)=0: total 1; the optimum pairs the 0.75s: 1.5
    s = np.array([[1.0, 0.75], [0.75, 0.0]])
    assert sorted(one_to_one(s)) == [(0, 1, 0.75), (1, 0, 0.75)]
    m = item_metrics(s)
    assert m.rc == pytest.approx(0.75)
    assert m.precision == pytest.approx(0.75)  # min(k=2, K=5) = 2
    assert m.ap == pytest.approx((0.75 / 1 + 1.5 / 2) / 2)


def test_fractional_scores_hand_computed():
    s = matrix(2, 3, values={(0, 0): 0.5, (1, 2): 1.0})
    m = item_metrics(s)
    assert m.rc == pytest.approx(0.75)
    assert m.precision == pytest.approx(1.5 / 3)
    assert m.f1 == pytest.approx(2 * 0.5 * 0.75 / 1.25)
    assert m.ap == pytest.approx((0.5 / 1 + 1.5 / 3) / 2)


def test_top_k_truncates_model_reasons():
    s = matrix(2, 6, ones=[(0, 5)])
    assert item_metrics(s, top_k=5).rc == 0.0
    assert item_metrics(s, top_k=5).n_model == 5
    free = item_metrics(s, top_k=0)
    assert free.rc == 0.5 and free.precision == pytest.approx(1 / 6) and free.ap == pytest.approx(0.5 * 1 / 6)


def test_equal_total_prefers_earlier_reason():
    # both model reasons fully match the single human point: credit goes to reason 1 (AP = 1)
    m = item_metrics(np.array([[1.0, 1.0]]))
    assert m.matched == (0,) and m.ap == 1.0


def test_reference_variant_hand_derived():
    s = np.zeros((3, 6))
    s[0, 1] = 1.0
    s[1, 1] = 0.5
    s[1, 4] = 0.5  # tie: the first (index 1) wins
    s[2, 5] = 1.0  # beyond the first 5: ignored
    ref = item_metrics(s, variant="reference")
    assert ref.rc == pytest.approx((1 + 0.5 + 0) / 3)
    assert ref.matched == (1,)
    assert ref.ap == pytest.approx((1 / 1) / 3)
    assert ref.precision == pytest.approx(1 / 5)
    assert ref.f1 == pytest.approx(2 * 0.2 * 0.5 / 0.7)
    paper = item_metrics(s)
    assert paper.rc == pytest.approx(0.5)
    assert paper.precision == pytest.approx(1.5 / 5)
    assert paper.ap == pytest.approx((1 / 2 + 1.5 / 5) / 3)


def test_reference_best_reason_below_rank_5_drops_the_match():
    """The released script's matcher picks each human point's best reason among ALL reasons; the
    analysis then drops matches beyond min(k, 5). Hand-computed with k = 7:
      point 0: 0.5 at reason 0, 1.0 at reason 5 -> best is reason 5 (rank 6) -> dropped -> 0
      point 1: 1.0 at reason 1                  -> kept
      point 2: all zeros                        -> no match
    RC = (0 + 1 + 0) / 3, matched = {1}, AP = (1/1) / 3, precision = 1 / min(7, 5), F1 = 2PR/(P+R).
    Picking the best among the first 5 only (the old behaviour) would give point 0 a 0.5 at rank 1:
    RC = 1.5 / 3 = 0.5 and AP = (0.5/1 + 1.5/2) / 3 = 0.4167 - higher on both."""
    s = np.zeros((3, 7))
    s[0, 0], s[0, 5] = 0.5, 1.0
    s[1, 1] = 1.0
    ref = item_metrics(s, top_k=5, variant="reference")
    assert ref.rc == pytest.approx(1 / 3)
    assert ref.matched == (1,)
    assert ref.ap == pytest.approx(1 / 3)
    assert ref.precision == pytest.approx(1 / 5)
    assert ref.f1 == pytest.approx(2 * 0.2 * (1 / 3) / (0.2 + 1 / 3))
    assert ref.rc < 0.5 and ref.ap < (0.5 / 1 + 1.5 / 2) / 3
    # with no cut (top_k = 0) the same best reason counts, at its own rank among the matched ones
    full = item_metrics(s, top_k=0, variant="reference")
    assert full.rc == pytest.approx(2 / 3) and full.matched == (1, 5)
    assert full.ap == pytest.approx((1 / 1 + 2 / 2) / 3)
    # ties among all reasons: the first wins, even when a later tie sits within the first 5
    t = np.zeros((1, 7))
    t[0, 2] = t[0, 6] = 0.5
    assert item_metrics(t, variant="reference").matched == (2,)


def test_reference_ignores_gaps():
    s = matrix(3, 5, ones=[(0, 1), (1, 4)])
    assert item_metrics(s, variant="reference").ap == pytest.approx((1 + 1) / 3)  # like ranks 1, 2
    assert item_metrics(s, variant="paper").ap == pytest.approx(0.3)


def test_reference_skips_items():
    assert item_metrics(np.zeros((3, 11)), variant="reference").skipped == "more than 10 model reasons"
    assert item_metrics(np.zeros((3, 0)), variant="reference").skipped == "no model reasons"
    assert item_metrics(np.zeros((3, 10)), variant="reference").skipped is None
    paper = item_metrics(np.zeros((3, 0)))
    assert paper.skipped is None and paper.rc == 0.0 and paper.ap == 0.0
    assert item_metrics(np.zeros((0, 3))).skipped == "no human rationales"


def test_bad_input_is_rejected():
    with pytest.raises(ValueError):
        item_metrics(np.array([[1.5]]))
    with pytest.raises(ValueError):
        item_metrics(np.array([1.0, 0.0]))
    with pytest.raises(ValueError):
        item_metrics(np.eye(2), variant="other")


def test_outcome_correct():
    assert outcome_correct("A>>B", -3) is True
    assert outcome_correct("A>B", 2) is False
    assert outcome_correct("B>A", 1) is True
    assert outcome_correct("A=B", 1) is False
    assert outcome_correct(None, 1) is False
    assert outcome_correct("A>B", 0) is None
    assert outcome_correct("A>B", None) is None


def test_aggregate_and_bootstrap():
    items = [item_metrics(matrix(2, 2, ones=[(0, 0)])), item_metrics(np.eye(2)), item_metrics(np.zeros((0, 2)))]
    agg = aggregate(items, bootstrap=500, seed=3)
    assert agg.n == 2 and agg.skipped == 1 and agg.skipped_reasons == {"no human rationales": 1}
    assert agg.rc.mean == pytest.approx(0.75)
    assert agg.rc.ci_low <= agg.rc.mean <= agg.rc.ci_high
    assert 0.5 <= agg.rc.ci_low and agg.rc.ci_high <= 1.0
    assert aggregate(items, bootstrap=500, seed=3) == agg  # seeded: reproducible
    one = bootstrap_mean([0.4])
    assert (one.mean, one.ci_low, one.ci_high) == (0.4, 0.4, 0.4)
    wide = bootstrap_mean([0.0, 1.0] * 50, bootstrap=2000, seed=0)
    assert 0.38 < wide.ci_low < 0.5 < wide.ci_high < 0.62


# ---- properties ---------------------------------------------------------------------------------

level = st.sampled_from(LEVELS)


@st.composite
def score_matrices(draw, min_k=0):
    n = draw(st.integers(1, 7))
    k = draw(st.integers(min_k, 8))
    vals = draw(st.lists(level, min_size=n * k, max_size=n * k))
    return np.array(vals, dtype=float).reshape(n, k)


@settings(max_examples=200, deadline=None)
@given(score_matrices(), st.sampled_from(["paper", "reference"]), st.integers(0, 6))
def test_metrics_in_unit_interval(s, variant, top_k):
    m = item_metrics(s, top_k=top_k, variant=variant)
    for v in (m.rc, m.precision, m.f1, m.ap):
        assert 0.0 <= v <= 1.0 + 1e-12


@settings(max_examples=200, deadline=None)
@given(score_matrices(), st.randoms(use_true_random=False))
def test_rc_invariant_to_permuting_human_items(s, rnd):
    perm = list(range(s.shape[0]))
    rnd.shuffle(perm)
    assert item_metrics(s[perm]).rc == pytest.approx(item_metrics(s).rc, abs=1e-9)
    assert item_metrics(s[perm]).precision == pytest.approx(item_metrics(s).precision, abs=1e-9)


@settings(max_examples=300, deadline=None)
@given(score_matrices(min_k=2), st.data())
def test_moving_a_matched_reason_earlier_never_lowers_ap(s, data):
    base = item_metrics(s, top_k=0)
    if not base.matched:
        return
    j = data.draw(st.sampled_from(base.matched))
    free = [c for c in range(j) if c not in base.matched]
    if not free:
        return
    target = data.draw(st.sampled_from(free))
    order = list(range(s.shape[1]))
    order[j], order[target] = order[target], order[j]
    moved = item_metrics(s[:, order], top_k=0)
    assert moved.ap >= base.ap - 1e-9
    assert moved.rc == pytest.approx(base.rc, abs=1e-9)
