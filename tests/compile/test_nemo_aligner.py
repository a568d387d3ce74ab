"""The NeMo-Aligner compiler: overrides compose with Hydra against the real v0.7.0 conf, the hetjob
script is valid bash that passes hostile strings through as single arguments, and output is
deterministic."""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from hydra.errors import ConfigCompositionException

from rcstudio.compile import compile_run, load_run
from rcstudio.engines.nemo_aligner.compile import REWARD_IP_KEY
from rcstudio.errors import UserError
from rcstudio.spec import expand, load_spec

from rcs_compile_helpers import GENRM, hydra_compose

REPO = Path(__file__).resolve().parents[2]


def overrides_of(compiled) -> list[str]:
    return (compiled.run_dir / "compiled" / "overrides.txt").read_text().splitlines()


def composed(nemo_conf, compiled, host="10.0.0.7") -> dict:
    return hydra_compose(nemo_conf, overrides_of(compiled) + [f"{REWARD_IP_KEY}={host}"])


def spec_files():
    return sorted((REPO / "specs").glob("*.toml")) + [REPO / "rcstudio" / "spec" / "starter.toml"]


def test_every_compiled_override_list_composes_and_resolves(nemo_conf, tmp_path):
    n = 0
    for path in spec_files():
        for variant in ([], ["variants.tiny-trl.enabled=true"]) if "sweep" in path.name else ([],):
            for run in expand(load_spec(path, variant)):
                compiled = compile_run(run, tmp_path / run.run_id)
                if compiled.plan.mode != "sbatch":
                    continue
                cfg = composed(nemo_conf, compiled)
                rl = run.spec.rl
                c = run.spec.cluster
                dp = c.nodes * c.gpus_per_node // (rl.nemo_aligner.tensor_parallel * rl.nemo_aligner.pipeline_parallel)
                # v0.7.0: each optimizer step trains on model_gbs / DP distinct rollouts (reinforce.py fit)
                assert cfg["model"]["global_batch_size"] // dp == rl.mini_batch_size * rl.rollouts_per_prompt
                # RLHFDataset's prompt cut-off (seq - model.length_params.max_length) = the prompt budget
                assert cfg["model"]["encoder_seq_length"] - cfg["model"]["length_params"]["max_length"] \
                    == rl.max_prompt_tokens
                assert cfg["model"]["reinforce"]["num_rollout_samples"] == rl.global_batch_size
                assert cfg["trainer"]["reinforce"]["num_rollouts_per_prompt"] == rl.rollouts_per_prompt
                assert cfg["trainer"]["reinforce"]["trt_llm"]["max_input_len"] == rl.max_prompt_tokens
                assert cfg["model"]["reinforce"]["length_params"]["max_length"] == rl.max_generation_tokens
                assert cfg["model"]["optim"]["lr"] == rl.lr
                assert cfg["model"]["tensor_model_parallel_size"] == run.spec.rl.nemo_aligner.tensor_parallel
                assert cfg["pretrained_checkpoint"]["restore_from_path"] == run.spec.judge.checkpoint
                assert cfg["remote_rm"]["reward_model"] == {"name": "reward_model", "ip": "10.0.0.7",
                                                            "port": run.spec.cluster.reward_port}
                assert cfg["model"]["data"]["data_prefix"]["train"] == [
                    str(compiled.run_dir / "data" / "train_prompts.jsonl")]
                assert cfg["exp_manager"]["explicit_log_dir"] == str(compiled.run_dir / "checkpoints")
                if run.spec.tracking.mode != "disabled":
                    assert cfg["exp_manager"]["wandb_logger_kwargs"]["id"] == run.run_id
                n += 1
    assert n >= 7  # starter, gated example, 5 alpha points


def test_plus_plus_is_used_exactly_for_keys_the_yaml_lacks(nemo_conf, compile_spec):
    base = hydra_compose(nemo_conf, [], resolve=False)
    (compiled,) = compile_spec(GENRM + '[tracking]\nentity = "team"\n')
    for line in overrides_of(compiled):
        key = line.split("=", 1)[0]
        node = base
        parts = key.removeprefix("++").split(".")
        present = True
        for part in parts:
            if not isinstance(node, dict) or part not in node:
                present = False
                break
            node = node[part]
        assert present != key.startswith("++"), line


