"""The eval job (`experiment.kind = "eval"`): `rcstudio run-job` calls `run_eval_job(run_dir, spec)`.

For each benchmark in `eval.benchmarks`, its files come from `data.eval` (see `sources.py`). A
file of stored outputs (JudgeBench decisions, RM-Bench scores, Arena-Hard judgments, or
HelpSteer3 records with `<name>-checklist` outputs named in `eval.stored_judges`) is re-scored
without judge calls; a file of benchmark inputs is judged by `[judge]` (its endpoint; else its model
served by `vllm serve` started here when vLLM is installed; else run in-process with transformers)
through the judge runner, with the prompt version, order policy and judge backend recorded.

Writes `results/<benchmark>[.<judge>].json`, `results/summary.json`, the runner's outcomes
(`results/<benchmark>.judgments.jsonl`, also the resume point), `results/rc_vs_oa.png` when
several HelpSteer3 judges were scored, and logs `eval/<benchmark>/<metric>` to W&B.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcstudio.errors import UserError
from rcstudio.evals import arena_hard, judgebench, rmbench, sources, validity
from rcstudio.evals.records import write_json
from rcstudio.evals.sampling import stratified_sample

if TYPE_CHECKING:
    from rcstudio.spec.models import Spec

METRIC_NAME = {"hs3-atomic": "hs3_atomic", "arena-hard": "arena_hard", "judgebench": "judgebench", "rmbench": "rmbench"}


def _slug(name: str) -> str:
    """A judge name safe in a file name and a W&B key."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "judge"


class _Context:
    """What every benchmark step needs: the spec, the results dir, the judge (built once)."""

    def __init__(self, run_dir: Path, spec: Spec, progress: bool, stack: contextlib.ExitStack) -> None:
        self.run_dir = run_dir
        self.stack = stack
        self.spec = spec
        self.results = run_dir / "results"
        self.results.mkdir(parents=True, exist_ok=True)
        self.progress = progress
        self._backend: Any = None
        self.backend_name: str | None = None  # what judged live (recorded in results and W&B config)
        self.metrics: dict[str, float] = {}
        self.summary: dict[str, Any] = {}
        self.hs3_results: list[Any] = []
        self.problems: list[str] = []  # benchmarks with too few valid items (the job fails at the end)

    def check(self, validity: Any) -> None:
        """Note a benchmark result with too few valid items; its files are still written."""
        problem = validity.problem(self.spec.eval.min_valid_fraction)
        if problem:
            self.problems.append(problem)

    def backend(self) -> Any:
        """The judge per `judge.backend` (`evals/backend_choice.py`): its endpoint; vLLM's offline
        engine (GPU node with the vllm package); a `vllm serve` started here (only the executable);
        else the model in-process with transformers, in batches."""
        if self._backend is None:
            from rcstudio.evals import backend_choice, serve
            from rcstudio.evals.runner import judge_model, make_backend

            judge = self.spec.judge
            model = judge_model(judge)
            machine = backend_choice.probe()
            chosen = backend_choice.choose_backend(judge.backend, judge.endpoint, model, machine)
            if chosen == "vllm-serve":
                port = serve.free_port()
                argv = serve.vllm_argv(model, port, tensor_parallel=self.spec.cluster.gpus_per_node or 1)
                server = serve.JudgeServer(argv, port, self.run_dir / "logs" / "judge-vllm.log",
                                           ready_timeout_s=float(self.spec.cluster.ready_timeout_s))
                self.stack.enter_context(server)
                judge = judge.model_copy(update={"endpoint": server.base_url, "model": model, "checkpoint": ""})
            self._backend = make_backend(judge, cache_path=None, workdir=self.run_dir / "checkpoints",
                                         machine=machine, tensor_parallel=self.spec.cluster.gpus_per_node or 1)
            self.backend_name = "vllm-serve" if chosen == "vllm-serve" else self._backend.name
            from rcstudio.evals.progress import append_log_line

            append_log_line(self.run_dir / "logs" / "run-job.log",
                            f"judge backend: {self.backend_name} (judge.backend = {self.spec.judge.backend!r})")
        return self._backend

    def run_tasks(self, benchmark: str, tasks: list) -> dict:
        from rcstudio.evals.runner import JudgeRunner

        runner = JudgeRunner(self.backend(), self.results / f"{benchmark}.judgments.jsonl", progress=self.progress,
                             description=f"{benchmark}: judging", log_path=self.run_dir / "logs" / "run-job.log",
                             run_dir=self.run_dir)
        return runner.run(tasks)

    def limit(self, benchmark: str, items: list, stratum: Callable[[Any], str]) -> list:
        """The benchmark's items under its cap (eval.max_items[benchmark], else data.max_items)."""
        n = self.spec.eval.max_items.get(benchmark, self.spec.data.max_items)
        return stratified_sample(items, n, stratum, self.spec.eval.seed)

    def judge_info(self, benchmark: str, outcomes: dict) -> dict[str, Any]:
        """Judge, prompt and call counts of a live run; a run with too many failed calls is noted
        in `failed` and fails the job once every benchmark is written."""
        from rcstudio.evals.prompts import prompt_version

        calls = validity.call_counts(outcomes)
        threshold = validity.min_valid_fraction(self.spec)
        reason = validity.failure_reason(benchmark, calls, threshold)
        if reason:
            self.problems.append(reason)
        return {
            "judge": {**self.backend().describe(), "backend": self.backend_name},
            "prompt_version": prompt_version(self.spec.judge.prompt_template),
            "order_policy": self.spec.eval.order_policy if benchmark in ("rmbench", "hs3-atomic") else "both",
            "seed": self.spec.eval.seed,
            "calls": calls,
            "min_valid_fraction": threshold,
            "failed": reason,
        }

    def record(self, benchmark: str, judge: str | None, result: dict[str, Any], flat: dict[str, float]) -> None:
        name = f"{benchmark}.{_slug(judge)}" if judge else benchmark
        write_json(self.results / f"{name}.json", result)
        self.summary.setdefault(benchmark, {})[judge or "judge"] = result
        prefix = f"eval/{METRIC_NAME[benchmark]}/" + (f"{_slug(judge)}/" if judge else "")
        for key, value in flat.items():
            if value is not None:
                self.metrics[prefix + key] = float(value)


