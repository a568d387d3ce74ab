"""Benchmark items -> judge tasks, and judge outcomes -> the rows each scorer reads.

Keys are stable strings, so a resumed run finds its earlier calls:
JudgeBench `<pair_id>:0|1` (1 = responses swapped), RM-Bench `<domain>/<id>:<i><j>:<A|B>` (the
letter the chosen response was shown as), Arena-Hard `<uid>:g1|g2` (g1: baseline is A).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from rcstudio.evals import arena_hard, judgebench, rmbench
from rcstudio.evals.prompts import pairwise_messages
from rcstudio.evals.runner import JudgeOutcome, JudgeTask


def _both_orders(key: str, tags: tuple[str, str], prompt: str, first: str, second: str, template: str) -> list[JudgeTask]:
    """Two games on one pair: `<key>:<tags[0]>` shows `first` as A, `<key>:<tags[1]>` shows it as B."""
    return [
        JudgeTask(f"{key}:{tags[0]}", pairwise_messages(prompt, first, second, template)),
        JudgeTask(f"{key}:{tags[1]}", pairwise_messages(prompt, second, first, template)),
    ]


def judgebench_tasks(pairs: Sequence[judgebench.JudgeBenchPair], template: str) -> list[JudgeTask]:
    return [t for p in pairs for t in _both_orders(p.pair_id, ("0", "1"), p.question, p.response_a, p.response_b, template)]


def judgebench_rows(
    pairs: Sequence[judgebench.JudgeBenchPair], outcomes: Mapping[str, JudgeOutcome]
) -> list[judgebench.DecisionRow]:
    found = {(p.pair_id, order): outcomes[f"{p.pair_id}:{order}"].verdict for p in pairs for order in (0, 1)}
    return judgebench.decisions_from_verdicts(pairs, found)


def rmbench_tasks(
    items: Sequence[rmbench.RMBenchItem], order_policy: str, seed: int, template: str
) -> tuple[list[JudgeTask], dict[str, rmbench.Comparison]]:
    tasks, comps = [], {}
    for it in items:
        for c in rmbench.comparisons(it.key, order_policy, seed):
            key = f"{it.key}:{c.i}{c.j}:{'A' if c.chosen_is_a else 'B'}"
            chosen, rejected = it.chosen[c.i], it.rejected[c.j]
            a, b = (chosen, rejected) if c.chosen_is_a else (rejected, chosen)
            tasks.append(JudgeTask(key, pairwise_messages(it.prompt, a, b, template)))
            comps[key] = c
    return tasks, comps


def rmbench_rows(
    items: Sequence[rmbench.RMBenchItem], comps: Mapping[str, rmbench.Comparison], outcomes: Mapping[str, JudgeOutcome]
) -> list[tuple[str, object]]:
    grouped: dict[str, list] = defaultdict(list)
    for key, c in comps.items():
        grouped[c.key].append((c, outcomes[key].verdict))
    return rmbench.matrices_from_verdicts(items, grouped)


def arena_tasks(answers: Sequence[arena_hard.ArenaAnswer], template: str) -> list[JudgeTask]:
    return [t for a in answers for t in _both_orders(a.uid, ("g1", "g2"), a.prompt, a.baseline_answer, a.answer, template)]


def arena_judgments(
    answers: Sequence[arena_hard.ArenaAnswer], outcomes: Mapping[str, JudgeOutcome]
) -> list[arena_hard.Judgment]:
    return [arena_hard.Judgment(a.uid, a.category, (outcomes[f"{a.uid}:g1"].verdict, outcomes[f"{a.uid}:g2"].verdict),
                                arena_hard.answer_style(a.answer, a.baseline_answer))
            for a in answers]
