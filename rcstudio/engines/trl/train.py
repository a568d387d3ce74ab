"""Single-node GenRM training with TRL's GRPOTrainer on the hybrid reward (`rl.engine = "trl"`).

One machine, CPU or GPUs (one process per GPU via `accelerate launch -m rcstudio run-job ...`;
W&B and the summary come from rank 0), local or as a one-node Slurm job. The judge writes reasons + a boxed
verdict for each training pair; `HybridReward` scores it with the rationale core (the same code the
NeMo-Aligner reward server runs), and the reward components go to the run's W&B run under the
shared names, so the dashboard puts TRL and NeMo-Aligner runs side by side.

Spec -> TRL mapping (one "step" in W&B = one optimizer step):
  rl.global_batch_size prompts per generation round  -> generation_batch_size = prompts x rollouts
  rl.mini_batch_size prompts per optimizer step      -> per_device_train_batch_size x grad. accumulation
  rl.micro_batch_size completions per forward/backward -> per_device_train_batch_size
  rl.rollouts_per_prompt -> num_generations, rl.clip_ratio -> epsilon, rl.kl_beta -> beta,
  rl.max_generation_tokens -> max_completion_length, rl.max_prompt_tokens: longer prompts are dropped
  (counted and logged; TRL 1.x no longer truncates prompts), rl.max_steps (RL steps, i.e. generation
  rounds) -> max_steps x global/mini optimizer steps, else rl.epochs.
Checkpoints go to `run_dir/checkpoints/` every rl.save_interval steps and at the end; a rerun of the
same run dir resumes from the last one (that is how a requeued Slurm job continues). SIGUSR2/SIGTERM
(Slurm's warning before a time limit or preemption) save a checkpoint at the next step and stop.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcstudio._quiet import stdout_to_stderr
from rcstudio.engines.prepare import TrainingPrompt, training_prompts
from rcstudio.errors import JobFailed, UserError

if TYPE_CHECKING:
    from rcstudio.spec.models import RLShared, Spec

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- pure helpers
def dataset_rows(prompts: Iterable[TrainingPrompt]) -> list[dict[str, Any]]:
    """GRPO dataset rows from the shared training prompts (engines/prepare.training_prompts: the
    items, swaps and ground truth every engine trains on); the reward function reads the columns.
    A swapped row shows response2 as A, so its preference is already negated; human rationales keep
    their Response 1/2 naming and `swapped` tells the matcher how to read them."""
    return [{"prompt": p.prompt, "preference": p.preference, "human_checklist": list(p.human_checklist),
             "swapped": p.swapped, "item_id": p.id} for p in prompts]


def batch_layout(rl: RLShared, world_size: int = 1) -> dict[str, int]:
    """Per-device batch, gradient accumulation and generation batch from the spec's RL batch sizes."""
    completions_per_update = rl.mini_batch_size * rl.rollouts_per_prompt
    per_device = rl.micro_batch_size
    if completions_per_update % (per_device * world_size):
        raise UserError(
            f"rl.mini_batch_size x rollouts_per_prompt = {completions_per_update} completions per update "
            f"is not divisible by micro_batch_size x processes = {per_device * world_size}",
            key="rl.micro_batch_size", hint="pick a micro_batch_size that divides mini_batch_size * rollouts_per_prompt")
    return {
        "per_device_train_batch_size": per_device,
        "gradient_accumulation_steps": completions_per_update // (per_device * world_size),
        "generation_batch_size": rl.global_batch_size * rl.rollouts_per_prompt,
        "updates_per_round": rl.global_batch_size // rl.mini_batch_size,
    }


