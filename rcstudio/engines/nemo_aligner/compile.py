"""Compiler to NeMo-Aligner v0.7.0 (pinned: the last release, frozen upstream).

GenRM training and policy RLHF both run the REINFORCE actor
(`examples/nlp/gpt/train_gpt_reinforce_actor.py`, config `gpt_reinforce_actor`) against a remote
reward model; rcstudio's reward server plays that model. The compiler emits:
- `overrides.txt`: the Hydra override list (`++key` for keys the YAML lacks; the checkpoint fills them),
- `config.yaml`: the composed config for reading (composed with Hydra when a NeMo-Aligner conf dir is
  reachable: `$RCSTUDIO_NEMO_CONF` or `<rl.nemo_aligner.install_dir>/examples/nlp/gpt/conf`),
- `job.sbatch`: the heterogeneous job from `hetjob.sbatch.tmpl` (package data of this package).
Checks NeMo would only make at run time (batch divisibility, lengths, intervals) happen here.
"""

from __future__ import annotations

import functools
import os
from importlib import resources
import re
import shlex
import string
import warnings
from pathlib import Path
from typing import Any

from rcstudio.engines import hydra_values as hv
from rcstudio.engines.plan import rcstudio_shell
from rcstudio.engines.sbatch import directives
from rcstudio.engines.nemo_aligner import batching as nb
from rcstudio.engines.nemo_aligner import families
from rcstudio.engines.nemo_aligner import reward_link
from rcstudio.engines.nemo_aligner.settings import Settings
from rcstudio.errors import UserError
from rcstudio.spec.keys import set_dotted
from rcstudio.spec.models import Spec
from rcstudio.spec.sweep import RunSpec

NEMO_ALIGNER_VERSION = "0.7.0"
ACTOR_SCRIPT = "examples/nlp/gpt/train_gpt_reinforce_actor.py"
CONF_SUBDIR = "examples/nlp/gpt/conf"
CONFIG_NAME = "gpt_reinforce_actor"
TEMPLATE = "hetjob.sbatch.tmpl"  # package data next to this module (found in any install, not by repo layout)
REWARD_IP_KEY = "remote_rm.reward_model.ip"
CHATML_END_STRINGS = ["<|im_end|>", "<|endoftext|>"]
ACTOR_AUTH = Path(__file__).resolve().parent / "actor_auth.py"
ACTOR_AUTH_REL = "compiled/actor_auth.py"  # copied into each run dir: the actor's container lacks rcstudio


def actor_auth_source() -> str:
    return ACTOR_AUTH.read_text(encoding="utf-8")


def sh_quote(text: str) -> str:
    """shlex.quote, or an equally safe double-quoted form when the text holds single quotes
    (Hydra overrides quote their strings with `'`; `'"'"'` chains are unreadable)."""
    quoted = shlex.quote(text)
    if "'\"'\"'" not in quoted:
        return quoted
    return '"' + re.sub(r'([\\"$`])', r"\\\1", text) + '"'


class _SbatchTemplate(string.Template):
    """`@@{name}` placeholders, so bash's `$VAR` needs no escaping in the template."""

    delimiter = "@@"
    idpattern = r"[a-z_][a-z0-9_]*"


def _error(spec: Spec, key: str, message: str, hint: str | None = None) -> UserError:
    """A UserError at the line that wrote `key` (the spec's Origins), or without one for a bare Spec."""
    origins = spec._origins  # noqa: SLF001
    return origins.error(key, message, hint) if origins is not None else UserError(message, key=key, hint=hint)


def settings(spec: Spec) -> Settings:
    """The spec's `[rl.nemo_aligner]` table."""
    return spec.rl.nemo_aligner  # type: ignore[attr-defined]


# -- overrides -------------------------------------------------------------------------------------
def restore_path(spec: Spec) -> str:
    return spec.policy.checkpoint if spec.experiment.kind == "policy-rlhf" else spec.judge.checkpoint


Item = tuple[str, Any, bool]  # (key, value, add: key absent from the YAML -> `++key=`)


def trained_model_key(spec: Spec) -> str:
    """The spec key naming the model the actor trains (its family decides the TRT-LLM model type)."""
    return "policy.model" if spec.experiment.kind == "policy-rlhf" else "judge.model"


