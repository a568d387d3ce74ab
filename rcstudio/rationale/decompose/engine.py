"""The decomposition engine: pairs in, checklist file out, through any OpenAI-compatible endpoint.

Concurrency, retries, the persistent reply cache and the validate/re-ask loop come from
`rcstudio.clients.llm`; this module adds the per-pair bookkeeping: resume from the output files,
incremental writes, the bounds filter, the progress bar and the summary.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rcstudio.errors import UserError
from rcstudio.rationale.decompose import store
from rcstudio.rationale.decompose.audit import AuditEntry, render_audit, sample_indices
from rcstudio.rationale.decompose.outcome import NO_REASONING, Bounds, PairOutcome, Summary, classify, summarize
from rcstudio.rationale.decompose.prompt import PROMPT_VERSION, Annotation, render_decompose_messages
from rcstudio.rationale.decompose.reply import Decomposition, parse_reply
from rcstudio.rationale.decompose.sources import annotations_for
from rcstudio.clients.llm import run_sync
from rcstudio.rationale.schema import PairItem


def _client_counts(client: Any) -> dict[str, int]:
    """HTTP requests, cache hits, retries and re-asks so far (the LLMClient's own counters)."""
    return {k: int(getattr(client, k, 0)) for k in ("calls", "cache_hits", "retries", "reasks")}


def _make_client(llm_cfg: Any):
    from rcstudio.clients.llm import LLMClient, ResponseCache

    return LLMClient(llm_cfg, cache=ResponseCache())  # the shared reply cache under RCSTUDIO_HOME


async def _with_client(client: Any, own: bool, coro_fn):
    """Run `coro_fn(client)` and close the client's HTTP pool when this call created it."""
    try:
        return await coro_fn(client)
    finally:
        if own and hasattr(client, "aclose"):
            await client.aclose()


async def _decompose_one(client: Any, item: PairItem, annotations: Sequence[Annotation], bounds: Bounds) -> PairOutcome:
    if not annotations:
        return PairOutcome(item.id, "filtered", NO_REASONING)
    try:
        completion = await client.complete(render_decompose_messages(item, annotations), validate=parse_reply, reask=1)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # endpoint errors after retries, replies still invalid after re-asking
        return PairOutcome(item.id, "failed", f"{type(exc).__name__}: {exc}"[:500])
    value = completion.value if isinstance(completion.value, Decomposition) else parse_reply(completion.text)
    return classify(item.id, value, bounds)


def _progress(enabled: bool):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(
        TextColumn("decompose"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("kept {task.fields[kept]} filtered {task.fields[filtered]} failed {task.fields[failed]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
    )


async def decompose_items(
    items: Sequence[PairItem],
    out: Path,
    client: Any,
    *,
    model: str,
    bounds: Bounds = Bounds(),
    source: str = "",
    progress: bool = True,
) -> Summary:
    """Decompose every pair of `items` into `out` (+ `.rejected.jsonl`), resuming earlier output."""
    prov = store.Provenance(model, PROMPT_VERSION, bounds.min_items, bounds.max_items, source)
    by_id = {it.id: it for it in items}
    if len(by_id) != len(items):
        raise UserError(f"{source or 'input'}: pair ids are not unique", hint="give each pair a distinct `id`")
    state = store.load_resume(out, prov, set(by_id))
    outcomes: dict[str, PairOutcome] = {}
    for pid, rec in {**state.kept, **state.rejected}.items():
        outcomes[pid] = store.outcome_from_line(rec)
    todo = [it for it in items if it.id not in outcomes]
    start_counts = _client_counts(client)
    writer = store.OutputWriter(out)
    tally = {"kept": 0, "filtered": 0, "failed": 0}
    for o in outcomes.values():
        tally[o.status] += 1
    try:
        with _progress(progress) as bar:
            task = bar.add_task("decompose", total=len(items), completed=len(outcomes), **tally)

            async def run(item: PairItem) -> tuple[PairItem, list[Annotation], PairOutcome]:
                ann = annotations_for(item)
                return item, ann, await _decompose_one(client, item, ann, bounds)

            tasks = [asyncio.ensure_future(run(it)) for it in todo]
            try:
                for fut in asyncio.as_completed(tasks):
                    item, ann, o = await fut
                    outcomes[item.id] = o
                    if o.status == "kept":
                        writer.write(store.kept_record(item, ann, o, prov), kept=True)
                    else:
                        writer.write(store.rejected_record(item, ann, o, prov), kept=False)
                    tally[o.status] += 1
                    bar.update(task, advance=1, **tally)
            except BaseException:  # cancelled / interrupted: stop the requests still in flight
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
    finally:
        writer.close()
    store.finalize(out, [it.id for it in items])
    summary = summarize((outcomes[it.id] for it in items), resumed=len(items) - len(todo))
    end_counts = _client_counts(client)
    delta = {k: end_counts[k] - start_counts[k] for k in end_counts}
    summary.llm_calls, summary.cache_hits = delta["calls"], delta["cache_hits"]
    summary.retries, summary.reasks = delta["retries"], delta["reasks"]
    return summary


def load_items(data: Path, skipped: list[str] | None = None) -> list[PairItem]:
    """Pairs of `data` (RationaleRM / raw HelpSteer3 / in-house JSONL); UserError when none has reasoning.

    Records the loader cannot read are appended to `skipped` as "line N: reason".
    """
    from rcstudio.rationale.data import load_pairs

    result = load_pairs(str(data))
    if skipped is not None:
        skipped.extend(f"line {s.line}: {s.reason}" for s in result.skipped)
    if not result.items:
        raise UserError(f"no pairs could be read from {data}", file=str(data), hint="expected JSONL records with response1/response2")
    if not any(annotations_for(it) for it in result.items):
        raise UserError(
            "no pair carries annotator reasoning to decompose",
            file=str(data),
            hint="records need `individual_preference[].reasoning` (HelpSteer3) or a `reasoning` string/list",
        )
    return list(result.items)


def decompose_file(
    data: Path,
    out: Path,
    llm_cfg: Any,
    *,
    bounds: Bounds = Bounds(),
    progress: bool = True,
    client: Any = None,
) -> Summary:
    """Sync entry point for the CLI and the job: validate inputs first, then run the engine."""
    data, out = Path(data), Path(out)
    if not data.exists():
        raise UserError(f"input file not found: {data}", file=str(data))
    if out.is_dir():
        raise UserError(f"--out is a directory: {out}", file=str(out), hint="name the checklist .jsonl file to write")
    if out.resolve() == data.resolve():
        raise UserError("--out must differ from --data", file=str(out), hint="write the checklists to a new file")
    if bounds.min_items < 0 or (bounds.max_items > 0 and bounds.max_items < bounds.min_items):
        raise UserError(
            f"bad item bounds: min_items={bounds.min_items}, max_items={bounds.max_items}",
            key="decompose.min_items",
            hint="need 0 <= min_items <= max_items (max_items = 0 means no upper bound)",
        )
    skipped: list[str] = []
    items = load_items(data, skipped)
    own = client is None
    client = client or _make_client(llm_cfg)
    summary = run_sync(
        lambda: _with_client(
            client,
            own,
            lambda c: decompose_items(items, out, c, model=llm_cfg.model, bounds=bounds, source=str(data), progress=progress),
        )
    )
    summary.skipped_input = skipped
    return summary


def _stored_outcome(item: PairItem) -> PairOutcome | None:
    """The decomposition recorded in an output line (audit of a finished run without LLM calls)."""
    meta = item.extra.get("decompose")
    if not isinstance(meta, dict):
        return None
    return store.outcome_from_line({"id": item.id, "human-checklist": list(item.human_checklist), "decompose": meta})


def audit_file(
    data: Path,
    out_md: Path,
    n: int,
    *,
    seed: int = 0,
    llm_cfg: Any = None,
    bounds: Bounds = Bounds(),
    client: Any = None,
) -> dict[str, Any]:
    """Sample `n` pairs of `data` into a side-by-side markdown file.

    A decomposition output file is audited as stored (no LLM calls); a source file is decomposed for
    the sampled pairs only (through the reply cache, so auditing after a run costs no calls).
    """
    data, out_md = Path(data), Path(out_md)
    if n <= 0:
        raise UserError("--audit needs a positive number of pairs", key="audit")
    if not data.exists():
        raise UserError(f"input file not found: {data}", file=str(data))
    if out_md.resolve() == data.resolve():
        raise UserError("--out must differ from --data", file=str(out_md), hint="write the audit to a .md file")
    items = load_items(data)
    picked = [items[i] for i in sample_indices(len(items), n, seed)]
    stored = [_stored_outcome(it) for it in picked]
    if all(s is not None for s in stored):
        outcomes = [s for s in stored if s is not None]
        model = str(picked[0].extra["decompose"].get("model", "")) if picked else ""
        version = str(picked[0].extra["decompose"].get("prompt_version", "")) if picked else ""
    else:
        if llm_cfg is None:
            raise UserError("auditing a source file needs an endpoint", hint="pass --endpoint and --model")
        own = client is None
        client = client or _make_client(llm_cfg)

        async def go(c: Any) -> list[PairOutcome]:
            return list(await asyncio.gather(*(_decompose_one(c, it, annotations_for(it), bounds) for it in picked)))

        outcomes = run_sync(lambda: _with_client(client, own, go))
        model, version = llm_cfg.model, PROMPT_VERSION
    entries = [AuditEntry(it, annotations_for(it), o) for it, o in zip(picked, outcomes)]
    text = render_audit(entries, source=str(data), model=model, prompt_version=version, total=len(items), seed=seed)
    out_md.parent.mkdir(parents=True, exist_ok=True)
    out_md.write_text(text, encoding="utf-8")
    return {"audit": str(out_md), "sampled": len(entries), "total": len(items), "seed": seed, "ids": [e.item.id for e in entries]}