def grpo_kwargs(spec: Spec, output_dir: Path, world_size: int = 1, cuda: bool = False, bf16: bool = False) -> dict[str, Any]:
    """`GRPOConfig(**kwargs)` for a spec (pure: tested without building a trainer)."""
    rl = spec.rl
    layout = batch_layout(rl, world_size)
    return {
        "output_dir": str(output_dir),
        "learning_rate": rl.lr,
        "per_device_train_batch_size": layout["per_device_train_batch_size"],
        "gradient_accumulation_steps": layout["gradient_accumulation_steps"],
        "generation_batch_size": layout["generation_batch_size"],
        "num_generations": rl.rollouts_per_prompt,
        "epsilon": rl.clip_ratio,
        "beta": rl.kl_beta,
        "max_completion_length": rl.max_generation_tokens,
        "temperature": rl.temperature,
        "top_p": rl.top_p,
        "seed": rl.seed,
        "data_seed": rl.seed,
        "num_train_epochs": rl.epochs,
        "max_steps": rl.max_steps * layout["updates_per_round"] if rl.max_steps > 0 else -1,
        "save_strategy": "steps",
        "save_steps": rl.save_interval,
        # rl.keep_checkpoints is applied by the PruneCheckpoints callback (train.py), by step number,
        # not through save_total_limit: the Trainer's rotation (transformers trainer_utils.
        # rotate_checkpoints, use_mtime=True) orders by mtime, which pruning optimizer files changes.
        "save_total_limit": None,
        "logging_steps": 1,
        "report_to": "none",  # W&B goes through tracking.wandb_log so names and ids match the registry
        "run_name": spec.experiment.name,
        "use_cpu": not cuda,
        "bf16": bool(cuda and bf16),
        "log_completions": False,
        "remove_unused_columns": False,
    }


def shared_log(logs: dict[str, Any]) -> dict[str, float]:
    """Trainer logs -> W&B keys: the shared reward/matcher names as is, TRL's own under `train/`."""
    out: dict[str, float] = {}
    for key, value in logs.items():
        if value is None or isinstance(value, (str, bool)):
            continue
        try:
            value = float(value)
        except (TypeError, ValueError):
            continue
        if key.startswith(("reward/", "matcher/")):
            out[key] = value
        else:
            out[f"train/{key}"] = value
    return out


# --------------------------------------------------------------------------- I/O edges
def priming_examples(items: list[Any], rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(prompt, judgment) pairs for a tiny model's warm-up: stored judge outputs whose verdict agrees
    with the human preference, on rows shown in the original order (stored A/B = response1/2)."""
    from rcstudio.rationale.parse import parse_judgment

    by_id = {str(item.id): item for item in items}
    out = []
    for row in rows:
        item = by_id.get(row["item_id"])
        if row["swapped"] or item is None:
            continue
        for _name, output in sorted(item.outputs.items()):
            text = output.generated_text or ""
            judgment = parse_judgment(text) if text else None
            if judgment is not None and judgment.ok and judgment.direction == item.preference_direction:
                out.append((row["prompt"], text))
    return out


def resolve_model(spec: Spec, rows: list[dict[str, Any]], run_dir: Path, items: list[Any] = ()) -> str:
    """A path or hub id for the judge; `tiny://` models are built into `run_dir/model/`."""
    from rcstudio.tiny_model import build_tiny_model, is_tiny

    model = spec.judge.model
    if is_tiny(model):
        from rcstudio.tracking.progress import Progress

        examples = priming_examples(list(items), rows)
        progress = Progress(run_dir, None, phase="prime", items_unit="examples")  # logs/progress.json meanwhile
        built = build_tiny_model(model, (r["prompt"] for r in rows), run_dir / "model", examples,
                                 on_step=lambda done, total: progress.update(done, items=done, total=total))
        return str(built)
    return model


def load_tokenizer(spec: Spec, model: str) -> Any:
    from transformers import AutoTokenizer

    from rcstudio.tiny_model import is_tiny

    name = model if is_tiny(spec.judge.model) else (spec.judge.tokenizer or model)
    try:
        tok = AutoTokenizer.from_pretrained(name)
    except OSError as exc:
        raise UserError(f"cannot load tokenizer {name!r}: {exc}", key="judge.model",
                        hint="use a local model directory, or run where the Hugging Face hub is reachable "
                             '(tiny demo model: judge.model = "tiny://random?layers=2")') from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def fit_prompts(rows: list[dict[str, Any]], tokenizer: Any, max_tokens: int, chat: bool) -> tuple[list[dict], int]:
    """Keep rows whose prompt fits rl.max_prompt_tokens; convert to chat form when the model has a template."""
    from rcstudio.tokens import count_prompt_tokens

    kept, dropped = [], 0
    for row in rows:
        prompt = row["prompt"]
        if chat:
            row = {**row, "prompt": [{"role": "user", "content": prompt}]}
        # the one counter (engines/tokens.py): a chat template's BatchEncoding is not its length
        n = count_prompt_tokens(tokenizer, row["prompt"], chat=chat)
        if n > max_tokens:
            dropped += 1
            continue
        kept.append(row)
    return kept, dropped


class _Preemption:
    """Turns Slurm's warning signals into 'save a checkpoint at the next step end, then stop'."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        for sig in (signal.SIGUSR2, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread (e.g. inside a test runner thread)
                pass

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: Any) -> None:
        log.warning("signal %d: checkpointing at the next step and stopping (the job will resume)", signum)
        self.requested = True


