"""The GenRM judge prompt (method.md 3), written for rcstudio.

The judge sees the conversation and two responses labelled A and B, may think inside
`<think>...</think>`, then writes between `<RESULT_START>` and `<RESULT_END>` its reasons ordered
from most to least important (exactly `top_k` at evaluation, any number when `top_k == 0`, as in
training) and one verdict `\\boxed{A>>B}` .. `\\boxed{B>>A}`. `parse.parse_judgment` reads it.

`swapped=True` shows response2 as A (the caller flips the label back). A custom template is a text
file with `string.Template` placeholders `$context`, `$response_a`, `$response_b`,
`$reason_instruction` (`$$` for a literal dollar sign); the spec's `judge.prompt_template` names
either the built-in `rcstudio-genrm-v1` or such a file.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from string import Template

from rcstudio.rationale.schema import Message, PairItem

PROMPT_VERSION = "rcstudio-genrm-v1"
_PLACEHOLDERS = {"context", "response_a", "response_b", "reason_instruction"}

_BUILTIN = Template(
    """You are an expert evaluator comparing two AI assistant responses to the same conversation.
Decide which response is better for the user, and explain why with concrete, checkable reasons.

## Conversation
$context

## Response A
$response_a

## Response B
$response_b

## Instructions
You may think first inside <think> ... </think>. Then write your answer between <RESULT_START> and <RESULT_END>:
1. $reason_instruction Order them from most to least important.
   Each reason must be specific and verifiable: name the response, point to the exact content, fact,
   step, code line or instruction it concerns, and say what is right or wrong about it.
   Avoid vague statements such as "Response A is more helpful" or "the logic is off".
   Number the reasons "1.", "2.", ... one per line.
2. End with exactly one verdict on its own line, one of:
   \\boxed{A>>B} (A is much better), \\boxed{A>B} (A is better), \\boxed{A=B} (about the same),
   \\boxed{B>A} (B is better), \\boxed{B>>A} (B is much better).
Judge the content, not the length or formatting, and do not let the order of the responses influence you.

Answer format:
<RESULT_START>
1. <most important reason>
2. <next reason>
...
\\boxed{<verdict>}
<RESULT_END>"""
)


def render_context(context: list[Message]) -> str:
    """A multi-turn conversation as labelled turns (the last one is the user's request)."""
    if not context:
        return "(no conversation)"
    parts = []
    for i, turn in enumerate(context, 1):
        role = str(turn.get("role", "user")).strip().capitalize() or "User"
        parts.append(f"[Turn {i} - {role}]\n{str(turn.get('content', '')).strip()}")
    return "\n\n".join(parts)


def reason_instruction(top_k: int) -> str:
    if top_k > 0:
        return f"Give exactly your {top_k} most important reason{'s' if top_k > 1 else ''}."
    return "Give the reasons that decide the comparison (as many as needed, no filler)."


@lru_cache(maxsize=16)
def _load_template(name: str) -> Template:
    if name in ("", PROMPT_VERSION, "default"):
        return _BUILTIN
    from rcstudio.errors import UserError

    path = Path(name).expanduser()
    if not path.is_file():
        raise UserError(
            f"unknown prompt template {name!r}",
            key="judge.prompt_template",
            hint=f"use the built-in {PROMPT_VERSION!r} or a path to a template file",
        )
    template = Template(path.read_text(encoding="utf-8"))
    # checked here so a bad file is a clear error at load, not a KeyError/ValueError mid-run
    unknown = sorted(set(template.get_identifiers()) - _PLACEHOLDERS)
    if unknown or not template.is_valid():
        problem = "unknown placeholders " + ", ".join("$" + u for u in unknown) if unknown else "a stray $"
        raise UserError(
            f"prompt template has {problem}",
            file=path,
            key="judge.prompt_template",
            hint="use only $context, $response_a, $response_b, $reason_instruction; write $$ for a literal $",
        )
    return template


def render_judge_prompt(
    item: PairItem, top_k: int = 5, swapped: bool = False, template: str = PROMPT_VERSION
) -> str:
    """The full judge instruction for one item (the text of the single user message)."""
    a, b = (item.response2, item.response1) if swapped else (item.response1, item.response2)
    return _load_template(template).substitute(
        context=render_context(item.context),
        response_a=a.strip(),
        response_b=b.strip(),
        reason_instruction=reason_instruction(top_k),
    )


def render_judge_messages(
    item: PairItem, top_k: int = 5, swapped: bool = False, template: str = PROMPT_VERSION
) -> list[dict]:
    """Chat messages for an OpenAI-compatible endpoint or a chat template."""
    return [{"role": "user", "content": render_judge_prompt(item, top_k, swapped, template)}]


def swap_decision(item_id: str, seed: int) -> bool:
    """Seeded, order-independent coin flip per item: the same item and seed give the same answer
    anywhere (training prep of every engine, evals), and adding items changes no other item's."""
    digest = hashlib.sha256(f"{seed}:{item_id}".encode()).digest()
    return bool(digest[0] & 1)


def orders(item_id: str, policy: str, seed: int) -> list[bool]:
    """Which response orders an item is shown in (`swapped` per shown copy): policy `none` ->
    [False] (as stored), `both` -> [False, True], `random` -> [swap_decision(item_id, seed)]."""
    if policy == "none":
        return [False]
    if policy == "both":
        return [False, True]
    return [swap_decision(item_id, seed)]
