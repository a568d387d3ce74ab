"""The experiment spec as pydantic models: one section per TOML table, unknown keys rejected.

Field names are a contract (docs/architecture.md): every package reads `Spec` attributes directly.
Cross-field checks that make a combination impossible live in `Spec._cross_checks`; each raises
`SpecConflict`, which carries the dotted key so the loader can point at the user's line.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, create_model, field_validator, model_validator

from rcstudio.engines import registry as engines

Kind = Literal["genrm-train", "policy-rlhf", "eval", "data"]
TRAINING_KINDS = ("genrm-train", "policy-rlhf")  # the kinds an engine runs (Engine.kinds)
Benchmark = Literal["rmbench", "judgebench", "arena-hard", "hs3-atomic"]

ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # always re.fullmatch: `$` would allow a trailing "\n"
# Every name that reaches a path, a job name or a script (experiment, variant). Full match only; a
# leading '.' or '-' is refused (`..` as a directory, a name read as a flag). NAME_MAX keeps run ids
# (name + "-" + 8 hex digits + "-N") and run names well inside file-system and Slurm limits.
NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
NAME_MAX = 64


def name_problem(value: str) -> str | None:
    """Why `value` cannot be a name (None when it can): the one check for every such name."""
    if not isinstance(value, str) or not value:
        return "must not be empty"
    if len(value) > NAME_MAX:
        return f"is {len(value)} characters long; names hold at most {NAME_MAX}"
    if not NAME_RE.fullmatch(value):
        return "may only hold letters, digits, '_', '.' and '-' (and cannot start with '.' or '-')"
    return None


class SpecConflict(ValueError):
    """An impossible combination of fields; `key` is the dotted key to point at."""

    def __init__(self, key: str, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.message = message
        self.hint = hint


class Section(BaseModel):
    """Base of every section: unknown keys are errors, values are checked on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, defer_build=True)


def _env_name(value: str) -> str:
    if value and not ENV_NAME_RE.fullmatch(value):
        raise ValueError(
            "must be the NAME of an environment variable holding the key, not the key itself"
        )
    return value


class ExperimentSection(Section):
    name: str = Field(description="Experiment name: letters, digits, '_', '.', '-' (at most 64).")
    kind: Kind = Field("genrm-train", description="genrm-train | policy-rlhf | eval | data")
    tags: list[str] = Field(default_factory=list)
    description: str = ""

    @field_validator("name")
    @classmethod
    def _name_chars(cls, value: str) -> str:
        problem = name_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class JudgeSection(Section):
    model: str = Field("Qwen/Qwen3-14B", description="HF id or local path of the judge / GenRM base model.")
    checkpoint: str = Field("", description=".nemo checkpoint for NeMo-Aligner (restore_from_path).")
    tokenizer: str = Field("", description="Tokenizer id or path; empty = model.")
    prompt_template: str = Field("rcstudio-genrm-v1", description="Built-in template name or a file path.")
    chat_format: Literal["chatml", "tokenizer", "none"] = Field(
        "chatml",
        description="How prepared prompts are wrapped for the actor: ChatML (Qwen), the tokenizer's chat "
        "template, or the bare prompt.",
    )
    top_k: int = Field(5, ge=0, description="Reasons asked for at evaluation; 0 = free (training).")
    endpoint: str = Field("", description="OpenAI-compatible base URL serving the judge (eval, policy-rlhf).")
    api_key_env: str = "OPENAI_API_KEY"
    max_tokens: int = Field(4096, gt=0)
    temperature: float = Field(0.0, ge=0.0)
    backend: Literal["auto", "transformers", "vllm", "endpoint"] = Field(
        "auto",
        description="How the judge runs at evaluation: auto = the endpoint when set, else vLLM's offline "
        "engine on a GPU node with vllm installed, else transformers in batches.",
    )
    stop: list[str] = Field(default_factory=list, description="Stop strings for local generation (not returned).")
    max_batch_size: int = Field(32, ge=1, description="Most prompts per local generate call (1 = one at a time).")
    memory_budget_gb: float = Field(
        0.0, ge=0.0, description="Memory a local batch may use; 0 = half the free GPU memory or a quarter of free RAM."
    )
    # The endpoint client's throttle (the one place these defaults live; LLMConfig.from_section reads them).
    concurrency: int = Field(
        8, gt=0, description="Eval jobs: requests in flight to judge.endpoint at most (halved while it times "
        "out). policy-rlhf reward servers use reward.matcher.concurrency.")
    timeout_s: float = Field(
        600.0, gt=0, description="Seconds one judge request may take before it is retried (a long judgment "
        "at max_tokens on a busy server needs minutes).")
    max_retries: int = Field(4, ge=0, description="Retries of a judge request that timed out or got a 5xx/429.")

    @field_validator("api_key_env")
    @classmethod
    def _api_key_env(cls, value: str) -> str:
        return _env_name(value)