def test_a_misspelled_key_fails_composition(nemo_conf, compile_spec):
    (compiled,) = compile_spec(GENRM)
    overrides = [o.replace("model.optim.lr=", "model.optim.lrr=") for o in overrides_of(compiled)]
    with pytest.raises(ConfigCompositionException):
        hydra_compose(nemo_conf, overrides)


def test_engine_overrides_are_composed_at_compile_time(nemo_conf, compile_spec, monkeypatch):
    monkeypatch.setenv("RCSTUDIO_NEMO_CONF", str(nemo_conf))
    text = GENRM + '[rl.nemo_aligner]\noverrides = ["trainer.reinforce.trt_llm.enable=false"]\n'
    (compiled,) = compile_spec(text)
    config = (compiled.run_dir / "compiled" / "config.yaml").read_text()
    assert "Composed with Hydra" in config
    assert yaml.safe_load(config)["trainer"]["reinforce"]["trt_llm"]["enable"] is False
    assert composed(nemo_conf, compiled)["trainer"]["reinforce"]["trt_llm"]["enable"] is False
    with pytest.raises(UserError) as info:
        compile_spec(GENRM + '[rl.nemo_aligner]\noverrides = ["trainer.reinforce.trt_lm.enable=false"]\n')
    assert info.value.location.key == "rl.nemo_aligner.overrides" and info.value.location.line == 8
    with pytest.raises(UserError, match="not a Hydra override"):
        compile_spec(GENRM + '[rl.nemo_aligner]\noverrides = ["model.optim.lr"]\n')


def test_config_yaml_without_a_conf_dir_says_so(compile_spec, monkeypatch):
    monkeypatch.delenv("RCSTUDIO_NEMO_CONF", raising=False)
    (compiled,) = compile_spec(GENRM)
    text = (compiled.run_dir / "compiled" / "config.yaml").read_text()
    assert "not the composed config" in text
    assert yaml.safe_load(text)["model"]["reinforce"]["num_rollout_samples"] == 256
    # An engine override below a scalar key replaces it in the listing (it used to raise TypeError).
    (compiled,) = compile_spec(GENRM + '[rl.nemo_aligner]\noverrides = ["trainer.devices.x=1"]\n')
    tree = yaml.safe_load((compiled.run_dir / "compiled" / "config.yaml").read_text())
    assert tree["trainer"]["devices"] == {"x": 1}


def test_compile_is_byte_identical(compile_spec, tmp_path, monkeypatch, nemo_conf):
    monkeypatch.setenv("RCSTUDIO_NEMO_CONF", str(nemo_conf))
    text = GENRM + '[sweep]\ngrid = { "rl.lr" = [1e-6, 2e-6] }\n'
    first = compile_spec(text, out=tmp_path / "a")
    snapshot = {p: p.read_bytes() for c in first for p in sorted(c.run_dir.rglob("*")) if p.is_file()}
    shutil.rmtree(tmp_path / "a")
    second = compile_spec(text, out=tmp_path / "a")
    again = {p: p.read_bytes() for c in second for p in sorted(c.run_dir.rglob("*")) if p.is_file()}
    assert snapshot == again and len(snapshot) == 12  # 6 files per run, actor_auth.py included
    assert [c.run.run_id for c in first] == [c.run.run_id for c in second]


def test_load_run_recovers_the_runspec(compile_spec):
    compiled = compile_spec(GENRM + '[sweep]\ngrid = { "rl.seed" = [1, 2] }\n')[1]
    run = load_run(compiled.run_dir)
    assert (run.run_id, run.name, run.point, run.spec_hash) == (
        compiled.run.run_id, compiled.run.name, compiled.run.point, compiled.run.spec_hash)


