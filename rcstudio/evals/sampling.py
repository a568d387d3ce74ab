"""Which items an eval keeps when it is capped: a seeded sample stratified by category.

Why not the first N: benchmark files are sorted (RM-Bench by domain, so its first 10 prompts are
all chat), and a capped run should measure the same mix as the full one. Each stratum (JudgeBench
source category, RM-Bench domain, Arena-Hard category, HelpSteer3 domain) gets a share proportional
to its size (largest remainders, at least one item per stratum while the cap allows), items are
drawn with `random.Random(seed)`, and the kept items stay in file order. Pure.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def allocate(sizes: dict[str, int], n: int) -> dict[str, int]:
    """Items per stratum for a cap of `n`: one per stratum first when `n` allows, the rest in
    proportion to what each stratum has left (largest remainders; ties to the bigger stratum)."""
    total = sum(sizes.values())
    if n >= total:
        return dict(sizes)
    order = sorted(sizes)  # deterministic tie-breaks
    out = {s: 0 for s in order}
    if n >= len(order):
        out = {s: 1 for s in order}
    left = n - sum(out.values())
    rest = {s: sizes[s] - out[s] for s in order}
    rest_total = sum(rest.values())
    if left > 0 and rest_total:
        exact = {s: left * rest[s] / rest_total for s in order}
        for s in order:
            out[s] += int(exact[s])
        remaining = n - sum(out.values())
        by_remainder = sorted(order, key=lambda s: (-(exact[s] - int(exact[s])), -sizes[s], s))
        for s in by_remainder[:remaining]:
            out[s] += 1
    return out


def stratified_sample(items: Sequence[T], n: int, stratum: Callable[[T], str], seed: int) -> list[T]:
    """`n` items (all when `n` is 0 or covers them), stratified by `stratum`, in their original order."""
    if not n or n >= len(items):
        return list(items)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        groups[str(stratum(item))].append(i)
    quota = allocate({s: len(ix) for s, ix in groups.items()}, n)
    rng = random.Random(f"rcstudio-eval-sample:{seed}")
    keep: set[int] = set()
    for s in sorted(groups):
        keep.update(rng.sample(groups[s], quota[s]))
    return [items[i] for i in sorted(keep)]
