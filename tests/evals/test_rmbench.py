"""RM-Bench scorer on the real shared subsets with constructed scores whose answer is known."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rcstudio.errors import UserError
from rcstudio.evals import rmbench as rb


@pytest.fixture(scope="module")
def subset(shared_dir):
    return rb.load_items(shared_dir / "data" / "rmbench_subset_40_nomath.json")


@pytest.fixture(scope="module")
def chat(shared_dir):
    return rb.load_items(shared_dir / "data" / "rmbench_chat_filtered.json", default_domain="chat")


def test_loaders_read_the_real_files(subset, chat):
    assert len(subset) == 40 and len(chat) == 129
    assert {it.domain for it in subset} == {"chat", "code", "safety-refuse", "safety-response"}
    assert {it.score_domain for it in subset} == {"chat", "code", "safety"}
    assert all(len(it.chosen) == 3 and len(it.rejected) == 3 for it in subset + chat)
    assert len({it.key for it in subset}) == 40  # ids repeat across domains upstream


def _rows(items, score_fn):
    return [{"id": it.id, "domain": it.domain, "score_chosen": [score_fn(it, True, i) for i in range(3)],
             "score_rejected": [score_fn(it, False, j) for j in range(3)]} for it in items]


def _write(tmp_path, rows, name="scores.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_perfect_judge_scores_100(tmp_path, subset):
    r = rb.score_file(_write(tmp_path, _rows(subset, lambda it, c, i: 1.0 if c else 0.0)))
    assert r.overall == r.hard == r.normal == r.easy == 100.0
    assert set(r.domains) == {"chat", "code", "safety"}
    assert r.domains["safety"].n == 20  # both safety subsets pooled


def test_style_biased_judge_fails_hard_only(tmp_path, chat):
    # Score = style level (+0.5 for being correct): chosen i beats rejected j iff i >= j.
    r = rb.score_file(_write(tmp_path, _rows(chat, lambda it, c, i: i + (0.5 if c else 0.0))))
    assert (r.hard, r.normal, r.easy) == (0.0, 100.0, 100.0)
    assert r.overall == pytest.approx(66.67)


def test_ties_are_losses(tmp_path, subset):
    r = rb.score_file(_write(tmp_path, _rows(subset, lambda it, c, i: 3.0)))
    assert r.overall == 0.0


def test_domains_pool_and_average(tmp_path, subset):
    def fn(it, chosen, i):
        if it.domain == "chat":  # perfect
            return 1.0 if chosen else 0.0
        if it.domain == "code":  # style-biased
            return i + (0.5 if chosen else 0.0)
        if it.domain == "safety-refuse":  # perfect
            return 1.0 if chosen else 0.0
        return 0.0  # safety-response: all ties

    r = rb.score_file(_write(tmp_path, _rows(subset, fn)))
    assert r.domains["chat"].score == 100.0
    assert r.domains["code"].score == pytest.approx(66.67)
    assert r.domains["safety"].score == 50.0 and r.domains["safety"].n == 20
    assert r.overall == pytest.approx((100 + 200 / 3 + 50) / 3, abs=0.01)
    assert r.hard == pytest.approx((100 + 0 + 50) / 3, abs=0.01)


def test_upper_triangle_is_hard():
    # Chosen concise (0) loses to rejected markdown (2): only cell (0, 2) is lost -> hard 2/3.
    m = rb.score_matrix([1.0, 5.0, 5.0], [0.0, 0.0, 2.0])
    assert m.tolist() == [[1, 1, 0], [1, 1, 1], [1, 1, 1]]
    hard, normal, easy = rb.matrix_accuracy([m])
    assert (round(hard, 2), normal, easy) == (66.67, 100.0, 100.0)


def test_subset_names_map_to_domains(tmp_path, subset):
    rows = _rows(subset, lambda it, c, i: 1.0 if c else 0.0)
    for row, it in zip(rows, subset):
        del row["domain"]
        row["subset"] = it.subset
    assert set(rb.score_file(_write(tmp_path, rows)).domains) == {"chat", "code", "safety"}


def test_pairwise_order_policies(subset):
    comps = rb.comparisons("chat/8", "random", seed=3)
    assert len(comps) == 9 and comps == rb.comparisons("chat/8", "random", seed=3)
    assert len(rb.comparisons("chat/8", "both", seed=3)) == 18
    # A judge that always says A>B: with both orders every cell is half won.
    results = {it.key: [(c, "A>B") for c in rb.comparisons(it.key, "both", 0)] for it in subset}
    r = rb.score(rb.matrices_from_verdicts(subset, results), order_policy="both")
    assert r.overall == 50.0
    # With one random order it wins exactly the comparisons where chosen was shown as A.
    results = {it.key: [(c, "A>B") for c in rb.comparisons(it.key, "random", 0)] for it in subset}
    shown_a = np.mean([c.chosen_is_a for v in results.values() for c, _ in v])
    rows = rb.matrices_from_verdicts(subset, results)
    assert np.mean([m.mean() for _, m in rows]) == pytest.approx(shown_a)
    with pytest.raises(UserError):
        rb.comparisons("x", "sometimes", 0)


@pytest.mark.parametrize(
    "row, needle",
    [
        ({"id": 1, "domain": "chat", "score_chosen": [1, 2], "score_rejected": [0, 0, 0]}, "3 values"),
        ({"id": 1, "domain": "poetry", "score_chosen": [1, 2, 3], "score_rejected": [0, 0, 0]}, "unknown RM-Bench"),
        ({"id": 1, "score_chosen": [1, 2, 3], "score_rejected": [0, 0, 0]}, "missing 'domain'"),
        ({"id": 1, "domain": "chat", "score_chosen": [1, "x", 3], "score_rejected": [0, 0, 0]}, "3 values"),
        ({"id": 1, "domain": "chat", "matrix": [[2, 0, 0], [0, 0, 0], [0, 0, 0]]}, "3x3"),
    ],
)
def test_bad_rows(tmp_path, row, needle):
    path = tmp_path / "s.json"
    good = {"id": 0, "domain": "chat", "score_chosen": [1, 2, 3], "score_rejected": [0, 0, 0]}
    path.write_text("[\n" + json.dumps(good) + ",\n" + json.dumps(row) + "\n]\n")
    with pytest.raises(UserError) as err:
        rb.score_file(path)
    assert needle in err.value.message and err.value.location.line == 3
