"""Parse and validate the decomposition LLM's reply into a `Decomposition`.

`parse_reply` raises `ReplyError` (a ValueError) for replies that break the format, so the LLM
client's validate hook can re-ask once with the error message. Beyond the model's own work it applies
a few deterministic rules that must hold whatever the model did: "@Response N" is resolved, exact
duplicates are merged, bare verdicts are moved to `dropped` with a reason.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any


class ReplyError(ValueError):
    """The reply is not the JSON object the prompt asks for (message says what is wrong)."""


@dataclass(frozen=True)
class Dropped:
    text: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"text": self.text, "reason": self.reason}


@dataclass(frozen=True)
class Decomposition:
    """Atomic rationales for one pair, what was left out and why, and why it is empty if it is."""

    items: tuple[str, ...]
    dropped: tuple[Dropped, ...] = ()
    empty_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": list(self.items),
            "dropped": [d.to_dict() for d in self.dropped],
            "empty_reason": self.empty_reason,
        }


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S | re.I)
_AT_RESPONSE = re.compile(r"@\s*response\s*([12])\b", re.I)
_WS = re.compile(r"\s+")
# A whole item that only states a preference or a generic quality, with no checkable content.
_GENERIC = re.compile(
    r"^i\s+(?:prefer|like|chose|choose)\s+response\s*[12](?:\s+(?:more|overall))?\s*[.!]?$|"
    r"^(?:overall,?\s*)?(?:i\s+(?:think|feel|prefer)\s+)?(?:response\s*[12]\s+)?"
    r"(?:is\s+|was\s+)?(?:slightly\s+|much\s+|clearly\s+|far\s+|a\s+bit\s+)?"
    r"(?:better|worse|preferred|preferable|superior|inferior|more\s+helpful|less\s+helpful|"
    r"more\s+useful|less\s+useful|the\s+better\s+(?:one|response)|the\s+winner)"
    r"(?:\s+(?:than|over)\s+response\s*[12])?(?:\s+overall)?\s*[.!]?$",
    re.I,
)


def resolve_mentions(text: str) -> str:
    """'@Response 1' / '@response2' -> 'Response 1' / 'Response 2'; whitespace collapsed."""
    return _WS.sub(" ", _AT_RESPONSE.sub(lambda m: f"Response {m.group(1)}", text)).strip()


def is_generic(text: str) -> bool:
    """True for bare verdicts such as 'Response 1 is better.' or 'More helpful overall'."""
    return bool(_GENERIC.match(text.strip()))


def _extract_object(text: str) -> Any:
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for chunk in candidates:
        start = chunk.find("{")
        while start != -1:
            try:
                value, _ = decoder.raw_decode(chunk, start)
                return value
            except json.JSONDecodeError:
                start = chunk.find("{", start + 1)
    raise ReplyError("the reply holds no JSON object; answer with one JSON object only")


def _as_text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ReplyError(f"{where} must be a string, got {type(value).__name__}")
    return value


def parse_reply(text: str) -> Decomposition:
    """Validate `text` as {"items": [...], "dropped": [...], "empty_reason": ...}."""
    obj = _extract_object(text or "")
    if not isinstance(obj, dict):
        raise ReplyError("the reply must be a JSON object")
    if "items" not in obj:
        raise ReplyError('the JSON object has no "items" list')
    raw_items = obj["items"]
    if not isinstance(raw_items, list):
        raise ReplyError('"items" must be a list of strings')
    dropped: list[Dropped] = []
    for i, d in enumerate(obj.get("dropped") or []):
        if isinstance(d, str):
            dropped.append(Dropped(resolve_mentions(d), "dropped by the model (no reason given)"))
        elif isinstance(d, dict):
            dropped.append(
                Dropped(
                    resolve_mentions(_as_text(d.get("text", ""), f"dropped[{i}].text")),
                    _as_text(d.get("reason") or "no reason given", f"dropped[{i}].reason").strip(),
                )
            )
        else:
            raise ReplyError(f'"dropped"[{i}] must be an object with "text" and "reason"')

    items: list[str] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_items):
        item = resolve_mentions(_as_text(raw, f"items[{i}]"))
        if not item:
            continue
        key = item.casefold().rstrip(".")
        if key in seen:
            dropped.append(Dropped(item, "duplicate of an earlier item (merged)"))
        elif is_generic(item):
            dropped.append(Dropped(item, "generic preference, nothing checkable"))
        else:
            seen.add(key)
            items.append(item)

    empty_reason = obj.get("empty_reason")
    if empty_reason is not None and not isinstance(empty_reason, str):
        raise ReplyError('"empty_reason" must be a string or null')
    empty_reason = (empty_reason or "").strip() or None
    if not items:
        if not raw_items and empty_reason is None:
            raise ReplyError('"items" is empty: give the reason in "empty_reason"')
        if empty_reason is None:
            empty_reason = "every proposed item was generic or a duplicate"
    else:
        empty_reason = None
    return Decomposition(tuple(items), tuple(dropped), empty_reason)
