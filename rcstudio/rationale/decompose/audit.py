"""A side-by-side markdown report (source reasoning | resulting items) for human spot checks.

The paper checked 93 sampled pairs by hand; this renders a seeded sample in a form a reviewer can
tick off in any markdown viewer.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from rcstudio.rationale.decompose.outcome import PairOutcome
from rcstudio.rationale.decompose.prompt import Annotation
from rcstudio.rationale.schema import PairItem


@dataclass(frozen=True)
class AuditEntry:
    item: PairItem
    annotations: Sequence[Annotation]
    outcome: PairOutcome


def sample_indices(n_total: int, n: int, seed: int) -> list[int]:
    """`n` distinct indices out of `n_total`, seeded, in ascending order (stable across runs)."""
    return sorted(random.Random(seed).sample(range(n_total), min(n, n_total)))


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def _pair_details(item: PairItem, limit: int = 1500) -> list[str]:
    """The conversation and both responses, folded, so a reviewer can check the items against them."""

    def clip(text: str) -> str:
        text = text if len(text) <= limit else text[:limit] + f" [... {len(text) - limit} more characters]"
        return text.replace("~~~", "~ ~ ~")  # keep the fence closed

    turns = "\n".join(f"[{m.get('role', 'user')}] {m.get('content', '')}" for m in item.context) or "(none)"
    return [
        "<details><summary>conversation and responses</summary>",
        "",
        "~~~text",
        clip(turns),
        "--- Response 1 ---",
        clip(item.response1),
        "--- Response 2 ---",
        clip(item.response2),
        "~~~",
        "</details>",
        "",
    ]


def render_audit(entries: Sequence[AuditEntry], *, source: str, model: str, prompt_version: str, total: int, seed: int) -> str:
    lines = [
        "# Decomposition audit",
        "",
        f"- source: `{source}`",
        f"- model: `{model}`, prompt: `{prompt_version}`",
        f"- {len(entries)} of {total} pairs sampled (seed {seed})",
        "",
        "For each pair check: every item was said by an annotator (nothing added); each item is one",
        "concrete, checkable point; no concrete point of the annotators is missing; dropped statements",
        "really are generic or duplicates.",
        "",
    ]
    for i, e in enumerate(entries, 1):
        o = e.outcome
        p = e.item.preference
        pref = "" if p is None else " · tie" if p == 0 else f" · preference {p:+d}"
        n = "" if o.n_items is None else f", {o.n_items} items"
        status = o.status + (f" ({o.reason})" if o.reason else "") + n
        lines += [f"## {i}. `{e.item.id}` · {e.item.domain}{pref} · {status}", ""]
        source_cell = "<br><br>".join(
            f"**Annotator {a.annotator + 1}**" + ("" if a.score is None else f" ({a.score:+d})") + f": {_cell(a.reasoning)}"
            for a in e.annotations
        ) or "_(no reasoning)_"
        d = o.decomposition
        if d is None:
            items_cell = "_(none)_"
        elif d.items:
            items_cell = "<br>".join(f"{j}. {_cell(t)}" for j, t in enumerate(d.items, 1))
        else:
            items_cell = f"_(empty: {_cell(d.empty_reason or 'no reason given')})_"
        lines += ["| source reasoning | resulting items |", "|---|---|", f"| {source_cell} | {items_cell} |", ""]
        lines += _pair_details(e.item)
        if d is not None and d.dropped:
            lines.append("Dropped:")
            lines += [f"- {t.text!r}: {t.reason}" for t in d.dropped]
            lines.append("")
        lines += ["- [ ] faithful (nothing added)  - [ ] atomic  - [ ] complete", ""]
    return "\n".join(lines)
