"""Failure accounting of live judge runs: how many calls failed or gave no verdict, and when a run
with too many failed calls is a failed job rather than a score.

Two kinds of bad outcome, kept apart because they mean different things:
* a *failed call* (timeout, refused, crashed) is the infrastructure's failure: the item was never
  judged, so a score over the rest measures a different sample. Past the threshold the job FAILS
  (its results are still written, and a rerun retries exactly the failed calls).
* an *unparsed reply* is the judge's own failure: official scorers count it as a wrong decision, so
  it stays in the score, and is reported next to it (report / results table / W&B) so that a judge
  that never followed the format does not read as a plain 0.0.

The threshold is `eval.min_valid_fraction` (the spec key shared with the hs3/score checks) when the
spec has it, else `DEFAULT_MIN_VALID_FRACTION`: `min_valid_fraction(spec)` is the one place it is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFAULT_MIN_VALID_FRACTION = 0.95


def min_valid_fraction(spec: Any) -> float:
    """The share of judge calls that must come back for a live eval to count."""
    value = getattr(getattr(spec, "eval", None), "min_valid_fraction", None)
    return DEFAULT_MIN_VALID_FRACTION if value is None else float(value)


def call_counts(outcomes: Mapping[str, Any]) -> dict[str, Any]:
    """Counts and rates of one benchmark's judge outcomes (written as `calls` in its results)."""
    values = list(outcomes.values())
    n = len(values)
    failed = sum(o.call_failed for o in values)
    unparsed = sum((not o.call_failed) and o.verdict is None for o in values)
    return {
        "n": n,
        "call_failures": failed,
        "parse_failures": unparsed,
        "cached": sum(bool(o.cached) for o in values),
        "call_failure_rate": round(failed / n, 4) if n else 0.0,
        "parse_failure_rate": round(unparsed / n, 4) if n else 0.0,
        "first_error": next((o.error for o in values if o.call_failed and o.error), None),
    }


def call_metrics(calls: Mapping[str, Any]) -> dict[str, float]:
    """The W&B keys of a benchmark's call counts (under its `eval/<benchmark>/` prefix)."""
    return {k: float(calls[k]) for k in ("call_failures", "parse_failures", "call_failure_rate",
                                          "parse_failure_rate") if k in calls}


def failure_reason(benchmark: str, calls: Mapping[str, Any], min_fraction: float) -> str | None:
    """Why a live benchmark run does not count (None when enough calls came back)."""
    n, failed = int(calls.get("n") or 0), int(calls.get("call_failures") or 0)
    if not n or not failed:
        return None
    answered = (n - failed) / n
    if answered >= min_fraction:
        return None
    error = calls.get("first_error")
    return (f"{benchmark}: {failed} of {n} judge calls failed ({answered:.0%} answered < "
            f"eval.min_valid_fraction {min_fraction:.0%})" + (f"; first error: {error}" if error else ""))
