"""Typed records for preference pairs and the judge outputs stored beside them.

The on-disk schema is RationaleRM's (HelpSteer3 fields plus `human-checklist` and, per stored judge
`<name>`, `<name>-checklist` / `<name>-label` / `<name>-generated_text`). Inside rcstudio every
loader produces `PairItem`, so nothing downstream depends on the file layout.

Conventions: `preference < 0` means response1 (shown as "A") is better, `> 0` response2 ("B"),
`0` a tie, `None` unknown. Human checklist items say "Response 1/2"; judges say "Response A/B".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Message = dict[str, str]


@dataclass
class JudgeOutput:
    """One stored judge's answer for one item: its ordered reasons, verdict label and raw text."""

    checklist: list[str] = field(default_factory=list)
    label: str | None = None
    generated_text: str | None = None

    def to_fields(self, name: str) -> dict[str, Any]:
        return {
            f"{name}-checklist": list(self.checklist),
            f"{name}-label": self.label,
            f"{name}-generated_text": self.generated_text,
        }


@dataclass
class PairItem:
    """One preference pair with its human rationales (atomic checklist) and stored judge outputs."""

    id: str
    domain: str = "general"
    context: list[Message] = field(default_factory=list)
    response1: str = ""
    response2: str = ""
    preference: int | None = None
    human_checklist: list[str] = field(default_factory=list)
    outputs: dict[str, JudgeOutput] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def preference_direction(self) -> int | None:
        """-1 = response1 better, 0 = tie, 1 = response2 better, None = unknown."""
        if self.preference is None:
            return None
        return (self.preference > 0) - (self.preference < 0)

    def to_record(self) -> dict[str, Any]:
        """The RationaleRM-style JSON record (inverse of `data.record_to_item`)."""
        rec: dict[str, Any] = {
            "id": self.id,
            "domain": self.domain,
            "context": [dict(m) for m in self.context],
            "response1": self.response1,
            "response2": self.response2,
            "overall_preference": self.preference,
            "human-checklist": list(self.human_checklist),
        }
        for name, out in self.outputs.items():
            rec.update(out.to_fields(name))
        for key, value in self.extra.items():
            rec.setdefault(key, value)
        return rec
