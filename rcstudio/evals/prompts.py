"""Judge prompts for the pairwise benchmarks (JudgeBench, RM-Bench, Arena-Hard).

Two choices, recorded with every result as `prompt_version`:
* `rcstudio-pairwise-v1` (built in here): a plain A/B comparison that ends in the 5-way boxed
  verdict; for judges that were not trained with the GenRM format.
* the GenRM prompt of `rationale/prompt.py` (`rcstudio-genrm-v1`, or a template file named in
  `judge.prompt_template`): what a GenRM trained by rcstudio was trained on, so it is evaluated
  on the benchmarks in the same format (top-5 reasons, then the boxed verdict).
Either way the reply is read by `rationale.parse.parse_judgment`; only the verdict is scored.
"""

from __future__ import annotations

from string import Template

from rcstudio.rationale.schema import Message, PairItem

PAIRWISE_VERSION = "rcstudio-pairwise-v1"

_PAIRWISE = Template(
    """Please act as an impartial judge and compare the two responses below to the same user request.
Decide which response is better: more correct, more helpful and better at following the instructions.
Check facts, reasoning, code and final answers yourself where you can; do not reward length or formatting
for their own sake, and do not let the order in which the responses appear influence you.

## User request
$context

## Response A
$response_a

## Response B
$response_b

Think briefly, then give your final verdict on the last line as exactly one of:
\\boxed{A>>B} (A is much better), \\boxed{A>B} (A is better), \\boxed{A=B} (about the same),
\\boxed{B>A} (B is better), \\boxed{B>>A} (B is much better)."""
)


def _context(question: str | list[Message]) -> list[Message]:
    return [{"role": "user", "content": question}] if isinstance(question, str) else list(question)


def pairwise_messages(
    question: str | list[Message], response_a: str, response_b: str, template: str = PAIRWISE_VERSION, top_k: int = 5
) -> list[dict]:
    """Chat messages asking for a verdict between response A and response B."""
    if template == PAIRWISE_VERSION:
        from rcstudio.rationale.prompt import render_context

        text = _PAIRWISE.substitute(
            context=render_context(_context(question)), response_a=response_a.strip(), response_b=response_b.strip()
        )
        return [{"role": "user", "content": text}]
    from rcstudio.rationale.prompt import render_judge_messages

    item = PairItem(id="", context=_context(question), response1=response_a, response2=response_b)
    return render_judge_messages(item, top_k=top_k, swapped=False, template=template)


def prompt_version(template: str) -> str:
    """The name recorded with results (a template file is recorded by its path)."""
    from rcstudio.rationale.prompt import PROMPT_VERSION

    return PROMPT_VERSION if template in ("", "default") else template