@pytest.mark.parametrize(
    "extra, key",
    [
        ("[rl]\nsave_interval = 15\n", "rl.save_interval"),
        ("[rl]\nseq_length = 12288\n", "rl.max_generation_tokens"),
    ],
)
def test_compile_time_checks(compile_spec, extra, key):
    with pytest.raises(UserError) as info:
        compile_spec(GENRM + extra)
    assert info.value.location.key == key


def test_missing_checkpoint_is_reported(compile_spec):
    with pytest.raises(UserError) as info:
        compile_spec('[experiment]\nname = "x"\n')
    assert info.value.location.key == "judge.checkpoint"
    with pytest.raises(UserError) as info:
        compile_spec('[experiment]\nname = "x"\nkind = "policy-rlhf"\n[judge]\ncheckpoint = "/genrm.nemo"\n')
    assert info.value.location.key == "policy.checkpoint"


def test_policy_rlhf_restores_the_policy_and_serves_the_genrm(nemo_conf, compile_spec):
    (compiled,) = compile_spec("""
        [experiment]
        name = "policy"
        kind = "policy-rlhf"
        [judge]
        model = "/models/genrm-hybrid-hf"
        [policy]
        checkpoint = "/ckpt/policy.nemo"
        [rl]
        global_batch_size = 512
        mini_batch_size = 512
        max_steps = 90
        keep_checkpoints = 3
    """)
    cfg = composed(nemo_conf, compiled)
    assert cfg["pretrained_checkpoint"]["restore_from_path"] == "/ckpt/policy.nemo"
    assert cfg["trainer"]["reinforce"]["max_steps"] == 90
    assert cfg["exp_manager"]["checkpoint_callback_params"]["save_top_k"] == 3  # rl.keep_checkpoints
    script = (compiled.run_dir / "compiled" / "job.sbatch").read_text()
    assert "vllm serve /models/genrm-hybrid-hf" in script and "RCSTUDIO_JUDGE_ENDPOINT" in script


def test_sbatch_layout(compile_spec):
    (compiled,) = compile_spec(GENRM + """
        [cluster]
        partition = "gpu"
        account = "proj"
        nodes = 2
        gpus_per_node = 4
        reward_gpus = 2
        mem = "0"
        sbatch_extra = ["--exclusive"]
        container_image = "nvcr.io/nvidia/nemo:24.12"
        container_mounts = ["/lustre:/lustre"]
        [reward.matcher]
        kind = "embedding"
    """)
    assert compiled.plan.mode == "sbatch" and compiled.plan.script == compiled.run_dir / "compiled" / "job.sbatch"
    text = compiled.plan.script.read_text()
    head, tail = text.split("#SBATCH hetjob\n")
    assert "--gpus-per-node=2" in head and "--nodes=2" in tail and "--gpus-per-node=4" in tail
    assert "--ntasks-per-node=4" in tail and text.count("--partition=gpu") == 2 and "--exclusive" in head
    assert "export NCCL_ALGO=Tree" in text
    assert 'scontrol show hostnames "$SLURM_JOB_NODELIST_HET_GROUP_0" | head -n1' in text
    assert "/v2/health/ready" in text and "sleep 60" not in text
    assert "vllm serve" not in text  # embedding matcher: no LLM to serve
    assert "--container-image=nvcr.io/nvidia/nemo:24.12 --container-mounts=/lustre:/lustre,\"$RUN_DIR:$RUN_DIR\"" in text
    assert os.stat(compiled.plan.script).st_mode & stat.S_IXUSR
    subprocess.run(["bash", "-n", str(compiled.plan.script)], check=True)


HOSTILE = "/ck pt/x; rm -rf $HOME $(touch PWNED) `touch PWNED2` 'q' \"dq\" \\\\ ${env}.nemo"