OPTIMIZER_FILES = ("optimizer.pt", "scheduler.pt")


def prune_checkpoints(ckpt_dir: Path, keep: int) -> list[Path]:
    """Keep the newest `keep` checkpoint-N dirs (by step number) and optimizer/scheduler state only
    in the newest, the resume point (for a 135M model that state is 2/3 of each checkpoint).
    Returns what was deleted."""
    import shutil

    found = []
    for path in Path(ckpt_dir).glob("checkpoint-*"):
        step = path.name.rsplit("-", 1)[-1]
        if path.is_dir() and step.isdigit():
            found.append((int(step), path))
    found = [p for _, p in sorted(found)]
    deleted = []
    for old in found[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
        deleted.append(old)
    for old in found[-keep:-1] if keep > 1 else []:
        for name in OPTIMIZER_FILES:
            path = old / name
            if path.exists():
                path.unlink()
                deleted.append(path)
    return deleted


def _callbacks(wandb_run: Any, preemption: _Preemption, progress: Any = None, rollouts_per_step: int = 0,
               reward: Any = None, keep_checkpoints: int = 2) -> list[Any]:
    from transformers import TrainerCallback

    class SharedMetrics(TrainerCallback):
        """Forward each trainer log line to the job's W&B run at the trainer's global step."""

        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
            if logs and state.is_world_process_zero:
                data = shared_log(logs)
                if data:
                    wandb_run.log(data, step=state.global_step)

    class StopOnSignal(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
            if preemption.requested:
                control.should_save = True
                control.should_training_stop = True
            return control

    class ReportProgress(TrainerCallback):
        """Step / total, rollouts, rate and the last rewards into logs/progress.json and the job log
        (rcstudio.tracking.progress): what `submit --wait`, `rcstudio logs` and the TUI show."""

        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
            if progress is not None and state.is_world_process_zero:
                last = reward.history[-1] if reward is not None and reward.history else {}
                shown = " ".join(f"{k.split('/')[-1]}={last[k]:.3f}" for k in ("reward/total", "reward/rc") if k in last)
                progress.update(state.global_step, items=state.global_step * rollouts_per_step,
                                total=state.max_steps or None, message=shown)

    class PruneCheckpoints(TrainerCallback):
        """After each save: the newest rl.keep_checkpoints checkpoints, optimizer state in the newest only."""

        def on_save(self, args, state, control, **kwargs):  # noqa: ANN001
            if state.is_world_process_zero:
                prune_checkpoints(Path(args.output_dir), keep_checkpoints)
            return control

    return [SharedMetrics(), StopOnSignal(), ReportProgress(), PruneCheckpoints()]


def _job_log(run_dir: Path) -> Any:
    """A writer of phase lines into the run's `logs/run-job.log` (and the log)."""
    from rcstudio.evals.progress import append_log_line

    def write(message: str) -> None:
        log.info("%s", message)
        append_log_line(run_dir / "logs" / "run-job.log", message)

    return write


def finished_checkpoint(checkpoint: str | None, max_steps: int) -> int | None:
    """The global step of a checkpoint that already holds every step of the schedule, else None.

    `max_steps` is this run's optimizer-step budget (GRPOConfig.max_steps; <= 0 = from epochs, then
    the checkpoint's own recorded total counts). Resuming from a finished checkpoint would train one
    more step at lr 0 past max_steps: the Trainer always enters its loop.
    """
    if not checkpoint:
        return None
    import json

    try:
        state = json.loads((Path(checkpoint) / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return None
    step = int(state.get("global_step") or 0)
    total = max_steps if max_steps > 0 else int(state.get("max_steps") or 0)
    return step if total > 0 and step >= total else None


def _already_complete(run_dir: Path, checkpoint: str, step: int, write: bool) -> dict[str, Any]:
    """The summary of a run whose checkpoints already hold every step (the earlier one, updated)."""
    import json

    from rcstudio.evals.records import write_json

    path = run_dir / "results" / "train_summary.json"
    try:
        previous = json.loads(path.read_text())
    except (OSError, ValueError):
        previous = {}
    summary = {**previous, "run_id": run_dir.name, "engine": "trl", "algorithm": "grpo", "global_step": step,
               "preempted": False, "checkpoint": checkpoint, "already_complete": True}
    if write:
        write_json(path, summary)
    return summary


def last_checkpoint(ckpt_dir: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(ckpt_dir)) if ckpt_dir.is_dir() else None


def run_training(run_dir: str | Path, spec: Spec) -> dict[str, Any]:
    """Train the judge with GRPO on the hybrid reward; returns (and writes) `results/train_summary.json`."""
    import torch
    from datasets import Dataset

    with stdout_to_stderr():  # trl's import prints on stdout with WANDB_MODE=offline (see _quiet)
        from trl import GRPOConfig, GRPOTrainer

    from rcstudio.rationale.matchers import make_matcher
    from rcstudio.rationale.reward import RewardSettings
    from rcstudio.engines.grpo_reward import HybridReward, logged_values
    from rcstudio.tracking.wandb_log import NoopRun, init_run

    run_dir = Path(run_dir)
    run_id = run_dir.name
    ckpt_dir = run_dir / "checkpoints"
    started = time.time()

    settings = RewardSettings.from_spec(spec.reward)
    # The one shared prep: same items (ties dropped with tie_policy = "skip": a tie that earns no
    # reward would still shift the group's advantages), swaps and ground truth as every engine.
    data = training_prompts(spec, with_val=False)  # GRPOTrainer runs no validation
    items = data.train_items
    rows = dataset_rows(data.train)
    if not rows:
        raise JobFailed(f"no trainable pairs in data.train ({'; '.join(data.sources)}; dropped: "
                        f"{data.dropped or 'none'})")
    model = resolve_model(spec, rows, run_dir, items)
    tokenizer = load_tokenizer(spec, model)
    chat = bool(getattr(tokenizer, "chat_template", None))
    rows, dropped = fit_prompts(rows, tokenizer, spec.rl.max_prompt_tokens, chat)
    if dropped:
        log.warning("dropped %d prompts longer than rl.max_prompt_tokens = %d", dropped, spec.rl.max_prompt_tokens)
    if len(rows) < spec.rl.global_batch_size:
        raise JobFailed(f"{len(rows)} usable prompts, fewer than rl.global_batch_size = {spec.rl.global_batch_size}"
                        f" ({dropped} dropped for exceeding rl.max_prompt_tokens)")

    cuda = torch.cuda.is_available()
    # one process per GPU when started through `accelerate launch` / torchrun (they set these)
    world_size, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    from rcstudio.engines.warmup import trl_stage

    warm = trl_stage(spec, run_dir, model, rows, items, rank=rank, log=_job_log(run_dir))  # [rl.trl] sft_warmup_*
    if warm is not None:
        model = warm.model_dir
    kwargs = grpo_kwargs(spec, ckpt_dir, world_size=world_size, cuda=cuda,
                         bf16=cuda and torch.cuda.is_bf16_supported())
    config = GRPOConfig(**kwargs)
    resume = last_checkpoint(ckpt_dir)
    done = finished_checkpoint(resume, config.max_steps)
    if done is not None:  # a resubmitted finished run: nothing to train, no new W&B attempt
        log.info("%s already holds all %d steps: nothing to train", resume, done)
        return _already_complete(run_dir, resume, done, write=rank == 0)
    matcher = make_matcher(spec.reward.matcher)
    reward = HybridReward(settings, matcher, top_k=spec.judge.top_k)
    wandb_run = (init_run(spec, run_dir, run_id, "train", spec.experiment.name) if rank == 0
                 else NoopRun(run_id, spec.experiment.name, {}))
    if warm is not None and not warm.reused:  # its own phase, at step 0 (GRPO logs from step 1)
        wandb_run.log({f"warmup/{k}": v for k, v in warm.to_json().items()
                       if isinstance(v, (int, float)) and not isinstance(v, bool)}, step=0)
    preemption = _Preemption()
    preemption.install()
    from rcstudio.tracking.progress import Progress

    progress = Progress(run_dir, config.max_steps if config.max_steps > 0 else None, phase="train",
                        items_unit="rollouts") if rank == 0 else None
    try:
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=[reward],
            args=config,
            train_dataset=Dataset.from_list(rows),
            processing_class=tokenizer,
            # one optimizer step consumes mini_batch_size x rollouts_per_prompt completions (batch_layout)
            callbacks=_callbacks(wandb_run, preemption, progress,
                                 spec.rl.mini_batch_size * spec.rl.rollouts_per_prompt, reward,
                                 spec.rl.keep_checkpoints),
        )
        if resume:
            log.info("resuming from %s", resume)
        with stdout_to_stderr():  # the trainer prints each log dict on stdout (see _quiet)
            output = trainer.train(resume_from_checkpoint=resume)
        final_step = trainer.state.global_step
        if preemption.requested and trainer.state.max_steps and final_step >= trainer.state.max_steps:
            log.info("a stop signal came during the last step: every step finished, the run is complete")
            preemption.requested = False
        if not preemption.requested:
            trainer.save_model(str(ckpt_dir / "final"))
        summary = {
            "run_id": run_id,
            "engine": "trl",
            "algorithm": "grpo",
            "model": spec.judge.model,
            "resumed_from": resume,
            "global_step": final_step,
            "preempted": preemption.requested,
            "train_loss": float(output.training_loss) if output.training_loss is not None else None,
            "prompts": len(rows),
            "dropped_long_prompts": dropped,
            "last_rewards": logged_values(reward.history)[0],  # last value logged per key (W&B summary)
            "mean_rewards": logged_values(reward.history)[1],  # mean over the run's steps
            "reward_steps": len(reward.history),
            "checkpoint": last_checkpoint(ckpt_dir),
            "seconds": round(time.time() - started, 2),
            "device": "cuda" if cuda else "cpu",
            "warmup": warm.to_json() if warm is not None else None,
        }
        wandb_run.summary.update({k: v for k, v in summary.items() if isinstance(v, (int, float))})
    finally:
        preemption.restore()
        wandb_run.finish()
        close = getattr(matcher, "close", None)
        if callable(close):
            close()
    if rank == 0:
        out = run_dir / "results" / "train_summary.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(summary, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
        if progress is not None:
            progress.finish("" if not preemption.requested else "stopped by a signal")
    if preemption.requested:
        # not a success: the requeued job (or `rcstudio resubmit RUN`) resumes from this checkpoint
        raise JobFailed(f"stopped by a signal at step {summary['global_step']}; checkpoint saved in "
                        f"{summary['checkpoint']}; rerunning the job resumes from it")
    return summary
