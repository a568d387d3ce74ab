"""Where a pair's free-text annotator reasoning lives, whatever file it came from.

Raw HelpSteer3 keeps one entry per annotator in `individual_preference` (`score`, `reasoning`);
in-house data often has a single `reasoning` string or a list of them. Loaders put unknown fields in
`PairItem.extra`, so this reads them from there.
"""

from __future__ import annotations

from typing import Any

from rcstudio.rationale.decompose.prompt import Annotation
from rcstudio.rationale.schema import PairItem

REASONING_KEYS = ("reasoning", "rationale", "annotator_reasoning")


def _score(value: Any) -> int | None:
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None


def annotations_for(item: PairItem) -> list[Annotation]:
    """The annotators' non-empty reasoning texts for `item`, indexed in their source order."""
    found: list[Annotation] = []
    individual = item.extra.get("individual_preference")
    if isinstance(individual, list):
        for idx, entry in enumerate(individual):
            if isinstance(entry, dict):
                text = entry.get("reasoning") or ""
                if isinstance(text, str) and text.strip():
                    found.append(Annotation(idx, text.strip(), _score(entry.get("score"))))
            elif isinstance(entry, str) and entry.strip():
                found.append(Annotation(idx, entry.strip()))
    if found:
        return found
    for key in REASONING_KEYS:
        value = item.extra.get(key)
        texts = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        found = [Annotation(i, t.strip()) for i, t in enumerate(texts) if isinstance(t, str) and t.strip()]
        if found:
            return found
    return []
