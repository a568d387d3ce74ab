"""Compile a `rl.engine = "verl"` run: overrides, composed config and the Ray-on-Slurm sbatch.

Files: `compiled/overrides.txt` (one Hydra override per line, as for NeMo-Aligner),
`compiled/config.yaml` (verl's `ppo_trainer` composed with them by Hydra, type-checked and passed
through verl's `validate_config`), `compiled/job.sbatch` (from `job.sbatch.tmpl` next to this file).
Everything is computed before anything is written; a bad key or value is a UserError (exit 2).
"""

from __future__ import annotations

import json
import shlex
import string
import subprocess
from pathlib import Path
from typing import Any

from rcstudio.engines import hydra_values as hv
from rcstudio.engines.sbatch import directives
from rcstudio.engines.verl import VERL_VERSION
from rcstudio.engines.verl.mapping import CONFIG_NAME, Item, model_path, override_items
from rcstudio.engines.verl.settings import VerlSettings, settings_from
from rcstudio.errors import UserError

TEMPLATE = Path(__file__).with_name("job.sbatch.tmpl")
CHECK_MARK = "@@RCSTUDIO_VERL_CHECK@@"
PLACEHOLDER_RUN_DIR = Path("/rcstudio-run-dir")  # `rcstudio validate` composes before a run dir exists


def settings_of(spec: Any) -> VerlSettings:
    return settings_from(getattr(spec.rl, "verl", None))


def _error(spec: Any, key: str, message: str, hint: str | None = None) -> UserError:
    """A UserError at the line that wrote `key` (the spec's Origins), or without one for a bare Spec."""
    origins = getattr(spec, "_origins", None)
    return origins.error(key, message, hint) if origins is not None else UserError(message, key=key, hint=hint)