def _flat_judgebench(r: judgebench.JudgeBenchResult) -> dict[str, float]:
    return {"micro": r.micro, "macro": r.macro, **r.categories, "inconsistent": r.inconsistent, "ties": r.ties,
            "failures": r.failures}


def _flat_rmbench(r: rmbench.RMBenchResult) -> dict[str, float]:
    return {"overall": r.overall, "hard": r.hard, "normal": r.normal, "easy": r.easy,
            **{d: s.score for d, s in r.domains.items()}}


def _flat_arena(r: arena_hard.ArenaHardResult) -> dict[str, float]:
    return {c: s.score for c, s in r.categories.items()}


def _judgebench(ctx: _Context, files: sources.BenchmarkFiles) -> None:
    split = judgebench.load_pairs(files.inputs[0]) if files.inputs else None
    for path in files.stored:  # scored against the split loaded once above, when there is one
        for judge, rows in judgebench.load_decisions(path, split).items():
            r = judgebench.score(rows)
            ctx.record("judgebench", judge or Path(path).stem, r.to_json(), _flat_judgebench(r))
    if split is not None and not files.stored:
        from rcstudio.evals import tasks as T

        pairs = ctx.limit("judgebench", split, lambda p: p.category)
        outcomes = ctx.run_tasks("judgebench", T.judgebench_tasks(pairs, ctx.spec.judge.prompt_template))
        r = judgebench.score(T.judgebench_rows(pairs, outcomes))
        info = ctx.judge_info("judgebench", outcomes)
        ctx.record("judgebench", None, {**r.to_json(), **info},
                   {**_flat_judgebench(r), **validity.call_metrics(info["calls"])})