def trained_model(spec: Spec) -> str:
    return spec.policy.model if spec.experiment.kind == "policy-rlhf" else spec.judge.model


def end_strings(spec: Spec) -> list[str] | None:
    """Generation stop strings: ChatML's for chat_format = chatml, else the family's (None: the YAML's)."""
    if spec.judge.chat_format == "chatml":
        return CHATML_END_STRINGS
    fam = families.family_of(trained_model(spec))
    return list(fam.end_strings) if fam is not None and fam.end_strings else None


def override_items(run: RunSpec, run_dir: Path) -> list[Item]:
    """The spec's values as (key, value, add) for the actor's config (rl.nemo_aligner.overrides excluded).

    Derivations (NeMo-Aligner v0.7.0 unless named; docs/architecture.md "NeMo-Aligner v0.7.0 semantics"):
    - model.global_batch_size = mini_batch_size x rollouts_per_prompt x DP: every DP rank holds the
      whole rollout batch and `fit` makes one optimizer step per model_gbs / DP rollouts
      (algorithms/reinforce.py; engines/nemo_aligner/batching.py has the derivation).
    - trainer.max_steps = -1 and model.optim.sched = CosineAnnealing {warmup, constant_steps 0, min_lr}:
      NeMo's ModelPT.setup_optimization would otherwise force sched.max_steps = trainer.max_steps
      (REINFORCE steps, not optimizer steps); sched.max_steps (optimizer steps, known once prep has
      counted the prompts) is appended at run time from data/actor_overrides.txt. min_lr = lr for
      rl.lr_schedule = "constant" (nemo/core/optim/lr_scheduler.py).
    - model.length_params.max_length = max_generation_tokens: RLHFDataset (data/nlp/datasets.py)
      tests `"length_params" in cfg` on cfg.model, so without it the prompt cut-off is
      seq_length // 2; with it, seq_length - max_length = max_prompt_tokens, equal to TRT-LLM's
      max_input_len (subtract:encoder_seq_length,max_length) and within the reward client's
      pad_to_length (= encoder_seq_length).
    - model.reinforce.num_val_samples = validation prompts in whole rollout batches
      (val_rollout_micro_batch_size x DP; utils/batch_iterators + compute_num_rollout_microbatches).
    - trainer.reinforce.trt_llm.model_type from the model family (engines/nemo_aligner/families.py).
    """
    spec, rl, cluster, tracking = run.spec, run.spec.rl, run.spec.cluster, run.spec.tracking
    na = settings(spec)
    data = Path(run_dir) / "data"
    val = str(data / "val_prompts.jsonl")
    b = nb.batching(spec)
    sched = nb.sched_values(spec, 0)
    o: list[tuple[str, Any]] = [  # "++" marks keys absent from the YAML
        ("trainer.num_nodes", cluster.nodes),
        ("trainer.devices", cluster.gpus_per_node),
        ("trainer.max_steps", -1),
        ("trainer.reinforce.max_epochs", rl.epochs),
        ("trainer.reinforce.max_steps", rl.max_steps),
        ("trainer.reinforce.val_check_interval", rl.val_check_interval),
        ("trainer.reinforce.save_interval", rl.save_interval),
        # rl.keep_checkpoints -> save_top_k of NeMo's checkpoint callback (gpt_reinforce_actor.yaml
        # exp_manager.checkpoint_callback_params, a PTL ModelCheckpoint): NeMo keeps the N best by its
        # monitor (val_rewards) plus the `-last` checkpoint it resumes from.
        ("exp_manager.checkpoint_callback_params.save_top_k", rl.keep_checkpoints),
        ("trainer.reinforce.initial_policy_kl_penalty", rl.kl_beta),
        ("trainer.reinforce.num_rollouts_per_prompt", rl.rollouts_per_prompt),
        ("remote_rm.reward_model.port", cluster.reward_port),
        ("pretrained_checkpoint.restore_from_path", restore_path(spec)),
        ("model.encoder_seq_length", rl.effective_seq_length),
        ("model.global_batch_size", b.model_gbs),
        ("model.micro_batch_size", rl.micro_batch_size),
        ("model.seed", rl.seed),
        ("++model.tensor_model_parallel_size", na.tensor_parallel),
        ("++model.pipeline_model_parallel_size", na.pipeline_parallel),
        ("model.optim.lr", rl.lr),
        ("model.optim.sched.name", sched["name"]),
        ("model.optim.sched.warmup_steps", sched["warmup_steps"]),
        ("model.optim.sched.constant_steps", sched["constant_steps"]),
        ("model.optim.sched.min_lr", sched["min_lr"]),
        ("++model.length_params.max_length", rl.max_generation_tokens),
        ("model.reinforce.num_rollout_samples", rl.global_batch_size),
        ("model.reinforce.rollout_micro_batch_size", na.rollout_micro_batch_size),
        ("model.reinforce.sampling_params.temperature", rl.temperature),
        ("model.reinforce.sampling_params.top_p", rl.top_p),
        ("model.reinforce.length_params.max_length", rl.max_generation_tokens),
        ("model.data.data_prefix", {"train": [str(data / "train_prompts.jsonl")], "validation": [val],
                                    "test": [val]}),
        ("exp_manager.explicit_log_dir", str(Path(run_dir) / "checkpoints")),
        ("exp_manager.name", run.name),
        ("exp_manager.create_wandb_logger", tracking.mode != "disabled"),
        ("exp_manager.wandb_logger_kwargs.project", tracking.project),
        ("exp_manager.wandb_logger_kwargs.name", run.name),
    ]
    expected_val = nb.expected_val_prompts(spec)
    if expected_val is not None:  # else prep sets it at run time (data/actor_overrides.txt)
        o.append(("model.reinforce.num_val_samples", nb.val_samples(spec, expected_val)))
    fam = families.family_of(trained_model(spec))
    if fam is not None and fam.supported:
        o.append(("trainer.reinforce.trt_llm.model_type", fam.trt_model_type))
    stops = end_strings(spec)
    if stops is not None:
        o.append(("model.reinforce.sampling_params.end_strings", stops))
    if tracking.mode != "disabled":
        o += [
            ("++exp_manager.wandb_logger_kwargs.id", run.run_id),
            ("++exp_manager.wandb_logger_kwargs.group", tracking.group or spec.experiment.name),
            ("++exp_manager.wandb_logger_kwargs.save_dir", str(run_dir)),
            ("++exp_manager.wandb_logger_kwargs.offline", tracking.mode == "offline"),
            ("++exp_manager.wandb_logger_kwargs.job_type", "actor"),
        ]
        if tracking.entity:
            o.append(("++exp_manager.wandb_logger_kwargs.entity", tracking.entity))
    return [(key.removeprefix("++"), value, key.startswith("++")) for key, value in o]


