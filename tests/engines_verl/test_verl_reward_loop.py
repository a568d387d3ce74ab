"""verl's real reward loop (RewardLoopManager on a local Ray) scores hand-built rollouts through
rcstudio's reward module against the loopback LLM matcher, and every value equals rcstudio's hybrid
reward computed directly (the TRL engine's reward function, same matcher)."""

from __future__ import annotations

import json
import re

import pyarrow.parquet as pq
import pytest
from verl_test_helpers import run_verl

from rcstudio.compile import compile_run
from rcstudio.engines.grpo_reward import HybridReward
from rcstudio.engines.verl.data import prepare_parquet
from rcstudio.rationale.matchers import make_matcher
from rcstudio.rationale.reward import RewardSettings
from rcstudio.testing.openai_stub import OpenAIStub

SHARED = ("reward/total", "reward/outcome", "reward/rationale", "reward/rc", "reward/format_error_rate",
          "matcher/latency_ms", "matcher/cache_hit_rate")


def _judge_naming(text: str, swapped: bool) -> str:
    a, b = ("2", "1") if swapped else ("1", "2")
    return text.replace(f"Response {a}", "Response A").replace(f"Response {b}", "Response B")


def match_responder(messages, model):
    """Scores 1 where a judge reason is a human item in the judge's A/B naming, else 0."""
    text = messages[-1]["content"]
    swapped = "Response A is Response 2" in text
    human = re.findall(r"^H\d+\. (.*)$", text, re.M)
    reasons = re.findall(r"^M\d+\. (.*)$", text, re.M)
    return json.dumps({"scores": [[1.0 if m == _judge_naming(h, swapped) else 0.0 for m in reasons] for h in human]})


def judgment(reasons: list[str], verdict: str) -> str:
    listing = "\n".join(f"{i}. {r}" for i, r in enumerate(reasons, 1))
    return f"<think>weighing both</think>\n<RESULT_START>\n{listing}\n\\boxed{{{verdict}}}\n<RESULT_END>"


def cases(row: dict) -> dict[str, str]:
    info = row["extra_info"]
    human = [_judge_naming(h, info["swapped"]) for h in info["human_checklist"]]
    right = "B>A" if info["preference"] > 0 else "A>B"
    wrong = "A>B" if right == "B>A" else "B>A"
    full = judgment(human, right)
    return {
        "right+human": full,
        "right+partial": judgment(["Response A is longer.", human[1]], right),
        "surface": judgment(["Response A is well formatted.", "Response B is polite."], right),
        "wrong+human": judgment(human, wrong),
        "malformed": "I think A is better, no box here.",
        "truncated": full[: full.index("\\boxed")],
    }


def test_reward_loop_manager_scores_equal_the_hybrid_reward(verl_spec, verl_python, tmp_path):
    with OpenAIStub(match_responder) as stub:
        run = verl_spec(f"""
            [reward]
            form = "additive"
            alpha = 0.8
            format_penalty = -0.5
            [reward.matcher]
            kind = "llm"
            endpoint = "{stub.base_url}"
            model = "stub-model"
            concurrency = 8
            """)
        run_dir = tmp_path / "run"
        compile_run(run, run_dir)
        prepare_parquet(run_dir, run.spec)
        rows = pq.read_table(run_dir / "data" / "train.parquet").to_pylist()[:2]
        batch = [{"name": name, "row": row, "response": text} for row in rows for name, text in cases(row).items()]
        assert len(batch) == run.spec.rl.global_batch_size * run.spec.rl.rollouts_per_prompt  # one whole step
        (tmp_path / "rollouts.json").write_text(json.dumps([batch]))
        out = tmp_path / "scores.json"
        run_verl(verl_python, "-m", "rcstudio.engines.verl.rollouts", "reward", "--run-dir", str(run_dir),
                 "--rollouts", str(tmp_path / "rollouts.json"), "--out", str(out), "--num-cpus", "2")
        calls_through_verl = stub.calls
        got = json.loads(out.read_text())[0]

        # rcstudio's hybrid reward, computed directly with the same matcher endpoint
        direct = HybridReward(RewardSettings.from_spec(run.spec.reward),
                              make_matcher(run.spec.reward.matcher, cache=None), top_k=0)
        infos = [b["row"]["extra_info"] for b in batch]
        expected = direct([], [b["response"] for b in batch], preference=[i["preference"] for i in infos],
                          human_checklist=[i["human_checklist"] for i in infos],
                          swapped=[i["swapped"] for i in infos], item_id=[i["id"] for i in infos])

    # the value compute_score returned (float64) is exactly rcstudio's hybrid reward ...
    assert got["extra"]["reward/total"] == expected
    # ... and verl's float32 rm_scores carry it on the last response token only
    assert got["scores"] == pytest.approx(expected, abs=1e-6)
    assert got["at_last"] == pytest.approx(expected, abs=1e-6)
    assert all(n <= 1 for n in got["nonzero_per_row"])
    by_case = {b["name"]: [] for b in batch}
    for b, value in zip(batch, got["scores"]):
        by_case[b["name"]].append(value)
    assert by_case["right+human"] == [pytest.approx(1.0)] * 2          # AP 1, outcome 1
    assert by_case["surface"] == [pytest.approx(0.2)] * 2              # AP 0: only (1 - alpha) x outcome
    assert by_case["wrong+human"] == [pytest.approx(0.8)] * 2          # alpha x AP, no outcome
    assert all(0.2 < v < 1.0 for v in by_case["right+partial"])
    assert by_case["malformed"] == by_case["truncated"] == [-0.5, -0.5]  # format_penalty
    assert calls_through_verl >= 8  # right/partial/surface/wrong of both rows went to the matcher

    # per-rollout components come back to verl under the shared names
    extra = got["extra"]
    assert extra["reward/format_error"] == [1.0 if b["name"] in ("malformed", "truncated") else 0.0 for b in batch]
    # and the step's summary under the shared names (one whole step = one line)
    lines = [json.loads(x) for x in (run_dir / "logs" / "reward_steps.jsonl").read_text().splitlines()]
    assert len(lines) == 1
    for key in SHARED:
        assert key in lines[0], key
    assert lines[0]["reward/total"] == pytest.approx(sum(expected) / len(expected))
    assert lines[0]["reward/format_error_rate"] == pytest.approx(4 / 12)