class PolicySection(Section):
    """The policy trained by policy-rlhf runs (the GenRM in [judge] gives its reward)."""

    model: str = Field("", description="HF id or path of the policy base model.")
    checkpoint: str = Field("", description=".nemo checkpoint of the policy (restore_from_path).")


class DataSection(Section):
    train: list[str] = Field(
        default_factory=lambda: ["hf://Qwen/RationaleRM:full"],
        description="hf://REPO:SPLIT, local .jsonl paths, or benchmark names.",
    )
    eval: list[str] = Field(default_factory=list)
    swap: Literal["none", "random", "both"] = Field(
        "random", description="Response order: label flipped when swapped."
    )
    seed: int = 1234
    max_items: int = Field(
        0, ge=0, description="0 = all. Training: the first N pairs. Evals: the cap of every benchmark not "
        "named in eval.max_items (a seeded stratified sample).")
    val_items: int = Field(
        0, ge=0,
        description="Training items held out (seeded, by item id) for validation rollouts; never an eval "
        "split. 0 = 5% of the items (at least one); set it to have NeMo-Aligner's validation batch checked "
        "at compile time.",
    )


class MatcherSection(Section):
    kind: Literal["llm", "embedding", "matrix"] = "llm"
    endpoint: str = Field("", description="OpenAI-compatible base URL; empty with llm in a cluster job = start vLLM.")
    model: str = "Qwen/Qwen3-30B-A3B-Instruct-2507"
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = Field(64, gt=0)
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(4, ge=0)
    embedding_model: str = "sentence-transformers/all-MiniLM-L6-v2"
    thresholds: list[float] = Field(
        default_factory=lambda: [0.35, 0.5, 0.65, 0.8],
        description="Cosine cut points for scores 0.25, 0.5, 0.75, 1.0.",
    )
    matches_file: str = Field("", description="Precomputed match matrices (kind = matrix).")

    @field_validator("api_key_env")
    @classmethod
    def _api_key_env(cls, value: str) -> str:
        return _env_name(value)

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, value: list[float]) -> list[float]:
        if len(value) != 4:
            raise ValueError("needs exactly 4 cut points (for scores 0.25, 0.5, 0.75, 1.0)")
        if any(b <= a for a, b in zip(value, value[1:])):
            raise ValueError("cut points must increase strictly")
        if not all(-1.0 <= v <= 1.0 for v in value):
            raise ValueError("cosine cut points lie in [-1, 1]")
        return value


class RewardSection(Section):
    form: Literal["gated", "additive"] = Field(
        "gated", description="gated: rationale x outcome; additive: alpha*rationale + (1-alpha)*outcome."
    )
    alpha: float = Field(0.8, ge=0.0, le=1.0, description="Only with form = additive.")
    rationale_metric: Literal["ap", "recall", "f1"] = "ap"
    format_penalty: float = Field(0.0, description="Reward for unparseable output.")
    tie_policy: Literal["skip", "half", "wrong"] = "skip"
    matcher: MatcherSection = Field(default_factory=MatcherSection)


