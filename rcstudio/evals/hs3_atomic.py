"""HelpSteer3-Atomic: RC, precision, F1, AP and OA through the rationale core's score pipeline.

Two ways in:
* stored judges - outputs already in the data (`<name>-checklist/-label/-generated_text`) are
  re-scored with the configured matcher, no judge call (`score_stored`);
* a live judge - the GenRM prompt of `rationale/prompt.py` (top-k reasons + boxed verdict) goes
  through the judge runner, the replies become that judge's outputs, then the same scoring
  (`judge_tasks` + `attach_outputs`). Order policy: `random` swaps each item by a seeded coin per
  item id (`rationale.prompt.orders`, the one training prep uses),
  `both` judges every item in both orders (each order scored as its own item).
The result objects are `rationale.score.ScoreResult`: `to_json()` is `rcstudio score --json`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from rcstudio.errors import UserError
from rcstudio.evals.runner import JudgeOutcome, JudgeTask
from rcstudio.rationale.schema import JudgeOutput, PairItem

METRICS = ("rc", "precision", "f1", "ap", "oa")


def available_judges(items: Sequence[PairItem]) -> list[str]:
    return sorted({name for it in items for name in it.outputs})


def score_judge(items: Sequence[PairItem], judge: str, spec: Any, matcher: Any | None = None) -> Any:
    """One judge's ScoreResult with the spec's matcher, top-k, reward and bootstrap settings (the
    paper variant), so stored and live judges are scored alike."""
    from rcstudio.rationale.matchers import make_matcher
    from rcstudio.rationale.reward import RewardSettings
    from rcstudio.rationale.score import score_items

    return score_items(items, judge, matcher or make_matcher(spec.reward.matcher), top_k=spec.judge.top_k or 5,
                       variant="paper", reward=RewardSettings.from_spec(spec.reward),
                       bootstrap=spec.eval.bootstrap, seed=spec.eval.seed)


def score_stored(items: Sequence[PairItem], judges: Sequence[str], spec: Any, matcher: Any | None = None) -> dict[str, Any]:
    """{judge: ScoreResult} for judges whose outputs are stored beside the items."""
    from rcstudio.rationale.matchers import make_matcher

    known = available_judges(items)
    missing = [j for j in judges if j not in known]
    if missing:
        raise UserError(f"no stored outputs for {', '.join(map(repr, missing))} in the eval data",
                        key="eval.stored_judges", hint="judges found: " + (", ".join(known) or "(none)"))
    matcher = matcher or make_matcher(spec.reward.matcher)  # built once for all judges
    return {j: score_judge(items, j, spec, matcher) for j in judges}


def judge_tasks(
    items: Sequence[PairItem], top_k: int, template: str, order_policy: str, seed: int
) -> tuple[list[JudgeTask], list[PairItem]]:
    """Judge calls and the item copies they score (`extra["swapped"]` set where the judge saw
    response2 as A, which the score pipeline flips back)."""
    from rcstudio.rationale.prompt import orders, render_judge_messages

    if order_policy not in ("random", "both"):
        raise UserError(f"unknown order policy {order_policy!r}", key="eval.order_policy", hint="both or random")
    tasks: list[JudgeTask] = []
    copies: list[PairItem] = []
    for it in items:
        for swapped in orders(it.id, order_policy, seed):  # the swaps training prep makes too
            key = f"{it.id}:{'swapped' if swapped else 'original'}"
            copy_id = key if order_policy == "both" else it.id
            copies.append(replace(it, id=copy_id, extra={**it.extra, "swapped": swapped, "task_key": key}, outputs={}))
            tasks.append(JudgeTask(key, render_judge_messages(it, top_k=top_k, swapped=swapped, template=template)))
    return tasks, copies


def attach_outputs(copies: Sequence[PairItem], outcomes: Mapping[str, JudgeOutcome], name: str) -> list[PairItem]:
    """Items carrying the judge's replies as stored output `name` (a failed call = no reasons, no verdict)."""
    out = []
    for it in copies:
        o = outcomes[it.extra["task_key"]]
        output = JudgeOutput(checklist=list(o.reasons), label=o.verdict, generated_text=o.text or "")
        out.append(replace(it, outputs={name: output}))
    return out


def metrics_of(result: Any) -> dict[str, float]:
    """The headline numbers (fractions) of a ScoreResult's JSON, for W&B and summaries."""
    data = result.to_json() if hasattr(result, "to_json") else result
    return {m: data[m]["mean"] for m in METRICS if data.get(m) and data[m].get("mean") is not None}
