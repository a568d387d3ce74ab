"""When a scoring run has too few valid items to mean anything, it fails (exit 1) with the reason.

A run whose every matcher call failed, or whose every judge output was unparseable, would otherwise
print zeros that look like results. `check_valid` is the one rule, shared by `rcstudio score`, the
eval job (HelpSteer3-Atomic) and any benchmark that counts its failed items (JudgeBench, RM-Bench):
at least one item must be valid, and at least `min_fraction` (`eval.min_valid_fraction`) of the
items that could be scored. Items the *data* excludes (no human rationales, a bad record) are not
counted against the run.

Failure accounting of live judge runs (`call_counts`, `failure_reason`): how many calls failed or gave no verdict, and when a run
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
from dataclasses import dataclass, field
from typing import Any

from rcstudio.errors import JobFailed

DEFAULT_MIN_VALID_FRACTION = 0.95  # eval.min_valid_fraction's default (spec/models.py EvalSection)
# Skip reasons that describe the data, not a failure of this run.
DATA_SKIPS = frozenset({"no human rationales", "bad record in data"})
UNPARSEABLE = "unparseable output"


class TooFewValid(JobFailed):
    """A scoring run whose valid items fell below the threshold (exit 1, job FAILED)."""


@dataclass(frozen=True)
class Validity:
    """How many of a run's scorable items gave a usable score, and why the others did not."""

    what: str  # e.g. "hs3-atomic judge gpt-5"
    scorable: int
    valid: int
    failures: dict[str, int] = field(default_factory=dict)  # reason -> count

    @property
    def fraction(self) -> float:
        return self.valid / self.scorable if self.scorable else 0.0

    def problem(self, min_fraction: float) -> str | None:
        """The failure message, or None when the run has enough valid items."""
        if self.valid > 0 and self.fraction >= min_fraction:
            return None
        why = ", ".join(f"{reason}: {n}" for reason, n in sorted(self.failures.items(), key=lambda kv: -kv[1]))
        need = "none valid" if self.valid == 0 else f"below eval.min_valid_fraction = {min_fraction:g}"
        return (f"{self.what}: {self.valid} of {self.scorable} items valid ({need})"
                + (f"; {why}" if why else ""))


def check_valid(validity: Validity, min_fraction: float = DEFAULT_MIN_VALID_FRACTION) -> None:
    """Raise TooFewValid when `validity` is below the bar."""
    problem = validity.problem(min_fraction)
    if problem:
        raise TooFewValid(problem)


def of_counts(what: str, items: int, failed: Mapping[str, int]) -> Validity:
    """A Validity from a total and failure counts by reason (JudgeBench/RM-Bench style)."""
    bad = {k: int(v) for k, v in failed.items() if v}
    return Validity(what, items, max(0, items - sum(bad.values())), bad)


def of_score(result: Any, what: str) -> Validity:
    """A Validity of a rationale ScoreResult: valid = scored with a parseable output."""
    skipped = dict(result.skipped)
    scorable = result.items - sum(n for reason, n in skipped.items() if reason in DATA_SKIPS)
    failures = {reason: n for reason, n in skipped.items() if reason not in DATA_SKIPS}
    if result.format_errors:
        failures[UNPARSEABLE] = result.format_errors
    return Validity(what, scorable, result.valid - result.format_errors, failures)


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
