"""Fixtures for the decomposition tests: raw HelpSteer3 records we write in its schema, and a
loopback OpenAI-compatible server whose replies split each annotator's text into sentences.

The responder plays a decomposing LLM deterministically; a tag in response1 (`[case:...]`) picks
odd behaviour (malformed, empty, over-long replies) so every path goes over real HTTP.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rcstudio.testing.openai_stub import OpenAIStub

_ANNOTATOR = re.compile(r"^Annotator \d+(?: \(preference score [+-]\d+\))?:\n", re.M)


def annotator_texts(user_message: str) -> list[str]:
    section = user_message.split("## Annotators' reasoning\n", 1)[1].rsplit("\n\nReturn the JSON object now.", 1)[0]
    return [chunk.strip() for chunk in _ANNOTATOR.split(section) if chunk.strip()]


def sentences(text: str) -> list[str]:
    return [s.strip().rstrip(".") for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


def decomposing_responder(messages: list[dict], model: str) -> str:
    """Items = the annotators' sentences; `[case:X]` in the pair's text changes the behaviour."""
    user = next(m["content"] for m in messages if m["role"] == "user")
    reasked = len(messages) > 2
    case = re.search(r"\[case:(\w+)\]", user)
    case = case.group(1) if case else "normal"
    if case == "malformed":
        return "I think Response 1 wins, items: one, two"  # never JSON, not even after a re-ask
    if case == "fix_on_reask":
        if not reasked:
            return '{"items": "not a list"}'
    if case == "empty":
        return json.dumps({"items": [], "dropped": [{"text": "Response 1 is better", "reason": "generic"}], "empty_reason": "the annotators only stated a preference"})
    items = [s for text in annotator_texts(user) for s in sentences(text)]
    if case == "overlong":
        items = [f"Response {1 + i % 2} makes distinct point number {i}" for i in range(12)]
    return json.dumps({"items": items, "dropped": [], "empty_reason": None})


@pytest.fixture
def stub():
    with OpenAIStub(decomposing_responder, models=("decomposer",)) as server:
        yield server


@pytest.fixture
def slow_stub():
    """Each reply takes 150 ms, so a run can be interrupted while requests are in flight."""
    with OpenAIStub(decomposing_responder, latency_s=0.15, models=("decomposer",)) as server:
        yield server


def _pair(i: int, domain: str, context: list[dict], r1: str, r2: str, pref: int, reasonings: list[tuple[int, str]]) -> dict:
    return {
        "domain": domain,
        "language": "english",
        "context": context,
        "response1": r1,
        "response2": r2,
        "overall_preference": pref,
        "individual_preference": [{"score": s, "reasoning": t} for s, t in reasonings],
    }


def raw_helpsteer3_records() -> list[dict]:
    """Raw HelpSteer3 preference records (no ids, no checklist), including ties and multi-turn chats."""
    user = lambda text: {"role": "user", "content": text}  # noqa: E731
    bot = lambda text: {"role": "assistant", "content": text}  # noqa: E731
    return [
        _pair(0, "general", [user("What is the capital of Australia?")], "Canberra.", "Sydney is the capital.", -3,
              [(-3, "@Response 1 names Canberra correctly. @Response 2 wrongly says Sydney. @Response 1 is more helpful."),
               (-2, "Response 2 states a false fact about the capital. Response 1 answers in one word as asked.")]),
        _pair(1, "code", [user("Write a Python function to reverse a list."), bot("Do you want in-place?"), user("No, return a new list.")],
              "def rev(xs): return xs[::-1]", "def rev(xs): xs.reverse(); return xs", 2,
              [(2, "@Response 2 mutates the input although the user asked for a new list. @Response 1 returns a new list with slicing. Response 1 has no docstring.")]),
        _pair(2, "stem", [user("Integrate x^2.")], "x^3/3 + C", "x^3/3", 0,  # a tie
              [(0, "Both give x^3/3. Response 2 omits the constant of integration. Response 1 includes the constant C."),
               (0, "Response 1 and Response 2 have the same antiderivative.")]),
        _pair(3, "multilingual", [user("Traduce 'hello' al español."), bot("¿Formal o informal?"), user("Informal.")],
              "Hola.", "Buenos días.", -1,
              [(-1, "@Response 1 gives the informal greeting Hola. @Response 2 gives a formal, time-specific greeting. @Response 2 ignores the informal request.")]),
        _pair(4, "general", [user("Tell me a joke.")], "[case:empty] Why did the chicken...", "Knock knock.", 1,
              [(1, "Response 2 is better."), (1, "I prefer Response 2.")]),
        _pair(5, "general", [user("List prime numbers below 10.")], "[case:overlong] 2, 3, 5, 7", "2, 3, 5, 7, 9", -2,
              [(-2, "Response 2 includes 9 which is not prime. Response 1 is complete.")]),
        _pair(6, "stem", [user("Boiling point of water at sea level in F?")], "212 F", "100 F", -3,
              [(-3, "@Response 2 gives 100 F which is the Celsius value.")]),  # one item: too few
        _pair(7, "code", [user("SQL to count rows?")], "[case:malformed] SELECT COUNT(*) FROM t;", "SELECT * FROM t;", -2,
              [(-2, "Response 1 uses COUNT(*). Response 2 returns all rows instead of a count. Response 2 does not answer the question.")]),
        _pair(8, "general", [user("Summarize the plot of Hamlet in one line.")], "[case:fix_on_reask] A prince avenges his father.", "Hamlet is a play.", -2,
              [(-2, "Response 1 gives a one-line plot summary. Response 2 only says Hamlet is a play. Response 2 does not summarize the plot.")]),
        _pair(9, "general", [user("Hi")], "Hello!", "Hey.", 0, [(0, "")]),  # no usable reasoning
    ]


@pytest.fixture
def hs3_file(tmp_path) -> Path:
    path = tmp_path / "helpsteer3_raw.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in raw_helpsteer3_records()), encoding="utf-8")
    return path