def _rmbench(ctx: _Context, files: sources.BenchmarkFiles) -> None:
    for path in files.stored:
        r = rmbench.score_file(path)
        ctx.record("rmbench", Path(path).stem, r.to_json(), _flat_rmbench(r))
    if files.inputs and not files.stored:
        from rcstudio.evals import tasks as T

        items = ctx.limit("rmbench", [it for p in files.inputs for it in rmbench.load_items(p)],
                          lambda it: it.domain)
        tasks, comps = T.rmbench_tasks(items, ctx.spec.eval.order_policy, ctx.spec.eval.seed, ctx.spec.judge.prompt_template)
        outcomes = ctx.run_tasks("rmbench", tasks)
        r = rmbench.score(T.rmbench_rows(items, comps, outcomes), order_policy=ctx.spec.eval.order_policy)
        info = ctx.judge_info("rmbench", outcomes)
        ctx.record("rmbench", None, {**r.to_json(), **info}, {**_flat_rmbench(r), **validity.call_metrics(info["calls"])})


def _arena(ctx: _Context, files: sources.BenchmarkFiles) -> None:
    n_boot = arena_hard.N_BOOTSTRAP  # the official number of resamples (eval.bootstrap is for the rationale metrics)
    for path in files.stored:
        r = arena_hard.score_file(path, seed=ctx.spec.eval.seed, n_boot=n_boot)
        ctx.record("arena-hard", Path(path).stem, {"categories": r.to_json(), "seed": ctx.spec.eval.seed,
                                                   "n_boot": n_boot}, _flat_arena(r))
    if files.inputs and not files.stored:
        from rcstudio.evals import tasks as T

        answers = ctx.limit("arena-hard", [a for p in files.inputs for a in arena_hard.load_answers(p)],
                            lambda a: a.category)
        outcomes = ctx.run_tasks("arena-hard", T.arena_tasks(answers, ctx.spec.judge.prompt_template))
        js = T.arena_judgments(answers, outcomes)
        r = arena_hard.score(js, seed=ctx.spec.eval.seed, n_boot=n_boot)
        styled = arena_hard.score(js, seed=ctx.spec.eval.seed, n_boot=n_boot, style_control=True)
        info = ctx.judge_info("arena-hard", outcomes)
        result = {"categories": r.to_json(), "style_controlled": styled.to_json(), "seed": ctx.spec.eval.seed,
                  "n_boot": n_boot, **info}
        ctx.record("arena-hard", None, result, {**_flat_arena(r), **validity.call_metrics(info["calls"])})


def _hs3(ctx: _Context, files: sources.BenchmarkFiles) -> None:
    from rcstudio.evals import hs3_atomic
    from rcstudio.rationale.data import load_pairs

    items = []
    for src in files.inputs:
        loaded = load_pairs(src)
        if not loaded.items:
            reasons = "; ".join(f"line {s.line}: {s.reason}" for s in loaded.skipped[:3])
            raise UserError(f"no usable HelpSteer3 records in {src}", key="data.eval", hint=reasons or None)
        items.extend(loaded.items)
    items = ctx.limit("hs3-atomic", items, lambda it: it.domain)
    if ctx.spec.eval.stored_judges:
        for judge, result in hs3_atomic.score_stored(items, ctx.spec.eval.stored_judges, ctx.spec).items():
            ctx.hs3_results.append(result)
            ctx.record("hs3-atomic", judge, result.to_json(), hs3_atomic.metrics_of(result))
            ctx.check(validity.of_score(result, f"hs3-atomic judge {judge}"))
        return
    tasks, copies = hs3_atomic.judge_tasks(items, ctx.spec.judge.top_k or 5, ctx.spec.judge.prompt_template,
                                           ctx.spec.eval.order_policy, ctx.spec.eval.seed)
    outcomes = ctx.run_tasks("hs3-atomic", tasks)
    name = _slug(ctx.spec.judge.model)
    result = hs3_atomic.score_judge(hs3_atomic.attach_outputs(copies, outcomes, name), name, ctx.spec)
    ctx.hs3_results.append(result)
    out = result.to_json()
    info = ctx.judge_info("hs3-atomic", outcomes)
    out["settings"] = {**out.get("settings", {}), **info}
    ctx.record("hs3-atomic", None, out, {**hs3_atomic.metrics_of(result), **validity.call_metrics(info["calls"])})
    ctx.check(validity.of_score(result, f"hs3-atomic judge {name}"))


