"""The decomposition prompt: annotators' free-text reasoning -> atomic, checkable rationales.

The rules are ours (the paper only says a strong LLM distilled the checklists). They are versioned:
`PROMPT_VERSION` goes into every output record's provenance and into the resume check, so a changed
prompt never silently mixes with checklists made by an older one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from rcstudio.rationale.schema import PairItem

PROMPT_VERSION = "rcstudio-decompose-v1"

# Long pairs would blow the endpoint's context; the responses are shown only so the model can
# understand what the annotators refer to, so a clipped middle is harmless (and marked as clipped).
MAX_CONTEXT_CHARS = 4000
MAX_RESPONSE_CHARS = 6000

SYSTEM_RULES = """\
You turn the free-text reasoning that human annotators wrote about a pair of AI responses into a \
checklist of ATOMIC RATIONALES. Each rationale is one concrete, checkable point that a careful \
reader could verify against the responses.

Rules:
1. Keep only concrete, checkable points about ONE response (what it does or fails to do, with the \
evidence the annotator gave) or about the comparison between the two responses ("Response 1 gives \
the correct total of 42 while Response 2 says 40").
2. Drop generic taste and bare verdicts: "Response 1 is better", "more helpful", "I prefer \
Response 2", "well written", "more detailed" with no detail of what. Put each dropped statement in \
"dropped" with a short reason.
3. One point per item. Split sentences that make several points; merge points that say the same \
thing (also across annotators) into a single item.
4. Name the responses exactly "Response 1" and "Response 2". Rewrite "@Response 1", "@Response 2", \
"R1", "the first response", "the second one" and similar to those names.
5. Never add a point the annotators did not make. The conversation and the responses are shown \
only so you can understand what the annotators refer to; do not judge the responses yourself.
6. Each item is a self-contained English sentence (translate if the reasoning is in another \
language), ordered from most to least important as the annotators weigh them.
7. If nothing qualifies, return an empty "items" list and say why in "empty_reason".

Answer with ONE JSON object and nothing else:
{"items": ["<atomic rationale>", ...],
 "dropped": [{"text": "<statement you left out>", "reason": "<why>"}, ...],
 "empty_reason": null or "<why no item qualifies>"}

Example. Annotator 1: "@Response 2 is better. It converts 5 km to 3.1 miles correctly while \
@Response 1 says 8 miles, and it also shows the formula." Annotator 2: "Response 1 got the \
conversion wrong (8 miles). Response 2 is nicer."
{"items": ["Response 1 wrongly converts 5 km to 8 miles", \
"Response 2 correctly converts 5 km to 3.1 miles", "Response 2 shows the conversion formula"], \
"dropped": [{"text": "Response 2 is better", "reason": "bare verdict"}, \
{"text": "Response 2 is nicer", "reason": "generic taste"}], "empty_reason": null}"""


@dataclass(frozen=True)
class Annotation:
    """One annotator's free text about the pair, with where it came from (for provenance)."""

    annotator: int
    reasoning: str
    score: int | None = None


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - limit} characters clipped ...]\n{text[-half:]}"


def _render_context(context: Sequence[dict[str, str]]) -> str:
    turns = [f"[{m.get('role', 'user')}] {m.get('content', '')}" for m in context]
    return _clip("\n\n".join(turns), MAX_CONTEXT_CHARS) if turns else "(none)"


def _render_annotations(annotations: Sequence[Annotation]) -> str:
    lines = []
    for a in annotations:
        score = "" if a.score is None else f" (preference score {a.score:+d})"
        lines.append(f"Annotator {a.annotator + 1}{score}:\n{a.reasoning.strip()}")
    return "\n\n".join(lines)


def render_decompose_messages(item: PairItem, annotations: Sequence[Annotation]) -> list[dict[str, str]]:
    """Chat messages asking the LLM to decompose `annotations` about `item` (deterministic)."""
    user = (
        f"## Conversation\n{_render_context(item.context)}\n\n"
        f"## Response 1\n{_clip(item.response1, MAX_RESPONSE_CHARS)}\n\n"
        f"## Response 2\n{_clip(item.response2, MAX_RESPONSE_CHARS)}\n\n"
        f"## Annotators' reasoning\n{_render_annotations(annotations)}\n\n"
        "Return the JSON object now."
    )
    return [{"role": "system", "content": SYSTEM_RULES}, {"role": "user", "content": user}]


def example_reply(items: Sequence[str], dropped: Sequence[tuple[str, str]] = (), empty_reason: str | None = None) -> str:
    """A well-formed reply in the format the prompt asks for (documentation, stubs, benchmarks)."""
    return json.dumps(
        {
            "items": list(items),
            "dropped": [{"text": t, "reason": r} for t, r in dropped],
            "empty_reason": empty_reason,
        }
    )
