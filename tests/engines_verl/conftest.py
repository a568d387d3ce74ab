"""Fixtures for the verl engine: a ChatML tokenizer on disk, pair data, a CPU verl spec, the verl Python.

verl 0.9.1 pins transformers < 5.11, so its code runs in the second environment scripts/setup.sh
builds (`.venv-verl`, or $RCSTUDIO_VERL_PYTHON); tests run verl's own code there as subprocesses.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rcstudio.spec import expand, load_spec

CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
WORDS = ("the response explains clearly uses correct code example wrong misses detail safety answer "
         "formatting concise accurate reasoning step math proof cites source table list error fact").split()


@pytest.fixture(scope="session")
def verl_python() -> str:
    """The interpreter with verl 0.9.1 (a missing one fails: scripts/setup.sh builds it)."""
    from rcstudio.engines.verl.env import verl_python as find

    python = find() or sys.executable
    probe = subprocess.run([python, "-c", "import verl; print(verl.__version__)"], capture_output=True, text=True,
                           timeout=300)
    assert probe.returncode == 0 and probe.stdout.strip() == "0.9.1", (
        f"verl 0.9.1 is not importable by {python}: run scripts/setup.sh ({probe.stderr[-500:]})")
    return python


@pytest.fixture(scope="session")
def chatml_tokenizer(tmp_path_factory) -> Path:
    """A small byte-level BPE with ChatML markers and template, saved like a released checkpoint."""
    from rcstudio.testing.tokenizer import bpe_tokenizer

    out = tmp_path_factory.mktemp("tok")
    corpus = [" ".join(WORDS[(i * 7 + j) % len(WORDS)] for j in range(30)) for i in range(200)]
    tok = bpe_tokenizer(corpus, 600, ["<pad>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"],
                        additional_special_tokens=["<|im_start|>", "<|im_end|>"])
    tok.chat_template = CHATML_TEMPLATE
    tok.save_pretrained(out)
    return out


def records(n: int, start: int = 0) -> list[dict]:
    return [{
        "id": f"item-{i}",
        "domain": ["general", "stem", "code"][i % 3],
        "context": [{"role": "user", "content": f"Question {i}: which answer is better?"}],
        "response1": f"first answer {i}",
        "response2": f"second answer {i}",
        "overall_preference": [-2, 2, -1, 1][i % 4],
        "human-checklist": [f"Response 1 states fact {i}.", f"Response 2 misses step {i}.",
                            f"Response 1 cites source {i}."],
    } for i in range(start, start + n)]


def write_jsonl(path: Path, recs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


@pytest.fixture
def verl_spec(tmp_path, chatml_tokenizer):
    """verl_spec(extra_toml="", n_train=12, n_eval=4) -> the RunSpec of a CPU verl run (stand-in trainer)."""

    def _make(extra: str = "", n_train: int = 12, n_eval: int = 4, overrides=(), verl: str = "", cluster: str = ""):
        train = write_jsonl(tmp_path / "train.jsonl", records(n_train))
        val = write_jsonl(tmp_path / "val.jsonl", records(n_eval, start=100))
        text = textwrap.dedent(f"""
            [experiment]
            name = "verl-cpu"
            kind = "genrm-train"
            [judge]
            model = "{chatml_tokenizer}"
            top_k = 0
            [data]
            train = ["{train}"]
            eval = ["{val}"]
            swap = "random"
            seed = 7
            [rl]
            engine = "verl"
            algorithm = "grpo"
            global_batch_size = 6
            mini_batch_size = 6
            rollouts_per_prompt = 2
            max_prompt_tokens = 2048
            max_generation_tokens = 256
            clip_ratio = 2e-4
            [rl.verl]
            {{verl}}
            [cluster]
            gpus_per_node = 0
            {{cluster}}
            [tracking]
            mode = "offline"
            """).lstrip().replace("{verl}", textwrap.dedent(verl)).replace("{cluster}", textwrap.dedent(cluster)) + textwrap.dedent(extra)
        if "trainer_command" not in verl:
            text = text.replace("[rl.verl]\n", "[rl.verl]\ntrainer_command = [\"python\", \"-c\", \"pass\"]\n")
        path = tmp_path / "spec.toml"
        path.write_text(text)
        return expand(load_spec(path, list(overrides)))[0]

    return _make