# -- checks on the spec (pure) -------------------------------------------------------------------
def conflicts(spec: Any, settings: VerlSettings) -> list[Any]:
    """What verl would only find on the cluster, found while the spec validates (SpecConflicts)."""
    from rcstudio.spec.models import SpecConflict

    rl, c = spec.rl, spec.cluster
    out: list[Any] = []
    if not model_path(spec):
        key = "policy.model" if spec.experiment.kind == "policy-rlhf" else "judge.model"
        out.append(SpecConflict(key, "verl trains a Hugging Face checkpoint: set the model to train",
                                f'e.g. {key} = "Qwen/Qwen3-14B"'))
    if spec.experiment.kind == "policy-rlhf" and not (spec.judge.endpoint or spec.judge.model):
        out.append(SpecConflict("judge.endpoint", "policy-rlhf needs the trained GenRM: an endpoint or a model "
                                "verl serves (judge.model)"))
    if settings.resume == "resume_path" and not settings.resume_from:
        out.append(SpecConflict("rl.verl.resume_from", 'resume = "resume_path" needs the checkpoint to resume',
                                'e.g. resume_from = "/runs/X/checkpoints/global_step_40"'))
    gpus = c.nodes * c.gpus_per_node
    if gpus == 0:
        if not settings.trainer_command:  # a replacement trainer (tests, custom drivers) may run on CPUs
            out.append(SpecConflict("cluster.gpus_per_node", "verl's trainer needs GPUs",
                                    "set cluster.gpus_per_node (and cluster.nodes)"))
        return out
    tp = settings.rollout_tensor_parallel
    if c.gpus_per_node % tp:
        out.append(SpecConflict("rl.verl.rollout_tensor_parallel",
                                f"a rollout replica ({tp} GPUs) must fit the {c.gpus_per_node} GPUs of a node",
                                f"pick a divisor of cluster.gpus_per_node = {c.gpus_per_node}"))
    n = rl.rollouts_per_prompt
    # verl/utils/config.py validate_config: train_batch_size * rollout.n divisible by the GPU count.
    if (rl.global_batch_size * n) % gpus:
        out.append(SpecConflict(
            "rl.global_batch_size",
            f"rollouts per step (global_batch_size x rollouts_per_prompt = {rl.global_batch_size * n}) must be "
            f"divisible by the {gpus} trainer GPUs (nodes x gpus_per_node)"))
    # the FSDP workers split each mini-batch's samples (ppo_mini_batch_size * n) over the GPUs
    samples = rl.mini_batch_size * n
    if samples % gpus:
        out.append(SpecConflict(
            "rl.mini_batch_size",
            f"rollouts per optimizer step (mini_batch_size x rollouts_per_prompt = {samples}) must be divisible "
            f"by the {gpus} trainer GPUs"))
    elif not settings.use_dynamic_bsz and (samples // gpus) % rl.micro_batch_size:
        out.append(SpecConflict(
            "rl.micro_batch_size",
            f"each GPU's share of a mini-batch ({samples // gpus} rollouts) must be divisible by micro_batch_size "
            f"({rl.micro_batch_size})", "or set [rl.verl] use_dynamic_bsz = true"))
    return out


def parse_overrides(spec: Any, settings: VerlSettings) -> None:
    """Every `[rl.verl] overrides` entry is Hydra override syntax."""
    if not settings.overrides:
        return
    from rcstudio.engines.nemo_aligner.compile import _override_parser

    parser = _override_parser()
    for i, text in enumerate(settings.overrides):
        try:
            parser.parse_override(text)
        except Exception as exc:
            raise _error(spec, "rl.verl.overrides", f"entry {i} ({text!r}) is not a Hydra override: "
                         f"{str(exc).splitlines()[0]}", "write key=value, ++key=value or ~key") from None


def render_overrides(items: list[Item], extra: list[str]) -> list[str]:
    return [hv.override(k, v, add=add) for k, v, add in items] + list(extra)


# -- composition against verl's packaged configs ----------------------------------------------------
_RESULTS: dict[tuple[tuple[str, ...], bool], dict[str, Any]] = {}


def run_checks(batches: list[tuple[list[str], bool]]) -> list[dict[str, Any]]:
    """`check.check_many` here when verl imports, else in the verl Python (one subprocess per call)."""
    from rcstudio.engines.verl.env import verl_python

    todo = [(tuple(o), v) for o, v in batches if (tuple(o), v) not in _RESULTS]
    if todo:
        python = verl_python()
        payload = [{"overrides": list(o), "validate": v} for o, v in todo]
        if python is None:
            from rcstudio.engines.verl.check import check_many

            results = check_many(payload)
        else:
            proc = subprocess.run([python, "-m", "rcstudio.engines.verl.check"], input=json.dumps({"batches": payload}),
                                  capture_output=True, text=True, check=False)
            out = proc.stdout.rpartition(CHECK_MARK)[2].strip() if CHECK_MARK in proc.stdout else ""
            if proc.returncode or not out:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
                raise UserError(f"the verl config check failed to run with {python}: {' | '.join(tail)}",
                                key="rl.engine", hint="is verl==0.9.1 installed there? (scripts/setup.sh)")
            results = json.loads(out)
        _RESULTS.update(zip(todo, results))
    return [_RESULTS[(tuple(o), v)] for o, v in batches]


def composed(spec: Any, settings: VerlSettings, overrides: list[str]) -> dict[str, Any]:
    """verl's composed config for `overrides`, or the UserError naming what verl rejected."""
    validate = spec.cluster.nodes * spec.cluster.gpus_per_node > 0  # a CPU stand-in trainer: compose only
    result = run_checks([(overrides, validate)])[0]
    if result["ok"]:
        return result["config"]
    bad = result.get("override")
    from_user = bad is not None and bad in settings.overrides
    stage = {"parse": "is not a Hydra override", "compose": "does not compose with verl's config",
             "type": "has the wrong type for verl", "validate": "fails verl's validate_config"}[result["stage"]]
    if from_user:
        raise _error(spec, "rl.verl.overrides", f"{bad!r} {stage}: {result['message']}",
                     f"check the key against verl {VERL_VERSION}'s {CONFIG_NAME}.yaml")
    raise _error(spec, "rl.verl" if result["stage"] != "validate" else "rl",
                 f"the compiled verl config {stage}: {result['message']}",
                 "adjust the [rl] / [rl.verl] values named above")


def _check_overrides(run: Any, settings: VerlSettings) -> list[str]:
    """The run's overrides with the placeholder run dir: what is composed and checked (so
    `validate`, `compile` and every point of a sweep share one verl process and its cache)."""
    items = override_items(run.spec, settings, PLACEHOLDER_RUN_DIR, run_name=run.name, run_id=run.run_id)
    return render_overrides(items, settings.overrides)


def _rebase(value: Any, run_dir: Path) -> Any:
    """The composed config with the placeholder run dir replaced by the real one."""
    if isinstance(value, str) and value.startswith(str(PLACEHOLDER_RUN_DIR)):
        return str(run_dir) + value[len(str(PLACEHOLDER_RUN_DIR)):]
    if isinstance(value, list):
        return [_rebase(v, run_dir) for v in value]
    if isinstance(value, dict):
        return {k: _rebase(v, run_dir) for k, v in value.items()}
    return value


def prefetch(runs: list[Any]) -> None:
    """Compose and check every verl run of a sweep in ONE verl process (errors surface per run later)."""
    batches = []
    for run in runs:
        if uses_verl(run):
            settings = settings_of(run.spec)
            try:
                parse_overrides(run.spec, settings)
            except UserError:
                continue  # reported by that run's own check, in order
            validate = run.spec.cluster.nodes * run.spec.cluster.gpus_per_node > 0
            batches.append((_check_overrides(run, settings), validate))
    if batches:
        run_checks(batches)


def uses_verl(run: Any) -> bool:
    spec = run.spec
    return spec.experiment.kind in ("genrm-train", "policy-rlhf") and spec.rl.engine == "verl"


def check(run: Any, run_dir: Path | None = None) -> dict[str, Any]:
    """Everything `rcstudio validate` checks for a verl run; returns the composed config."""
    spec = run.spec
    settings = settings_of(spec)
    parse_overrides(spec, settings)
    config = composed(spec, settings, _check_overrides(run, settings))
    return _rebase(config, Path(run_dir)) if run_dir is not None else config


def render_config_yaml(run: Any, config: dict[str, Any]) -> str:
    import yaml

    validated = run.spec.cluster.nodes * run.spec.cluster.gpus_per_node > 0
    head = [f"verl {VERL_VERSION} {CONFIG_NAME} for run {run.run_id} ({run.name}).",
            "Composed with Hydra against the installed verl's packaged configs, value types checked"
            + (", verl's validate_config passed." if validated else
               "; validate_config skipped (no trainer GPUs: a replacement trainer runs)."),
            "Not mapped: rl.rollout_micro_batch_size (verl's rollout server batches itself), "
            "rl.tensor_parallel/pipeline_parallel (FSDP shards the actor; rollout TP is rl.verl.rollout_tensor_parallel).",
            "Engine key for the matcher's endpoint at run time: $RCSTUDIO_MATCHER_ENDPOINT (set by job.sbatch)."]
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    text = yaml.dump(config, Dumper=dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)
    return "".join(f"# {line}\n" for line in head) + text


# -- the sbatch --------------------------------------------------------------------------------------
class _Template(string.Template):
    """`@@{name}` placeholders, so bash's `$VAR` needs no escaping in the template."""

    delimiter = "@@"
    idpattern = r"[a-z_][a-z0-9_]*"


def needs_matcher_vllm(spec: Any) -> bool:
    return (spec.experiment.kind == "genrm-train" and spec.reward.matcher.kind == "llm"
            and not spec.reward.matcher.endpoint)


def _vllm_block(spec: Any) -> str:
    """Group 0 serves the matcher's LLM (its own node(s)); the endpoint reaches Ray through the env."""
    if not needs_matcher_vllm(spec):
        return ": # no vLLM to start (matcher endpoint given, not an LLM matcher, or policy RLHF)"
    c = spec.cluster
    argv = ["vllm", "serve", spec.reward.matcher.model, "--host", "0.0.0.0", "--port", str(c.vllm_port),
            "--tensor-parallel-size", str(max(1, c.reward_gpus))]
    cmd = " ".join(shlex.quote(a) for a in argv)
    return "\n".join([
        'mapfile -t MATCHER_NODES < <(scontrol show hostnames "$SLURM_JOB_NODELIST_HET_GROUP_0")',
        'MATCHER_HOST="${MATCHER_NODES[0]}"',
        f'srun --het-group=0 --nodes=1 --ntasks=1 -w "$MATCHER_HOST" {cmd} >"$RUN_DIR/logs/vllm.log" 2>&1 &',
        "PIDS+=($!)",
        'wait_ready "http://$MATCHER_HOST:$VLLM_PORT/v1/models" "$READY_TIMEOUT_S" "$!"',
        'export RCSTUDIO_MATCHER_ENDPOINT="http://$MATCHER_HOST:$VLLM_PORT/v1"',
        'echo "rcstudio: matcher vLLM ready at $RCSTUDIO_MATCHER_ENDPOINT"',
    ])


def _wandb_env(run: Any) -> str:
    t = run.spec.tracking
    if t.mode == "disabled":
        return "export WANDB_MODE=disabled"
    env = {"WANDB_MODE": t.mode, "WANDB_DIR": "$RUN_DIR", "WANDB_RUN_ID": run.run_id, "WANDB_RESUME": "allow",
           "WANDB_RUN_GROUP": t.group or run.spec.experiment.name, "WANDB_JOB_TYPE": "actor"}
    if t.entity:
        env["WANDB_ENTITY"] = t.entity
    return "\n".join(f'export {k}="$RUN_DIR"' if v == "$RUN_DIR" else f"export {k}={shlex.quote(v)}"
                     for k, v in env.items())


def _python(settings: VerlSettings) -> str:
    """The interpreter as one shell word (a path or a command name)."""
    return shlex.quote(settings.python)


def render_sbatch(run: Any, run_dir: Path, overrides: list[str]) -> str:
    from rcstudio.engines.nemo_aligner.compile import sh_quote

    spec, c = run.spec, run.spec.cluster
    settings = settings_of(spec)
    run_dir = Path(run_dir)
    het = needs_matcher_vllm(spec)
    job_name = f"rcs-{run.name}"
    if het:
        lines = (directives(spec, job_name=job_name, log_dir=run_dir / "logs", nodes=c.reward_nodes,
                               gpus=c.reward_gpus) + ["#SBATCH hetjob"]
                 + directives(spec, job_name="", log_dir=None, nodes=c.nodes, gpus=c.gpus_per_node))
    else:
        lines = directives(spec, job_name=job_name, log_dir=run_dir / "logs", nodes=c.nodes, gpus=c.gpus_per_node)
    resources = [f"--num-cpus={c.cpus_per_task}"] + ([f"--num-gpus={c.gpus_per_node}"] if c.gpus_per_node else [])
    if settings.trainer_command:
        trainer = [sh_quote(a) for a in settings.trainer_command]
    else:
        trainer = ['"$VERL_PYTHON"', "-m", "verl.trainer.main_ppo", '"${OVERRIDES[@]}"']
    values = {
        "header": f"rcstudio run {run.run_id} ({run.name}), experiment {spec.experiment.name}, "
                  f"kind {spec.experiment.kind}, spec sha256 {run.spec_hash[:16]}",
        "verl_version": VERL_VERSION,
        "sbatch_lines": "\n".join(lines),
        "setup": "\n".join(c.setup) if c.setup else ": # none",
        "run_dir": shlex.quote(str(run_dir)),
        "run_id": shlex.quote(run.run_id),
        "python": _python(settings),
        "ray_port": str(settings.ray_port),
        "vllm_port": str(c.vllm_port),
        "ready_timeout_s": str(c.ready_timeout_s),
        "ray_ready_timeout_s": str(settings.ray_ready_timeout_s),
        "wandb_env": _wandb_env(run),
        "vllm_block": _vllm_block(spec),
        "trainer_nodelist": "$SLURM_JOB_NODELIST_HET_GROUP_1" if het else "$SLURM_JOB_NODELIST",
        "nodes": str(c.nodes),
        "het_flag": "--het-group=1 " if het else "",
        "ray_resources": " ".join(resources),
        "overrides": "\n".join(f"  {sh_quote(o)}" for o in overrides),
        "trainer": "\n".join(f"  {item}" for item in trainer),
    }
    return _Template(TEMPLATE.read_text()).substitute(values)


# -- the run dir -----------------------------------------------------------------------------------
def artifacts(run: Any, run_dir: Path) -> tuple[dict[str, str], dict[str, Any]]:
    """Relative path -> text for the compiled files, and the launch plan's fields (mode sbatch)."""
    spec = run.spec
    settings = settings_of(spec)
    config = check(run, run_dir)
    items = override_items(spec, settings, run_dir, run_name=run.name, run_id=run.run_id)
    overrides = render_overrides(items, settings.overrides)
    files = {
        "compiled/overrides.txt": "".join(o + "\n" for o in overrides),
        "compiled/config.yaml": render_config_yaml(run, config),
        "compiled/job.sbatch": render_sbatch(run, run_dir, overrides),
    }
    plan = {"mode": "sbatch", "script": Path(run_dir) / "compiled" / "job.sbatch", "nodes": spec.cluster.nodes,
            "gpus_per_node": spec.cluster.gpus_per_node}
    return files, plan


TARGET = f"verl {VERL_VERSION} ({CONFIG_NAME})"
