"""Which files an eval job scores: `data.eval` entries -> per-benchmark inputs and stored outputs.

An entry is `BENCHMARK=PATH` (explicit), a path (benchmark from the file name: `judgebench*`,
`rmbench*`/`rm-bench*`, `arena*`, anything else HelpSteer3-Atomic), `hf://REPO:SPLIT`
(HelpSteer3-Atomic), `pkg://...` (a file shipped in a package), or a bare benchmark name looked up
in the data directory (`$RCSTUDIO_DATA`, default `<RCSTUDIO_HOME>/data`).
Whether a file holds benchmark inputs (to be judged) or stored outputs (to be re-scored) is read
from its first record: JudgeBench `decisions`, RM-Bench `score_chosen`/`matrix`, Arena-Hard `games`
are stored outputs; HelpSteer3 records are inputs whose stored judges `eval.stored_judges` names.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rcstudio import paths
from rcstudio.errors import UserError
from rcstudio.evals.records import read_records

if TYPE_CHECKING:
    from rcstudio.spec.models import Spec

BENCHMARKS = ("judgebench", "rmbench", "arena-hard", "hs3-atomic")
DEFAULT_FILES = {
    "judgebench": ("judgebench_gpt-4o-2024-05-13.jsonl",),
    "rmbench": ("rmbench_*.json",),
    "arena-hard": ("arena-hard-v2.0_answers*.jsonl",),
    "hs3-atomic": ("rationalerm_test.jsonl", "hs3_atomic*.jsonl"),
}


@dataclass
class BenchmarkFiles:
    inputs: list[str] = field(default_factory=list)
    stored: list[str] = field(default_factory=list)


def data_dir() -> Path:
    return Path(os.environ.get("RCSTUDIO_DATA") or paths.home() / "data").expanduser()


def _resolve(source: str) -> str:
    from rcstudio.paths import resolve_source

    return resolve_source(source)


def benchmark_of(path: str) -> str:
    """Benchmark a data file belongs to, from its name."""
    if path.startswith("hf://"):
        return "hs3-atomic"
    name = Path(path).name.lower()
    if "judgebench" in name:
        return "judgebench"
    if "rmbench" in name or "rm-bench" in name or "rm_bench" in name:
        return "rmbench"
    if "arena" in name:
        return "arena-hard"
    return "hs3-atomic"


def _kind(benchmark: str, path: str) -> str:
    """'stored' or 'inputs', from the first record."""
    if benchmark == "hs3-atomic" or path.startswith("hf://"):
        return "inputs"
    rec = read_records(path)[0]
    keys = set(rec.data)
    stored_key = {"judgebench": {"decisions"}, "rmbench": {"score_chosen", "matrix"}, "arena-hard": {"games"}}[benchmark]
    input_key = {"judgebench": {"response_A"}, "rmbench": {"chosen"}, "arena-hard": {"answer"}}[benchmark]
    if keys & stored_key:
        return "stored"
    if keys & input_key:
        return "inputs"
    hint = {
        "judgebench": "give a JudgeBench split (response_A/response_B) or decisions (pair_id, decisions)",
        "rmbench": "give RM-Bench data (chosen/rejected) or scores (score_chosen/score_rejected)",
        "arena-hard": "give answers (uid, answer, baseline_answer) to judge, or judgments (uid, category, games)",
    }[benchmark]
    raise UserError(f"not a {benchmark} file this job can use", file=path, line=rec.line, key="data.eval", hint=hint)


def _lookup(name: str) -> list[str]:
    root = data_dir()
    found: list[str] = []
    for pattern in DEFAULT_FILES[name]:
        found.extend(str(p) for p in sorted(root.glob(pattern)))
    if not found:
        raise UserError(f"benchmark {name!r}: no data file in {root}", key="data.eval",
                        hint=f"put {' or '.join(DEFAULT_FILES[name])} there (or set RCSTUDIO_DATA), "
                             f"or write {name}=/path/to/file")
    return found


def plan(spec: Spec) -> dict[str, BenchmarkFiles]:
    """Benchmark -> files, in `eval.benchmarks` order; every problem is a UserError before any work."""
    wanted = list(dict.fromkeys(spec.eval.benchmarks))
    out: dict[str, BenchmarkFiles] = {b: BenchmarkFiles() for b in wanted}
    for entry in spec.data.eval:
        bench, sep, rest = entry.partition("=")
        if sep and bench in BENCHMARKS:
            sources_ = [(bench, _resolve(rest))]
        elif entry in BENCHMARKS:
            sources_ = [(entry, p) for p in _lookup(entry)]
        else:
            src = _resolve(entry)
            sources_ = [(benchmark_of(src), src)]
        for bench, src in sources_:
            if bench not in out:
                raise UserError(f"data.eval names a {bench} file ({src}) but eval.benchmarks does not list {bench}",
                                key="data.eval", hint=f"add {bench!r} to eval.benchmarks or remove the file")
            if not src.startswith("hf://") and not Path(src).is_file():
                raise UserError(f"eval data file not found: {src}", key="data.eval")
            files = out[bench]
            (files.stored if _kind(bench, src) == "stored" else files.inputs).append(src)
    for bench, files in out.items():
        if not files.inputs and not files.stored:
            raise UserError(f"benchmark {bench!r} has no data", key="data.eval",
                            hint=f'add a file, e.g. eval = ["{bench}=/path/to/file"], or the name "{bench}"')
        if bench == "hs3-atomic" and not spec.eval.stored_judges and not _has_judge(spec):
            raise UserError("hs3-atomic needs a judge or stored outputs", key="eval.stored_judges",
                            hint="name stored judges, or set judge.endpoint / judge.model")
        if bench == "judgebench" and files.stored and len(files.inputs) > 1:
            raise UserError("give at most one JudgeBench split beside stored decisions", key="data.eval")
    return out


def _has_judge(spec: Spec) -> bool:
    return bool(spec.judge.endpoint or spec.judge.model or spec.judge.checkpoint)