def render_overrides(items: list[Item], engine_overrides: list[str]) -> list[str]:
    """The actor's Hydra overrides (without the reward server's ip, known at run time)."""
    return [hv.override(k, v, add=add) for k, v, add in items] + list(engine_overrides)


@functools.lru_cache(maxsize=1)
def _override_parser():
    """Hydra's override parser (building one registers its grammar functions: slow, so once)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create()


# -- compile-time checks ---------------------------------------------------------------------------
def check(run: RunSpec) -> None:
    """What NeMo-Aligner would only find at run time, found now (raises UserError)."""
    spec, rl, na = run.spec, run.spec.rl, settings(run.spec)
    custom_actor = bool(na.actor_command)
    if not restore_path(spec) and not custom_actor:
        key = "policy.checkpoint" if spec.experiment.kind == "policy-rlhf" else "judge.checkpoint"
        raise _error(spec, key, "the NeMo-Aligner actor needs a .nemo checkpoint (restore_from_path)",
                     f'set {key} = "/path/to/model.nemo" (convert HF weights with NeMo\'s converter)')
    if rl.save_interval % rl.val_check_interval:
        raise _error(spec, "rl.save_interval",
                     f"save_interval ({rl.save_interval}) must be a multiple of val_check_interval "
                     f"({rl.val_check_interval}): NeMo-Aligner saves against a validation metric",
                     f"e.g. save_interval = {rl.val_check_interval * max(1, rl.save_interval // rl.val_check_interval)}")
    if spec.experiment.kind == "policy-rlhf" and not spec.judge.endpoint and not spec.judge.model:
        raise _error(spec, "judge.endpoint", "policy-rlhf needs the trained GenRM: an endpoint or a model to serve")
    check_model_family(spec)
    if not custom_actor:
        check_validation_batch(spec)
    if reward_link.request_timeout_s(spec) >= reward_link.CLIENT_INFERENCE_TIMEOUT_S:
        raise _error(spec, "reward.matcher.timeout_s",
                     f"the reward server's worst case ({reward_link.request_timeout_s(spec):.0f} s) exceeds the "
                     f"{reward_link.CLIENT_INFERENCE_TIMEOUT_S} s NeMo-Aligner v0.7.0's client waits for an answer",
                     "lower reward.matcher.timeout_s or max_retries, or raise reward.matcher.concurrency")
    for i, text in enumerate(na.overrides):
        try:
            _override_parser().parse_override(text)
        except Exception as exc:  # hydra raises OverrideParseException
            raise _error(spec, "rl.nemo_aligner.overrides", f"entry {i} ({text!r}) is not a Hydra override: "
                         f"{str(exc).splitlines()[0]}", "write key=value, ++key=value or ~key") from None


def check_model_family(spec: Spec) -> None:
    """Refuse a base model v0.7.0 cannot convert or generate with (engines/nemo_aligner/families.py)."""
    model = trained_model(spec)
    fam = families.family_of(model)
    if fam is None or fam.supported:
        return
    raise _error(spec, trained_model_key(spec),
                 f"{model!r} ({fam.name}) cannot run on NeMo-Aligner v0.7.0: {fam.why}",
                 f'train it with rl.engine = "verl", or pick a base NeMo-Aligner supports '
                 f"({families.supported_names()}), e.g. meta-llama/Llama-3.1-8B-Instruct")


def check_validation_batch(spec: Spec) -> None:
    """v0.7.0 raises IndexError (`rollout_batches[0]` in reinforce.py) when validation yields no
    rollout batch: fewer validation prompts than val_rollout_micro_batch_size x DP."""
    prompts = nb.expected_val_prompts(spec)
    if prompts is not None and nb.val_samples(spec, prompts) == 0:
        unit = settings(spec).rollout_micro_batch_size * nb.batching(spec).dp
        raise _error(spec, "data.val_items",
                     f"{prompts} validation prompts are fewer than one validation rollout batch "
                     f"(rollout_micro_batch_size x data-parallel size = {unit}): NeMo-Aligner v0.7.0 "
                     "would fail with IndexError at its first validation",
                     f"set data.val_items >= {unit}")


# -- composition -----------------------------------------------------------------------------------
def register_resolvers() -> None:
    """The resolvers NeMo-Aligner's scripts register before Hydra composes their config."""
    from omegaconf import OmegaConf

    for name, fn in (("multiply", lambda x, y: x * y), ("int_div", lambda x, y: x // y),
                     ("subtract", lambda x, y: x - y)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


def find_conf_dir(spec: Spec) -> Path | None:
    env = os.environ.get("RCSTUDIO_NEMO_CONF")
    candidates = [Path(env)] if env else []
    candidates.append(Path(settings(spec).install_dir) / CONF_SUBDIR)
    for c in candidates:
        if (c / f"{CONFIG_NAME}.yaml").is_file():
            return c.resolve()
    return None


def compose(conf_dir: Path, overrides: list[str], resolve: bool = True) -> dict[str, Any]:
    """Compose `gpt_reinforce_actor` with `overrides` through Hydra's compose API, as NeMo would."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    register_resolvers()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the shipped YAML's defaults list lacks _self_
        with initialize_config_dir(version_base=None, config_dir=str(conf_dir), job_name="rcstudio"):
            cfg = hydra_compose(config_name=CONFIG_NAME, overrides=list(overrides))
    return OmegaConf.to_container(cfg, resolve=resolve)


class ComposeCache:
    """Hydra composition for many runs of one sweep, at the cost of one.

    Runs of a sweep share their override keys; only values differ. The first run of each key
    layout is composed by Hydra (which validates every key); later ones start from that composed
    config and set their values with `OmegaConf.update(merge=True, force_add=++)`, which is how
    Hydra applies `key=value` / `++key=value` overrides. Runs with engine_overrides (arbitrary Hydra
    syntax) are always composed in full.
    """

    def __init__(self) -> None:
        self._base: dict[tuple, Any] = {}

    def compose(self, conf_dir: Path, items: list[Item], engine_overrides: list[str]) -> dict[str, Any]:
        from omegaconf import OmegaConf

        full = render_overrides(items, engine_overrides)
        if engine_overrides:
            return compose(conf_dir, full)
        layout = (str(conf_dir), tuple((k, add) for k, _, add in items))
        cfg = self._base.get(layout)
        if cfg is None:
            # Hydra composes (and validates) the first run of a layout; its config is reused.
            cfg = OmegaConf.create(compose(conf_dir, full, resolve=False))
            self._base[layout] = cfg
        # Every run of a layout sets every key of it, so updating in place leaves nothing behind.
        for key, value, add in items:
            OmegaConf.update(cfg, key, _omegaconf_literal(value), merge=True, force_add=add)
        register_resolvers()
        return OmegaConf.to_container(cfg, resolve=True)


def _omegaconf_literal(value: Any) -> Any:
    """Escape `${` as Hydra's quoted strings do, so spec text is never an interpolation."""
    if isinstance(value, str):
        return value.replace("${", "\\${")
    if isinstance(value, list):
        return [_omegaconf_literal(v) for v in value]
    if isinstance(value, dict):
        return {k: _omegaconf_literal(v) for k, v in value.items()}
    return value


_CACHE = ComposeCache()


def render_config_yaml(run: RunSpec, items: list[Item], cache: ComposeCache | None = None) -> str:
    """The composed config (or, with no conf dir reachable, the overrides as YAML) with a header."""
    import yaml

    items = items + [(REWARD_IP_KEY, "REWARD_HOST", False)]
    engine = list(settings(run.spec).overrides)
    conf_dir = find_conf_dir(run.spec)
    head = [f"NeMo-Aligner v{NEMO_ALIGNER_VERSION} {CONFIG_NAME} for run {run.run_id} ({run.name}).",
            f"{REWARD_IP_KEY} is a placeholder: the job sets it to the first node of het group 0.",
            "Not mapped (REINFORCE has no ratio clipping): rl.clip_ratio.",
            "Added at run time from data/actor_overrides.txt (prep counts the prompts): "
            "++model.optim.sched.max_steps (optimizer steps) and model.reinforce.num_val_samples."]
    if conf_dir is not None:
        try:
            data = (cache or _CACHE).compose(conf_dir, items, engine)
        except Exception as exc:  # a bad rl.nemo_aligner.overrides entry, most likely
            raise _error(run.spec, "rl.nemo_aligner.overrides",
                         f"the overrides do not compose with {conf_dir}: {str(exc).splitlines()[0]}") from None
        head.insert(1, f"Composed with Hydra against {CONFIG_NAME}.yaml of the NeMo-Aligner conf dir.")
    else:
        head.insert(1, "No NeMo-Aligner conf dir was reachable at compile time (set RCSTUDIO_NEMO_CONF): this "
                       "is the override list as YAML, not the composed config.")
        data = _overrides_as_tree(items, engine)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when present: 10x faster
    text = yaml.dump(data, Dumper=dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)
    return "".join(f"# {line}\n" for line in head) + text


def _overrides_as_tree(items: list[Item], engine_overrides: list[str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key, value, _ in items:
        set_dotted(tree, key, value)
    if engine_overrides:
        parser = _override_parser()
        for text in engine_overrides:
            ov = parser.parse_override(text)
            if not ov.is_delete():
                set_dotted(tree, ov.key_or_group, ov.value())
    return tree


# -- the hetjob script -----------------------------------------------------------------------------
def _sbatch_lines(spec: Spec, *, job_name: str, log_dir: Path | None, nodes: int, gpus: int, ntasks: int) -> str:
    return "\n".join(directives(spec, job_name=job_name, log_dir=log_dir, nodes=nodes, gpus=gpus, ntasks=ntasks))


def _vllm_block(spec: Spec) -> str:
    """Start a local vLLM server in group 0 when the reward side needs an LLM nobody serves yet."""
    c = spec.cluster
    if spec.experiment.kind == "policy-rlhf":
        if spec.judge.endpoint:
            return "  : # the GenRM is served at judge.endpoint"
        model, env = spec.judge.model, "RCSTUDIO_JUDGE_ENDPOINT"
    elif spec.reward.matcher.kind == "llm" and not spec.reward.matcher.endpoint:
        model, env = spec.reward.matcher.model, "RCSTUDIO_MATCHER_ENDPOINT"
    else:
        return "  : # no vLLM server needed (matcher endpoint given or not an LLM matcher)"
    tp = max(1, c.reward_gpus)
    argv = ["vllm", "serve", model, "--host", "127.0.0.1", "--port", str(c.vllm_port),
            "--tensor-parallel-size", str(tp)]
    cmd = " ".join(shlex.quote(a) for a in argv)
    return "\n".join([
        f'  {cmd} >"$RUN_DIR/logs/vllm.log" 2>&1 &',
        "  local vllm_pid=$!",
        '  wait_ready "http://127.0.0.1:$VLLM_PORT/v1/models" "$READY_TIMEOUT_S" "$vllm_pid"',
        f'  export {env}="http://127.0.0.1:$VLLM_PORT/v1"',
    ])


def _actor(spec: Spec) -> tuple[str, str]:
    """(ACTOR array body, srun flags for group 1)."""
    c = spec.cluster
    flags = ["--nodes", str(c.nodes), "--ntasks-per-node", str(c.gpus_per_node or 1), "--kill-on-bad-exit=1"]
    flag_text = " ".join(shlex.quote(f) for f in flags)
    if c.container_image:
        # adjacent quoted pieces form one word: 'a:b','c:d',"$RUN_DIR:$RUN_DIR"
        mounts = [shlex.quote(m) for m in c.container_mounts] + ['"$RUN_DIR:$RUN_DIR"']
        flag_text += " --container-image=" + shlex.quote(c.container_image)
        flag_text += " --container-mounts=" + ",".join(mounts)
    actor_command = settings(spec).actor_command
    if actor_command:
        body = [sh_quote(a) for a in actor_command]
    else:
        # actor_auth.py adds the per-job token to every request of v0.7.0's reward client, then
        # runs the script; RUNTIME_OVERRIDES come from prep (data/actor_overrides.txt).
        body = ["python", "-u", f'"$RUN_DIR"/{ACTOR_AUTH_REL}', f'"$NEMO_ALIGNER_DIR"/{ACTOR_SCRIPT}',
                "--config-path", f'"$NEMO_ALIGNER_DIR"/{CONF_SUBDIR}', "--config-name", CONFIG_NAME,
                '"${OVERRIDES[@]}"', '"${RUNTIME_OVERRIDES[@]}"', f'"{REWARD_IP_KEY}=$REWARD_HOST"']
    return "\n".join(f"  {item}" for item in body), flag_text


def render_sbatch(run: RunSpec, run_dir: Path, overrides: list[str]) -> str:
    spec, c = run.spec, run.spec.cluster
    run_dir = Path(run_dir)
    job_name = f"rcs-{run.name}"
    group0 = _sbatch_lines(spec, job_name=job_name, log_dir=run_dir / "logs", nodes=c.reward_nodes,
                           gpus=c.reward_gpus, ntasks=1)
    group1 = _sbatch_lines(spec, job_name="", log_dir=None, nodes=c.nodes, gpus=c.gpus_per_node,
                           ntasks=c.gpus_per_node or 1)
    actor, actor_flags = _actor(spec)
    values = {
        "header": f"rcstudio run {run.run_id} ({run.name}), experiment {spec.experiment.name}, "
                  f"kind {spec.experiment.kind}, spec sha256 {run.spec_hash[:16]}",
        "sbatch_group0": group0,
        "sbatch_group1": group1,
        "setup": "\n".join(c.setup) if c.setup else ": # none",
        "run_dir": shlex.quote(str(run_dir)),
        "run_id": shlex.quote(run.run_id),
        "nemo_aligner_dir": shlex.quote(settings(spec).install_dir),
        "reward_port": str(c.reward_port),
        "vllm_port": str(c.vllm_port),
        "ready_timeout_s": str(c.ready_timeout_s),
        "request_timeout_s": f"{reward_link.request_timeout_s(spec):.0f}",
        "token_env": reward_link.TOKEN_ENV,
        "vllm_block": _vllm_block(spec),
        "overrides": "\n".join(f"  {sh_quote(o)}" for o in overrides),
        "actor": actor,
        "actor_srun_flags": actor_flags,
        "rcstudio": rcstudio_shell(),  # the submitting interpreter, not a bare `rcstudio` on PATH
    }
    text = resources.files(__package__).joinpath(TEMPLATE).read_text(encoding="utf-8")
    return _SbatchTemplate(text).substitute(values)
