"""The pairwise verdict alphabet shared by the benchmarks (pure string functions).

Judges write the 5-way `A>>B, A>B, A=B, B>A, B>>A`; files from other tools also use `A<B`,
`B<A`, `A<<B`, `B=A`. Everything is normalised to the 5-way form; JudgeBench only looks at the
direction (`A>B`, `B>A`, `A=B`), Arena-Hard also at the strength.
"""

from __future__ import annotations

VERDICTS = ("A>>B", "A>B", "A=B", "B>A", "B>>A")

_ALIASES = {
    "A>>B": "A>>B",
    "A>B": "A>B",
    "A=B": "A=B",
    "B=A": "A=B",
    "B>A": "B>A",
    "B>>A": "B>>A",
    "A<B": "B>A",
    "A<<B": "B>>A",
    "B<A": "A>B",
    "B<<A": "A>>B",
    "A»B": "A>>B",
    "B»A": "B>>A",
}

_FLIP = {"A>>B": "B>>A", "A>B": "B>A", "A=B": "A=B", "B>A": "A>B", "B>>A": "A>>B"}
_DIRECTION = {"A>>B": "A>B", "A>B": "A>B", "A=B": "A=B", "B>A": "B>A", "B>>A": "B>A"}


def normalize(value: object) -> str | None:
    """The 5-way form of a verdict string; None for null. ValueError for anything else."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"a verdict must be a string or null, got {type(value).__name__}")
    key = value.replace(" ", "").strip()
    if key in _ALIASES:
        return _ALIASES[key]
    raise ValueError(f"unknown verdict {value!r} (expected one of {', '.join(VERDICTS)} or null)")


def flip(verdict: str | None) -> str | None:
    """The same judgement seen with A and B swapped."""
    return None if verdict is None else _FLIP[verdict]


def direction(verdict: str | None) -> str | None:
    """`A>B`, `B>A` or `A=B` (strength dropped); None stays None."""
    return None if verdict is None else _DIRECTION[verdict]


def sign(verdict: str | None) -> int:
    """-1 when A is better, +1 when B is better, 0 for a tie or a missing verdict."""
    d = direction(verdict)
    return -1 if d == "A>B" else 1 if d == "B>A" else 0
