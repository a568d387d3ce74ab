"""Parse a GenRM's output: optional think block, ordered reasons, one 5-way boxed verdict.

The expected shape (method.md 3, rendered by `prompt.py`):

    <think> ... </think>              (optional)
    <RESULT_START>
    1. most important reason
    2. ...
    \\boxed{A>B}
    <RESULT_END>

Accepted variants: numbered (`1.`, `1)`, `(1)`), bulleted (`-`, `*`, `•`) or `Reason 1:` items,
markdown bold around items, `»`/`≫` for `>>`, `<`/`«` written the other way round (`A<B` = `B>A`),
"Response 1/2" or "1/2" instead of "A/B" in the box, missing or half-missing RESULT tags when the
verdict is still unambiguous. Several boxed verdicts that disagree, no verdict, an unknown verdict
or no reasons give a `Judgment` with `error` set (the reward treats it as a format error).
Boxes inside the think block are ignored: only the answer counts.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

VERDICTS = ("A>>B", "A>B", "A=B", "B>A", "B>>A")
_DIRECTION = {"A>>B": -1, "A>B": -1, "A=B": 0, "B>A": 1, "B>>A": 1}
_FLIP = {"A>>B": "B>>A", "A>B": "B>A", "A=B": "A=B", "B>A": "A>B", "B>>A": "A>>B"}
_SCORE = {"A>>B": -2, "A>B": -1, "A=B": 0, "B>A": 1, "B>>A": 2}

_THINK_RE = re.compile(r"<think>(.*?)</think>", re.S | re.I)
_BOX_RE = re.compile(r"\\?boxed\s*\{((?:[^{}]|\{[^{}]*\})*)\}", re.I)
_START = "<RESULT_START>"
_END = "<RESULT_END>"
_ITEM_RE = re.compile(
    r"^\s*(?:\*\*|__)?\s*(?:"
    r"(?:reason|point)\s*#?\s*\d+\s*(?:\*\*|__)?\s*[:.\-)]"  # Reason 1:  / **Reason 2.**
    r"|\(?\d{1,2}\s*[.):]"  # 1.  1)  (1)  1:
    r"|[-*•·–]"  # bullets
    r")\s*(?:\*\*|__)?\s*(?P<text>.*)$",
    re.I,
)
_HEADER_RE = re.compile(r"^\s*[#*_\s]*[^.!?]{0,60}:\s*[*_]*\s*$")


@dataclass
class Judgment:
    """A parsed judge output. `verdict` is set whenever exactly one verdict was found, even if
    `error` is set for another reason (e.g. no reasons); `error` is None for a well-formed output."""

    reasons: list[str] = field(default_factory=list)
    verdict: str | None = None
    think: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def direction(self) -> int | None:
        return verdict_direction(self.verdict) if self.verdict else None


def verdict_direction(verdict: str) -> int:
    """-1 when A (response shown first) is better, 0 for a tie, 1 when B is better."""
    return _DIRECTION[normalize_verdict(verdict) or verdict]


def verdict_score(verdict: str) -> int:
    """The verdict on HelpSteer3's scale sign (-2 A much better .. 2 B much better)."""
    return _SCORE[normalize_verdict(verdict) or verdict]


def flip_verdict(verdict: str) -> str:
    """The same judgment with A and B exchanged (undo a response swap)."""
    return _FLIP[normalize_verdict(verdict) or verdict]


@functools.lru_cache(maxsize=4096)  # verdict strings repeat ("A>B", ...): a dict lookup after the first
def normalize_verdict(raw: str) -> str | None:
    """Map a box's content onto one of VERDICTS, or None when it is not a verdict."""
    s = raw.strip().replace("»", ">>").replace("≫", ">>").replace("«", "<<").replace("≪", "<<")
    s = s.replace("\\gg", ">>").replace("\\ll", "<<").replace("&gt;", ">").replace("&lt;", "<")
    s = re.sub(r"\\text\{([^}]*)\}", r"\1", s)
    s = re.sub(r"(?i)response\s*", "", s)
    s = re.sub(r"\s+", "", s).upper()
    s = s.replace("1", "A").replace("2", "B").replace("==", "=")
    m = re.fullmatch(r"([AB])(>>|>|=|<<|<)([AB])", s)
    if not m:
        return None
    left, op, right = m.groups()
    if left == right:
        return None
    if op.startswith("<"):
        left, right, op = right, left, op.replace("<", ">")
    if op == "=":
        return "A=B"
    return f"{left}{op}{right}"


def _split_think(text: str) -> tuple[str | None, str]:
    m = _THINK_RE.search(text)
    if m:
        return m.group(1).strip(), text[: m.start()] + text[m.end() :]
    if "</think>" in text.lower():  # chat templates that open <think> in the prompt
        idx = text.lower().index("</think>")
        return text[:idx].strip(), text[idx + len("</think>") :]
    if "<think>" in text.lower():  # thinking never closed: treat it all as thought
        idx = text.lower().index("<think>")
        return text[idx + len("<think>") :].strip(), text[:idx]
    return None, text


def _result_block(body: str) -> str:
    upper = body.upper()
    start = upper.rfind(_START)
    end = upper.rfind(_END)
    if start >= 0 and end > start:
        return body[start + len(_START) : end]
    if start >= 0:
        return body[start + len(_START) :]
    if end >= 0:
        return body[:end]
    return body


def _clean(text: str) -> str:
    text = re.sub(r"^\s*(?:\*\*|__)\s*|\s*(?:\*\*|__)\s*$", "", text.strip())
    return re.sub(r"\s+", " ", text).strip()


def parse_reasons(block: str) -> list[str]:
    """Ordered reasons from the text before the verdict: list items, else non-empty lines."""
    lines = block.splitlines()
    items: list[str] = []
    saw_marker = False
    open_item = False  # a blank line closes an item: trailing summary prose is not a reason
    for line in lines:
        if not line.strip():
            open_item = False
            continue
        m = _ITEM_RE.match(line)
        if m and m.group("text").strip():
            items.append(m.group("text"))
            saw_marker = open_item = True
        elif open_item and not _HEADER_RE.match(line):
            items[-1] += " " + line.strip()
    if not saw_marker:
        items = [ln for ln in lines if ln.strip() and not _HEADER_RE.match(ln)]
    return [c for c in (_clean(i) for i in items) if c]


def parse_judgment(text: str) -> Judgment:
    """Parse one judge output; never raises (malformed text gives `error`)."""
    if not text or not text.strip():
        return Judgment(error="empty output")
    think, body = _split_think(text)
    block = _result_block(body)
    boxes = list(_BOX_RE.finditer(block))
    if not boxes:
        err = "no boxed verdict" if think is None or body.strip() else "no answer after the think block"
        return Judgment(think=think, error=err)
    verdicts = [normalize_verdict(b.group(1)) for b in boxes]
    if any(v is None for v in verdicts):
        bad = next(b.group(1) for b, v in zip(boxes, verdicts) if v is None)
        return Judgment(think=think, error=f"unrecognised verdict {bad!r}")
    if len(set(verdicts)) > 1:
        return Judgment(think=think, error=f"conflicting verdicts: {', '.join(dict.fromkeys(verdicts))}")
    first = boxes[0].start()
    line_start = block.rfind("\n", 0, first) + 1
    reasons = parse_reasons(block[:line_start])
    if not reasons:  # the box may sit at the end of the last reason's line
        reasons = parse_reasons(block[:first])
    error = None if reasons else "no reasons before the verdict"
    return Judgment(reasons=reasons, verdict=verdicts[0], think=think, error=error)
