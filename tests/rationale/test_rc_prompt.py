"""The judge prompt: what the GenRM is told, swapping, multi-turn context, custom templates."""

from __future__ import annotations

import pytest

from rcstudio.errors import UserError
from rcstudio.rationale.parse import VERDICTS
from rcstudio.rationale.prompt import PROMPT_VERSION, render_judge_messages, render_judge_prompt
from rcstudio.rationale.schema import PairItem

ITEM = PairItem(
    id="1",
    context=[
        {"role": "user", "content": "Write a haiku."},
        {"role": "assistant", "content": "Which topic?"},
        {"role": "user", "content": "Autumn, please."},
    ],
    response1="FIRST-RESPONSE",
    response2="SECOND-RESPONSE",
)


def test_prompt_contents():
    text = render_judge_prompt(ITEM, top_k=5)
    assert PROMPT_VERSION == "rcstudio-genrm-v1"
    assert "<RESULT_START>" in text and "<RESULT_END>" in text and "<think>" in text
    for v in VERDICTS:
        assert f"\\boxed{{{v}}}" in text
    assert "exactly your 5 most important reasons" in text
    assert "most to least important" in text and "specific and verifiable" in text
    assert text.index("Write a haiku.") < text.index("Which topic?") < text.index("Autumn, please.")
    assert "[Turn 3 - User]" in text
    assert text.index("FIRST-RESPONSE") < text.index("SECOND-RESPONSE")


def test_free_count_and_swap():
    free = render_judge_prompt(ITEM, top_k=0)
    assert "exactly" not in free.split("## Instructions")[1].split("\n")[2]
    assert "as many as needed" in free
    swapped = render_judge_prompt(ITEM, swapped=True)
    a_part = swapped.split("## Response A")[1].split("## Response B")[0]
    assert "SECOND-RESPONSE" in a_part and "FIRST-RESPONSE" not in a_part
    msgs = render_judge_messages(ITEM)
    assert msgs == [{"role": "user", "content": render_judge_prompt(ITEM)}]


def test_custom_template(tmp_path):
    t = tmp_path / "t.txt"
    t.write_text("Q: $context | A: $response_a | B: $response_b | $reason_instruction costs $$5")
    out = render_judge_prompt(ITEM, top_k=3, swapped=True, template=str(t))
    assert out.startswith("Q: [Turn 1 - User]") and "A: SECOND-RESPONSE" in out and "costs $5" in out
    assert "exactly your 3 most important reasons" in out
    with pytest.raises(UserError):
        render_judge_prompt(ITEM, template="no-such-template")


@pytest.mark.parametrize(
    ("body", "message"),
    [("Q: $context $answer", "unknown placeholders $answer"), ("costs 5$ for $context", "stray $")],
)
def test_bad_custom_template_is_a_user_error(tmp_path, body, message):
    t = tmp_path / f"bad-{len(body)}.txt"
    t.write_text(body)
    with pytest.raises(UserError, match=message.replace("$", r"\$")) as err:
        render_judge_prompt(ITEM, template=str(t))
    assert err.value.location.file == t and err.value.location.key == "judge.prompt_template"