class RLShared(Section):
    """`[rl]`: the RL settings every engine reads (each maps them onto its own units).

    Engine-only settings live in the engine's own table `[rl.<table>]` (`[rl.nemo_aligner]`,
    `[rl.trl]`, ...), whose models come from the engine registry; `RLSection` below adds them.
    """

    engine: str = Field(engines.default(), description="The training engine: " + " | ".join(engines.names()))
    algorithm: str = Field("reinforce", description="RL algorithm; each engine runs its own (see its table).")
    lr: float = Field(2e-6, gt=0, description="The LR that trains (held after warmup, or the cosine peak).")
    lr_schedule: Literal["constant", "cosine"] = Field(
        "constant", description="After warmup: hold rl.lr, or cosine-decay it to rl.min_lr at the last optimizer step."
    )
    lr_warmup_steps: int = Field(0, ge=0, description="Linear warmup, in optimizer steps.")
    min_lr: float = Field(0.0, ge=0.0, description="Cosine floor (lr_schedule = cosine only).")
    global_batch_size: int = Field(256, gt=0, description="Prompts per step.")
    mini_batch_size: int = Field(128, gt=0, description="Prompts per optimizer step.")
    rollouts_per_prompt: int = Field(8, gt=0)
    micro_batch_size: int = Field(1, gt=0, description="Rollouts per GPU per training forward/backward.")
    kl_beta: float = Field(0.0, ge=0.0)
    clip_ratio: float = Field(0.2, gt=0.0)
    max_prompt_tokens: int = Field(8192, gt=0)
    max_generation_tokens: int = Field(12288, gt=0)
    seq_length: int = Field(
        0, ge=0, description="Model sequence length (encoder_seq_length); 0 = prompt + generation tokens."
    )
    epochs: int = Field(2, gt=0)
    max_steps: int = Field(-1, ge=-1, description="-1 = from epochs.")
    seed: int = 42
    temperature: float = Field(1.0, gt=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    keep_checkpoints: int = Field(
        2, gt=0, description="Checkpoints kept (the newest N); optimizer state only in the newest, the resume point.")
    save_interval: int = Field(10, gt=0)
    val_check_interval: int = Field(10, gt=0)

    @property
    def effective_seq_length(self) -> int:
        """The model sequence length the engine is configured with."""
        return self.seq_length or (self.max_prompt_tokens + self.max_generation_tokens)


def _choices(values: tuple[str, ...]) -> Any:
    return Literal[values]  # Literal["a", "b", ...] from a tuple


def _rl_section() -> type[RLShared]:
    """`[rl]` with `engine` limited to the registered engines and one table per engine."""
    models = engines.settings_models()
    algorithms = tuple(dict.fromkeys(a for m in models.values() for a in m.algorithms))
    fields: dict[str, Any] = {
        "engine": (_choices(engines.names()),
                   Field(engines.default(), description="The training engine: " + " | ".join(engines.names()))),
        "algorithm": (_choices(algorithms), Field(
            "reinforce", description="; ".join(f"{' | '.join(m.algorithms)} ({n})" for n, m in models.items()))),
    }
    for name, model in models.items():
        fields[engines.table_of(name)] = (model, Field(
            default_factory=model, description=f"Settings only the {name} engine reads (rl.engine = {name!r})."))
    return create_model("RLSection", __base__=RLShared, __module__=__name__, **fields)


if TYPE_CHECKING:
    RLSection = RLShared
else:
    RLSection = _rl_section()


class ClusterSection(Section):
    executor: Literal["auto", "local", "slurm"] = "auto"
    partition: str = ""
    account: str = ""
    qos: str = ""
    nodes: int = Field(1, gt=0, description="Actor nodes (het group 1).")
    gpus_per_node: int = Field(8, ge=0)
    cpus_per_task: int = Field(16, gt=0)
    mem: str = ""
    time: str = "04:00:00"
    reward_nodes: int = Field(1, gt=0, description="Het group 0: reward server + matcher vLLM.")
    reward_gpus: int = Field(8, ge=0)
    reward_port: int = Field(5555, gt=0, lt=65536, description="Port of the reward server (KServe v2).")
    vllm_port: int = Field(8000, gt=0, lt=65536, description="Port of the matcher's vLLM server, when started.")
    ready_timeout_s: int = Field(1800, gt=0, description="How long the actor waits for the reward server.")
    container_image: str = ""
    container_mounts: list[str] = Field(default_factory=list)
    sbatch_extra: list[str] = Field(default_factory=list, description='Extra "#SBATCH" flags, e.g. ["--exclusive"].')
    setup: list[str] = Field(default_factory=list, description="Shell lines run before the job.")
    array_parallelism: int = Field(16, gt=0)
    runs_root: str = Field("", description="Default: rcstudio.paths.runs_root().")

    @field_validator("time")
    @classmethod
    def _time(cls, value: str) -> str:
        if value and not re.fullmatch(r"(\d+-)?\d{1,3}(:\d{2}){0,2}", value):
            raise ValueError("Slurm time looks like MM, HH:MM:SS or D-HH:MM:SS")
        return value

    @field_validator("partition", "account", "qos")
    @classmethod
    def _slurm_token(cls, value: str) -> str:
        if value and not re.fullmatch(r"[A-Za-z0-9_.,:+-]+", value):
            raise ValueError("Slurm names hold letters, digits and _ . , : + - only")
        return value

    @field_validator("mem")
    @classmethod
    def _mem(cls, value: str) -> str:
        if value and not re.fullmatch(r"\d+[KMGT]?", value):
            raise ValueError("Slurm memory looks like 64G, 512M or 0")
        return value

    @field_validator("sbatch_extra")
    @classmethod
    def _sbatch_extra(cls, value: list[str]) -> list[str]:
        for flag in value:
            if not flag.startswith("-") or any(ch in flag for ch in "\n\r\x00"):
                raise ValueError(f"{flag!r} is not an sbatch flag (one '--flag[=value]' per entry)")
        return value


class TrackingSection(Section):
    mode: Literal["online", "offline", "disabled"] = "offline"
    entity: str = ""
    project: str = "rcstudio"
    group: str = Field("", description="Default: experiment name.")


class EvalSection(Section):
    benchmarks: list[Benchmark] = Field(default_factory=lambda: list[Benchmark](["hs3-atomic"]))
    stored_judges: list[str] = Field(
        default_factory=list, description="Re-score outputs stored in the data (<name>-checklist ...)."
    )
    order_policy: Literal["both", "random"] = "both"
    seed: int = Field(0, description="Seeds the judge's order draws and the capped sample (eval.max_items).")
    bootstrap: int = Field(1000, ge=0)
    min_valid_fraction: float = Field(
        0.95, ge=0.0, le=1.0,
        description="A benchmark with a smaller share of valid items (matcher/judge call failed; for "
                    "hs3-atomic also output unparseable) fails the job, its results still written; zero "
                    "valid items always does.")
    max_items: dict[Benchmark, int] = Field(
        default_factory=dict,
        description="Items judged per benchmark, e.g. {judgebench = 20, rmbench = 10}: a sample seeded by "
        "eval.seed and stratified by category/domain (files are sorted by domain). A benchmark not named "
        "here takes data.max_items (same sampling); 0 = all.",
    )

    @field_validator("max_items")
    @classmethod
    def _max_items(cls, value: dict[str, int]) -> dict[str, int]:
        bad = [f"{k} = {v}" for k, v in value.items() if v < 0]
        if bad:
            raise ValueError(f"item caps must be >= 0 (0 = all): {', '.join(bad)}")
        return value


class DecomposeSection(Section):
    input: str = ""
    output: str = ""
    min_items: int = Field(3, gt=0)
    max_items: int = Field(7, gt=0)


class SweepSection(Section):
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="Cartesian product over dotted keys.")
    zip: dict[str, list[Any]] = Field(default_factory=dict, description="Lists of equal length, zipped.")

    @model_validator(mode="after")
    def _lists(self) -> SweepSection:
        for table in ("grid", "zip"):
            for key, values in getattr(self, table).items():
                if not values:
                    raise SpecConflict(f"sweep.{table}.{key}", "needs at least one value")
        lengths = {key: len(v) for key, v in self.zip.items()}
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{k}: {n}" for k, n in lengths.items())
            raise SpecConflict("sweep.zip", f"zipped lists differ in length ({shown})",
                               "give every key in [sweep] zip the same number of values")
        both = set(self.grid) & set(self.zip)
        if both:
            raise SpecConflict(f"sweep.zip.{sorted(both)[0]}", "is swept in both grid and zip")
        return self


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, sub in value.items():
            _flatten(f"{prefix}.{key}" if prefix else key, sub, out)
    else:
        out[prefix] = value


