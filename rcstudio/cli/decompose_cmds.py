"""`rcstudio decompose`: annotators' free-text reasoning -> atomic human checklists (+ `--audit`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rcstudio.cli.common import echo_json
from rcstudio.errors import UserError
from rcstudio.spec.models import DecomposeSection, MatcherSection

# Defaults are the spec's: [decompose] bounds, and the LLM client settings of [reward.matcher] that a
# `kind = "data"` job uses; options left unset take them (the help shows them).
_DEC = DecomposeSection()
_LLM = MatcherSection()


def _llm_config(endpoint: str | None, model: str | None, api_key_env: str, concurrency: int, timeout_s: float, max_retries: int):
    from rcstudio.engines.decompose_job import MAX_TOKENS
    from rcstudio.clients.llm import LLMConfig

    if not endpoint or not model:
        raise UserError(
            "decomposition needs an OpenAI-compatible endpoint and a model",
            key="--endpoint" if not endpoint else "--model",
            hint="pass --endpoint http://HOST:PORT/v1 --model NAME (any OpenAI-compatible server, e.g. vLLM)",
        )
    if concurrency < 1:
        raise UserError("--concurrency must be at least 1", key="--concurrency")
    return LLMConfig(
        base_url=endpoint,
        model=model,
        api_key_env=api_key_env,
        concurrency=concurrency,
        timeout_s=timeout_s,
        max_retries=max_retries,
        temperature=0.0,
        max_tokens=MAX_TOKENS,
    )


def decompose(
    data: Path = typer.Option(..., "--data", help="JSONL pairs with annotator reasoning (raw HelpSteer3, RationaleRM-style or in-house)."),
    out: Path = typer.Option(..., "--out", help="Checklist JSONL to write (or the markdown file with --audit)."),
    endpoint: Optional[str] = typer.Option(None, "--endpoint", help="OpenAI-compatible base URL, e.g. http://localhost:8000/v1."),
    model: Optional[str] = typer.Option(None, "--model", help="Model name served by the endpoint."),
    api_key_env: str = typer.Option(_LLM.api_key_env, "--api-key-env", help="Env var holding the API key ('EMPTY' if unset)."),
    min_items: int = typer.Option(_DEC.min_items, "--min-items", help="Filter pairs with fewer atomic items."),
    max_items: int = typer.Option(_DEC.max_items, "--max-items", help="Filter pairs with more items (never truncated); 0 = no limit."),
    # 16, not the matcher's 64: an interactive run against a shared endpoint starts gently
    concurrency: int = typer.Option(16, "--concurrency", help="Requests in flight at once."),
    timeout_s: float = typer.Option(_LLM.timeout_s, "--timeout-s", help="Per-request timeout."),
    max_retries: int = typer.Option(_LLM.max_retries, "--max-retries", help="Retries per request on errors and rate limits."),
    audit: int = typer.Option(0, "--audit", help="Instead: sample N pairs into a side-by-side markdown report at --out."),
    seed: int = typer.Option(0, "--seed", help="Sampling seed for --audit."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Also save the items-per-pair histogram as a PNG."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Turn annotators' free-text reasoning into atomic human checklists (3-7 items per pair).

    Reruns resume: finished pairs are kept, replies come from the persistent cache, only failed or
    missing pairs are sent again. Filtered and failed pairs go to <out stem>.rejected.jsonl.
    """
    from rcstudio.rationale.decompose.engine import audit_file, decompose_file
    from rcstudio.rationale.decompose.outcome import Bounds, render_summary
    from rcstudio.rationale.decompose.store import rejected_path

    bounds = Bounds(min_items, max_items)
    if audit:
        cfg = _llm_config(endpoint, model, api_key_env, concurrency, timeout_s, max_retries) if endpoint or model else None
        result = audit_file(data, out, audit, seed=seed, llm_cfg=cfg, bounds=bounds)
        if as_json:
            echo_json(result, indent=None)
        else:
            print(f"wrote {result['sampled']} of {result['total']} pairs to {result['audit']}")
        return
    cfg = _llm_config(endpoint, model, api_key_env, concurrency, timeout_s, max_retries)
    summary = decompose_file(data, out, cfg, bounds=bounds, progress=not as_json)
    payload = {"output": str(out), "rejected": str(rejected_path(out)), "model": cfg.model, **summary.to_dict()}
    if plot is not None:
        from rcstudio.rationale.decompose.plot import plot_histogram

        payload["plot"] = str(plot_histogram(summary, plot, min_items=min_items, max_items=max_items))
    if as_json:
        echo_json(payload, indent=None)
        return
    from rcstudio.cli.common import console as make_console

    console = make_console()
    console.print(render_summary(summary))
    console.print(f"checklists: {out}\nfiltered/failed: {rejected_path(out)}")
    if plot is not None:
        console.print(f"histogram: {payload['plot']}")
    if summary.failed:
        console.print(f"[yellow]{summary.failed} pairs failed; rerun the same command to retry only those.[/yellow]")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("decompose")(decompose)