STEPS: dict[str, Callable[[_Context, sources.BenchmarkFiles], None]] = {
    "judgebench": _judgebench, "rmbench": _rmbench, "arena-hard": _arena, "hs3-atomic": _hs3,
}


def _log_wandb(run_dir: Path, spec: Spec, metrics: dict[str, float], backend: str | None = None) -> None:
    from rcstudio.tracking.wandb_log import init_run

    run = init_run(spec, run_dir, run_dir.name, job_type="eval", name=run_dir.name)
    try:
        if backend:  # which engine judged (auto resolves per machine): next to the resolved spec
            if isinstance(run.config, dict):  # NoopRun (tracking disabled)
                run.config["judge_backend"] = backend
            else:
                run.config.update({"judge_backend": backend}, allow_val_change=True)
        if metrics:
            run.log(metrics, step=0)
            run.summary.update(metrics)
    finally:
        run.finish()


def run_eval_job(run_dir: str | Path, spec: Spec, progress: bool = True) -> dict[str, Any]:
    """Score every configured benchmark; returns (and writes) the summary."""
    run_dir = Path(run_dir)
    plan = sources.plan(spec)  # validates everything before the first judge call
    with contextlib.ExitStack() as stack:  # a judge server started for this job stops with it
        ctx = _Context(run_dir, spec, progress, stack)
        for benchmark, files in plan.items():
            STEPS[benchmark](ctx, files)
    summary = {"run_id": run_dir.name, "benchmarks": ctx.summary, "metrics": ctx.metrics,
               "table2": table2_numbers(ctx.summary), "judge_backend": ctx.backend_name}
    if ctx.problems:
        summary["failed"] = ctx.problems
    write_json(ctx.results / "summary.json", summary)
    if len(ctx.hs3_results) > 1:
        from rcstudio.rationale.plots import plot_rc_vs_oa

        plot_rc_vs_oa(ctx.hs3_results, ctx.results / "rc_vs_oa.png")
    _log_wandb(run_dir, spec, ctx.metrics, ctx.backend_name)
    if ctx.problems:  # written and logged first: the numbers stay inspectable; a rerun retries the failed calls
        raise validity.TooFewValid("; ".join(ctx.problems) + " - results in " + str(ctx.results)
                                   + "; rerun the job (`rcstudio resubmit`) to retry only the failed calls")
    return summary


def table2_numbers(summary: dict[str, Any], judge: str | None = None) -> dict[str, float | None]:
    """The paper's table 2 cells from a run's `benchmarks` results, for one judge (default: the first
    judge of each benchmark)."""
    def pick(bench: str) -> dict | None:
        found = summary.get(bench, {})
        if judge is not None:
            return found.get(judge)
        return next(iter(found.values()), None)

    out: dict[str, float | None] = {}
    rm, jb = pick("rmbench"), pick("judgebench")
    for d in ("chat", "math", "code", "safety"):
        out[f"rmbench/{d}"] = rm["domains"][d]["score"] if rm and d in rm.get("domains", {}) else None
    out["rmbench/overall"] = rm["overall"] if rm else None
    for c in judgebench.CATEGORIES:
        out[f"judgebench/{c}"] = jb["categories"].get(c) if jb else None
    out["judgebench/overall"] = jb["micro"] if jb else None
    both = [out["rmbench/overall"], out["judgebench/overall"]]
    out["total"] = round(sum(both) / 2, 2) if all(v is not None for v in both) else None
    hs3 = pick("hs3-atomic")
    for metric in ("rc", "oa"):
        value = (hs3 or {}).get(metric)
        mean = value.get("mean") if isinstance(value, dict) else value
        out[f"hs3/{metric}"] = round(100 * mean, 2) if isinstance(mean, (int, float)) else None
    return out


def table2_judges(summary: dict[str, Any]) -> list[str]:
    """Judges with RM-Bench, JudgeBench or HelpSteer3-Atomic results in a run, in order of appearance."""
    return list(dict.fromkeys([*summary.get("rmbench", {}), *summary.get("judgebench", {}),
                               *summary.get("hs3-atomic", {})]))
