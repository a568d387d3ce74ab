"""Secrets never reach a file: keys planted in the environment (API keys, W&B key) and a key hidden in
a `${env:...}`-read URL are grepped for in every file under RCSTUDIO_HOME, W&B files included, after a
real eval job ran against a loopback judge; environment-sourced values stay `${env:NAME}` on disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from rcstudio import paths
from rcstudio.testing.openai_stub import OpenAIStub

OPENAI_KEY = "sk-planted0123456789abcdefghijklmnop"
WANDB_KEY = "0123456789abcdef0123456789abcdef01234567"
HF_KEY = "hf_plantedABCDEFGHIJKLMNOPQRSTUVWXYZ0123"

SPEC = """
[experiment]
name = "leak"
kind = "eval"

[judge]
endpoint = "${{env:JUDGE_URL}}"
model = "stub-model"
prompt_template = "rcstudio-pairwise-v1"

[data]
eval = ["{data}"]
max_items = 3

[eval]
benchmarks = ["judgebench"]

[cluster]
executor = "local"
gpus_per_node = 0
"""


def _reply(messages, model):
    return "A is better.\n\\boxed{A>B}"


def _every_file(root: Path):
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            yield path


def _rcstudio(args, env, cwd):
    return subprocess.run([sys.executable, "-m", "rcstudio", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300)


def test_planted_keys_reach_no_file(tmp_path, shared_dir):
    spec = tmp_path / "leak.toml"
    spec.write_text(SPEC.format(data=shared_dir / "data" / "judgebench_gpt-4o-2024-05-13.jsonl"))
    env = dict(os.environ, OPENAI_API_KEY=OPENAI_KEY, WANDB_API_KEY=WANDB_KEY, HF_TOKEN=HF_KEY)

    # A key inside a URL read through ${env:...} is refused before anything is written.
    bad = _rcstudio(["submit", str(spec)], dict(env, JUDGE_URL=f"http://127.0.0.1:9/v1?key={OPENAI_KEY}"), tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "${env:JUDGE_URL}" in bad.stderr and "credential" in bad.stderr and OPENAI_KEY not in bad.stderr
    assert not paths.runs_root().exists()
    bad = _rcstudio(["submit", str(spec)], dict(env, JUDGE_URL="http://user:hunter2pass@127.0.0.1:9/v1"), tmp_path)
    assert bad.returncode == 2 and "hunter2pass" not in bad.stderr

    with OpenAIStub(_reply) as stub:
        done = _rcstudio(["submit", str(spec), "--wait", "--json"], dict(env, JUDGE_URL=stub.base_url), tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        assert stub.calls > 0
    (run,) = json.loads(done.stdout)["runs"]
    run_dir = Path(run["run_dir"])
    resolved = (run_dir / "spec.resolved.toml").read_text()
    assert 'endpoint = "${env:JUDGE_URL}"' in resolved and stub.base_url not in resolved
    wandb_files = list((run_dir / "wandb").rglob("*"))
    assert any(p.suffix == ".wandb" for p in wandb_files)
    for path in _every_file(run_dir / "wandb"):  # W&B config and logs hold the `${env:...}` text only
        assert stub.base_url.encode() not in path.read_bytes(), path
    planted = [OPENAI_KEY, WANDB_KEY, HF_KEY]
    scanned = 0
    for path in _every_file(paths.home()):
        data = path.read_bytes()
        scanned += 1
        for key in planted:
            assert key.encode() not in data, f"{key[:6]}... leaked into {path}"
    assert scanned > 10


def test_env_values_stay_templates_per_key_also_in_sweeps(tmp_path, monkeypatch):
    from rcstudio.spec import dump_resolved, expand, load_spec, load_resolved

    monkeypatch.setenv("PROJ", "rcstudio")  # the same text as another key's default: only its own key changes
    monkeypatch.setenv("EP1", "http://h1:8000/v1")
    spec = tmp_path / "s.toml"
    spec.write_text('[experiment]\nname = "envs"\nkind = "eval"\n[tracking]\nentity = "${env:PROJ}"\n'
                    '[sweep]\ngrid = { "judge.endpoint" = ["${env:EP1}", "http://h2:8000/v1"] }\n')
    runs = expand(load_spec(spec))
    texts = [dump_resolved(r.spec) for r in runs]
    assert all('entity = "${env:PROJ}"' in t and 'project = "rcstudio"' in t for t in texts)
    assert 'endpoint = "${env:EP1}"' in texts[0] and 'endpoint = "http://h2:8000/v1"' in texts[1]
    (tmp_path / "spec.resolved.toml").write_text(texts[0])
    loaded = load_resolved(tmp_path / "spec.resolved.toml")  # the job resolves it from its environment
    assert loaded.judge.endpoint == "http://h1:8000/v1" and loaded.tracking.entity == "rcstudio"
    assert dump_resolved(loaded) == texts[0]