def flatten_variant(table: dict[str, Any]) -> dict[str, Any]:
    """A variant table as `enabled` plus flat dotted keys (`[variants.v.rl]` tables and
    `"rl.lr" = ...` keys mean the same; later ones win)."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if key == "enabled":
            flat[key] = value
        else:
            _flatten(key, value, flat)
    return flat


class Variant(BaseModel):
    """An extra run: the base spec plus dotted overrides; only `enabled` variants run."""

    model_config = ConfigDict(extra="allow")

    enabled: bool = False

    @model_validator(mode="before")
    @classmethod
    def _flatten_tables(cls, data: Any) -> Any:
        return flatten_variant(data) if isinstance(data, dict) else data

    @property
    def overrides(self) -> dict[str, Any]:
        """Dotted key -> value this variant sets."""
        return dict(self.model_extra or {})


class Spec(Section):
    """A whole experiment: what to train or evaluate, on what, where, and what to sweep."""

    extends: str | None = Field(None, description="Recipe name (rcstudio/recipes/<name>.toml, or in $RCSTUDIO_RECIPES) or a path to a spec.")
    experiment: ExperimentSection
    judge: JudgeSection = Field(default_factory=JudgeSection)
    policy: PolicySection = Field(default_factory=PolicySection)
    data: DataSection = Field(default_factory=DataSection)
    reward: RewardSection = Field(default_factory=RewardSection)
    rl: RLSection = Field(default_factory=RLSection)
    cluster: ClusterSection = Field(default_factory=ClusterSection)
    tracking: TrackingSection = Field(default_factory=TrackingSection)
    eval: EvalSection = Field(default_factory=EvalSection)
    decompose: DecomposeSection = Field(default_factory=DecomposeSection)
    sweep: SweepSection = Field(default_factory=SweepSection)
    variants: dict[str, Variant] = Field(default_factory=dict)

    # Where each key was written (rcstudio.spec.load.Origins), so later errors can point at lines.
    _origins: Any = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _cross_checks(self) -> Spec:
        for conflict in cross_checks(self):
            raise conflict
        return self

    @property
    def alpha_set(self) -> bool:
        """Whether the user wrote reward.alpha (it only means something with the additive form)."""
        return "alpha" in self.reward.model_fields_set


def cross_checks(spec: Spec) -> list[SpecConflict]:
    """All impossible combinations in `spec`, first the ones a user most likely made."""
    out: list[SpecConflict] = []
    kind = spec.experiment.kind
    reward = spec.reward

    for name in spec.variants:
        problem = name_problem(name)  # it becomes part of run names, job names and the sbatch script
        if problem:
            out.append(SpecConflict(f"variants.{name}", f"a variant name {problem}",
                                    "rename the [variants.NAME] table"))
    if reward.form == "gated" and spec.alpha_set:
        out.append(SpecConflict(
            "reward.alpha", "alpha only applies to the additive form; the gated reward has no mix weight",
            'remove reward.alpha, or set reward.form = "additive"'))
    if reward.matcher.kind == "matrix" and not reward.matcher.matches_file:
        out.append(SpecConflict(
            "reward.matcher.matches_file", 'matcher kind "matrix" needs a matches_file',
            "point matches_file at a JSONL of precomputed match matrices, or use kind = \"llm\""))
    if spec.decompose.min_items > spec.decompose.max_items:
        out.append(SpecConflict("decompose.min_items", "is larger than decompose.max_items"))

    if kind == "eval":
        if not spec.eval.benchmarks and not spec.eval.stored_judges:
            out.append(SpecConflict(
                "eval.benchmarks", "an eval experiment needs at least one benchmark",
                'e.g. benchmarks = ["judgebench", "rmbench"]'))
    if kind == "data":
        for key in ("input", "output"):
            if not getattr(spec.decompose, key):
                out.append(SpecConflict(f"decompose.{key}", f"a data experiment needs decompose.{key}"))
    if kind in TRAINING_KINDS:
        out.extend(_training_checks(spec))
    return out


def _training_checks(spec: Spec) -> list[SpecConflict]:
    out: list[SpecConflict] = []
    rl, kind = spec.rl, spec.experiment.kind
    runs = engines.algorithms()
    if rl.algorithm not in runs[rl.engine]:
        others = [name for name, algos in runs.items() if rl.algorithm in algos]
        hint = f'set rl.algorithm = "{runs[rl.engine][0]}"' + (f' or rl.engine = "{others[0]}"' if others else "")
        out.append(SpecConflict(
            "rl.algorithm", f'engine "{rl.engine}" runs "{" | ".join(runs[rl.engine])}", not "{rl.algorithm}"', hint))
    engine = engines.get(rl.engine)
    if kind not in engine.kinds:
        able = [e.name for e in engines.all_engines() if kind in e.kinds]
        out.append(SpecConflict("rl.engine", f"{kind} runs on the {' or '.join(able)} engine only",
                                f'set rl.engine = "{able[0]}"' if able else None))
    if kind == "genrm-train" and not spec.data.train:
        out.append(SpecConflict("data.train", "a genrm-train experiment needs training data",
                                'e.g. train = ["hf://Qwen/RationaleRM:full"]'))
    if rl.mini_batch_size > rl.global_batch_size:
        out.append(SpecConflict("rl.mini_batch_size", f"({rl.mini_batch_size}) is larger than "
                                f"rl.global_batch_size ({rl.global_batch_size})"))
    elif rl.global_batch_size % rl.mini_batch_size:
        out.append(SpecConflict(
            "rl.mini_batch_size",
            f"rl.global_batch_size ({rl.global_batch_size}) is not divisible by mini_batch_size ({rl.mini_batch_size})",
            f"pick a divisor of {rl.global_batch_size}, e.g. {_nearest_divisor(rl.global_batch_size, rl.mini_batch_size)}"))
    if rl.algorithm == "grpo" and rl.rollouts_per_prompt < 2:
        out.append(SpecConflict("rl.rollouts_per_prompt", "GRPO needs at least 2 rollouts per prompt "
                                "(advantages are relative to the group)"))
    if rl.seq_length and rl.max_prompt_tokens + rl.max_generation_tokens > rl.seq_length:
        out.append(SpecConflict(
            "rl.max_generation_tokens",
            f"max_prompt_tokens + max_generation_tokens = {rl.max_prompt_tokens + rl.max_generation_tokens} "
            f"exceeds the model sequence length rl.seq_length = {rl.seq_length}",
            "lower max_generation_tokens / max_prompt_tokens or raise rl.seq_length"))
    if rl.max_steps == 0:
        out.append(SpecConflict("rl.max_steps", "0 steps trains nothing", "use -1 to train for rl.epochs"))
    if rl.lr_schedule == "cosine" and rl.min_lr >= rl.lr:
        out.append(SpecConflict("rl.min_lr", f"the cosine floor ({rl.min_lr}) must be below rl.lr ({rl.lr})",
                                'lower rl.min_lr, or set rl.lr_schedule = "constant"'))
    if not out:  # the engine's own checks assume the shared ones hold
        out.extend(engine.check(spec))
    return out


def _nearest_divisor(n: int, near: int) -> int:
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    return min(divisors, key=lambda d: (abs(d - near), d))
