"""When a scoring run has too few valid items to mean anything, it fails (exit 1) with the reason.

A run whose every matcher call failed, or whose every judge output was unparseable, would otherwise
print zeros that look like results. `check_valid` is the one rule, shared by `rcstudio score`, the
eval job (HelpSteer3-Atomic) and any benchmark that counts its failed items (JudgeBench, RM-Bench):
at least one item must be valid, and at least `min_fraction` (`eval.min_valid_fraction`) of the
items that could be scored. Items the *data* excludes (no human rationales, a bad record) are not
counted against the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rcstudio.errors import JobFailed

DEFAULT_MIN_VALID_FRACTION = 0.5
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