def _stub_bin(tmp_path: Path) -> Path:
    """Stand-ins for srun/scontrol/curl/rcstudio/vllm that record their argv (NUL-separated)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scripts = {
        "srun": """
            log="$STUB_LOG/srun.$1"; printf '%s\\0' "$@" > "$log"
            printf '%s' "${RCSTUDIO_REWARD_TOKEN:-}" > "$STUB_LOG/token.$1"
            if [[ "$1" == --het-group=0 ]]; then
              shift; while [[ "$1" == --* ]]; do shift; done; exec "$@"
            fi
            exit 0""",
        "scontrol": "for i in $(seq 1 20000); do echo node-$i; done",
        # the reward server is "ready" once serve-reward was started; vLLM at once
        "curl": '''
            for a in "$@"; do url="$a"; done
            if [[ "$url" == */v2/health/ready ]]; then grep -q serve-reward "$STUB_LOG/rcstudio" 2>/dev/null; fi''',
        # prep writes the run-time overrides the actor appends (data/actor_overrides.txt)
        "rcstudio": 'printf "%s\\0" "$@" >> "$STUB_LOG/rcstudio"; printf "\\n" >> "$STUB_LOG/rcstudio"\n'
                    'if [[ "$1" == run-job ]]; then printf "++model.optim.sched.max_steps=7\\n" '
                    '> "$3/data/actor_overrides.txt"; fi\nsleep 0.2',
        "vllm": 'printf "%s\\0" "$@" > "$STUB_LOG/vllm"',
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text("#!/bin/bash\n" + textwrap.dedent(body).strip() + "\n")
        path.chmod(0o755)
    return bin_dir


def _run_script(script: Path, tmp_path: Path) -> Path:
    log = tmp_path / "stublog"
    log.mkdir()
    env = {**os.environ, "PATH": f"{_stub_bin(tmp_path)}:{os.environ['PATH']}", "STUB_LOG": str(log),
           "SLURM_JOB_NODELIST_HET_GROUP_0": "node-[a-b]", "RCSTUDIO_POLL_S": "0.05"}
    proc = subprocess.run(["bash", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return log


@pytest.fixture
def stub_rcstudio(monkeypatch):
    """Compile scripts that start `rcstudio` from PATH (the stub bin), not the real interpreter."""
    import rcstudio.engines.nemo_aligner.compile as na

    monkeypatch.setattr(na, "rcstudio_shell", lambda: "rcstudio")


def test_sbatch_starts_the_submitting_interpreter(compile_spec):
    (compiled,) = compile_spec(GENRM)
    text = compiled.plan.script.read_text()
    assert f"{shlex.quote(sys.executable)} -m rcstudio run-job --run-dir" in text
    assert f"exec {shlex.quote(sys.executable)} -m rcstudio serve-reward" in text


def test_hostile_strings_stay_single_arguments(compile_spec, tmp_path, nemo_conf, stub_rcstudio):
    hostile_dir = tmp_path / "runs dir; $(touch PWNED3)"
    (compiled,) = compile_spec(f"""
        [experiment]
        name = "hostile"
        description = "x; rm -rf /"
        [judge]
        model = "meta-llama/Llama-3.1-8B-Instruct"
        checkpoint = {HOSTILE!r}
        [reward.matcher]
        model = "m; touch PWNED4"
        [tracking]
        project = "p'; touch PWNED5; '"
        [cluster]
        container_image = "img; touch PWNED6"
        container_mounts = ["/a b:/c'd"]
        [rl.nemo_aligner]
        install_dir = "/opt/$(touch PWNED7)"
    """.replace(repr(HOSTILE), '"' + HOSTILE.replace("\\", "\\\\").replace('"', '\\"') + '"'), out=hostile_dir)
    script = compiled.plan.script
    subprocess.run(["bash", "-n", str(script)], check=True)
    log = _run_script(script, tmp_path)
    assert not list(tmp_path.rglob("PWNED*")) and not list(compiled.run_dir.rglob("PWNED*"))
    actor = (log / "srun.--het-group=1").read_text().split("\0")[:-1]
    assert "--container-image=img; touch PWNED6" in actor
    assert "--container-mounts=/a b:/c'd," + str(compiled.run_dir) + ":" + str(compiled.run_dir) in actor
    assert actor[actor.index("python") + 2] == str(compiled.run_dir / "compiled" / "actor_auth.py")
    assert actor[actor.index("python") + 3] == "/opt/$(touch PWNED7)/examples/nlp/gpt/train_gpt_reinforce_actor.py"
    overrides = actor[actor.index("gpt_reinforce_actor") + 1:]
    assert overrides[:-1] == overrides_of(compiled) + ["++model.optim.sched.max_steps=7"]
    assert overrides[-1] == f"{REWARD_IP_KEY}=node-1"
    cfg = hydra_compose(nemo_conf, overrides)  # what NeMo-Aligner receives, after Hydra and OmegaConf
    assert cfg["pretrained_checkpoint"]["restore_from_path"] == HOSTILE
    assert cfg["exp_manager"]["wandb_logger_kwargs"]["project"] == "p'; touch PWNED5; '"
    assert cfg["model"]["data"]["data_prefix"]["train"] == [str(compiled.run_dir / "data" / "train_prompts.jsonl")]
    vllm = (log / "vllm").read_text().split("\0")
    assert vllm[:2] == ["serve", "m; touch PWNED4"]
    calls = [c.split("\0")[:-1] for c in (log / "rcstudio").read_text().strip("\n").split("\n")]
    assert calls[0] == ["run-job", "--run-dir", str(compiled.run_dir), "--step", "prepare"]
    assert calls[1][:3] == ["serve-reward", "--run-dir", str(compiled.run_dir)]
    assert calls[1][calls[1].index("--token-env") + 1] == "RCSTUDIO_REWARD_TOKEN"
    # one per-job token, in both groups' environment, in no file of the run dir
    token = (log / "token.--het-group=1").read_text()
    assert len(token) == 64 and int(token, 16) >= 0
    assert (log / "token.--het-group=0").read_text() == token
    for path in compiled.run_dir.rglob("*"):
        assert not path.is_file() or token not in path.read_text(errors="replace"), path


def test_actor_command_replaces_the_nemo_actor(compile_spec, tmp_path, stub_rcstudio):
    (compiled,) = compile_spec(GENRM + """
        [cluster]
        gpus_per_node = 0
        reward_gpus = 0
        [rl.nemo_aligner]
        actor_command = ["python", "-c", "print('a; b')", "$RCSTUDIO_REWARD_URL"]
        [reward.matcher]
        kind = "embedding"
    """)
    text = compiled.plan.script.read_text()
    assert "--gpus-per-node" not in text and "train_gpt_reinforce_actor.py" not in text.split("ACTOR=(")[1]
    log = _run_script(compiled.plan.script, tmp_path)
    actor = (log / "srun.--het-group=1").read_text().split("\0")[:-1]
    assert actor[-4:] == ["python", "-c", "print('a; b')", "$RCSTUDIO_REWARD_URL"]
    assert not (log / "vllm").exists()


def test_compose_cache_matches_hydra_for_every_sweep_point(nemo_conf, tmp_path):
    from rcstudio.engines.nemo_aligner.compile import ComposeCache, override_items, render_overrides

    spec_file = tmp_path / "s.toml"
    spec_file.write_text('[experiment]\nname = "c"\n[judge]\ncheckpoint = "/x/${notenv}.nemo"\n'
                         '[reward]\nform = "additive"\n[tracking]\nentity = "e"\n'
                         '[sweep]\ngrid = { "reward.alpha" = [0.1, 0.9], "rl.rollouts_per_prompt" = [4, 8] }\n'
                         'zip = { "rl.max_generation_tokens" = [1024, 4096], "tracking.project" = ["a", "b"] }\n')
    cache = ComposeCache()
    runs = expand(load_spec(spec_file))
    assert len(runs) == 8
    for run in runs:
        items = override_items(run, tmp_path / run.run_id) + [(REWARD_IP_KEY, "h", False)]
        fast = cache.compose(nemo_conf, items, [])
        full = hydra_compose(nemo_conf, render_overrides(items, []))
        assert fast == full, run.name
        assert fast["pretrained_checkpoint"]["restore_from_path"] == "/x/${notenv}.nemo"
