"""`rcstudio score` (is a judge right for the right reasons?) and `rcstudio plot rc-vs-oa`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from rcstudio.cli.common import echo_json
from rcstudio.errors import UserError
from rcstudio.spec.models import EvalSection, JudgeSection, MatcherSection, RewardSection

# Defaults are the spec's (rcstudio.spec.models); options left unset take them, the help shows them.


def _default(section: type, name: str) -> str:
    return str(section.model_fields[name].get_default(call_default_factory=True))


def _given(**values: object) -> dict[str, object]:
    return {k: v for k, v in values.items() if v is not None}


def _section(section: type, flags: dict[str, str], **values: object):  # noqa: ANN202 - a spec section
    """A spec section from the options given (the rest default as in a spec); bad values are
    usage errors naming the flag."""
    from pydantic import ValidationError

    try:
        return section(**_given(**values))
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        field = str(err["loc"][0]) if err["loc"] else ""
        flag = flags.get(field, "--" + field.replace("_", "-"))
        raise UserError(f"invalid {flag.lstrip('-').replace('-', ' ')}: {err['msg']} (got {err.get('input')!r})",
                        key=flag) from None

_ROWS = (("rc", "RC"), ("precision", "Precision"), ("f1", "F1"), ("ap", "AP"), ("oa", "OA"), ("reward", "Mean reward"))


def _fmt(summary: dict) -> tuple[str, str]:
    if summary.get("mean") is None:
        return "-", "-"
    return f"{summary['mean']:.4f}", f"[{summary['ci_low']:.4f}, {summary['ci_high']:.4f}]"


def _print_table(payload: dict) -> None:
    from rich.table import Table

    from rcstudio.cli.common import console as make_console

    console = make_console()
    head = (
        f"judge [bold]{payload['model']}[/]: {payload['items']} items, {payload['valid']} valid, "
        f"{payload['format_errors']} format errors  (matcher {payload['matcher']}, variant {payload['variant']}, "
        f"top-k {payload['top_k']}, reward {payload['settings'].get('reward_form')})"
    )
    console.print(head)
    table = Table(show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("mean", justify="right")
    table.add_column("95% CI", justify="right")
    table.add_column("n", justify="right")
    for key, label in _ROWS:
        mean, ci = _fmt(payload[key])
        table.add_row(label, mean, ci, str(payload[key].get("n", "")))
    console.print(table)
    if len(payload["domains"]) > 1:
        dt = Table(title="per domain", show_header=True, header_style="bold")
        dt.add_column("domain")
        dt.add_column("items", justify="right")
        dt.add_column("valid", justify="right")
        for _, label in _ROWS:
            dt.add_column(label, justify="right")
        for name, row in payload["domains"].items():
            dt.add_row(name, str(row["items"]), str(row["valid"]), *(_fmt(row[k])[0] for k, _ in _ROWS))
        console.print(dt)
    if payload["skipped"]:
        console.print("skipped: " + ", ".join(f"{n} {why}" for why, n in payload["skipped"].items()))


def score(
    data: Optional[Path] = typer.Option(None, "--data", help="JSONL items with human checklists and the judge's stored outputs."),
    model: str = typer.Option(..., "--model", help="Judge name: reads <name>-checklist / -label / -generated_text."),
    matcher: Optional[str] = typer.Option(
        None, "--matcher", help="llm | embedding | matrix (default: matrix with --matches, llm with --endpoint, else embedding)."
    ),
    matches: Optional[Path] = typer.Option(None, "--matches", help='Precomputed matrices, JSONL {"id", "scores", "outcome"?}.'),
    variant: str = typer.Option("paper", "--variant", help="paper (one-to-one matching) | reference (released script)."),
    top_k: Optional[int] = typer.Option(None, "--top-k", help="Model reasons considered (0 = all).",
                                        show_default=_default(JudgeSection, "top_k")),
    reward_form: Optional[str] = typer.Option(None, "--reward-form", help="gated (AP x outcome) | additive.",
                                              show_default=_default(RewardSection, "form")),
    alpha: Optional[float] = typer.Option(None, "--alpha", help="Mix weight of the additive reward.",
                                          show_default=_default(RewardSection, "alpha")),
    rationale_metric: Optional[str] = typer.Option(None, "--rationale-metric", help="ap | recall | f1 (the reward's "
                                                   "rationale term).", show_default=_default(RewardSection, "rationale_metric")),
    tie_policy: Optional[str] = typer.Option(None, "--tie-policy", help="skip | half | wrong, for tie labels in the "
                                             "reward.", show_default=_default(RewardSection, "tie_policy")),
    endpoint: Optional[str] = typer.Option(None, "--endpoint", help="OpenAI-compatible base URL of the LLM matcher."),
    matcher_model: Optional[str] = typer.Option(None, "--matcher-model", help="Model name at --endpoint.",
                                                show_default=_default(MatcherSection, "model")),
    api_key_env: Optional[str] = typer.Option(None, "--api-key-env", help="Env var holding the endpoint's key.",
                                              show_default=_default(MatcherSection, "api_key_env")),
    concurrency: Optional[int] = typer.Option(None, "--concurrency", help="LLM matcher requests in flight.",
                                              show_default=_default(MatcherSection, "concurrency")),
    timeout_s: Optional[float] = typer.Option(None, "--timeout-s", help="LLM matcher request timeout.",
                                              show_default=_default(MatcherSection, "timeout_s")),
    embedding_model: Optional[str] = typer.Option(None, "--embedding-model",
                                                  show_default=_default(MatcherSection, "embedding_model")),
    thresholds: Optional[str] = typer.Option(None, "--thresholds", help="Cosine cut points, e.g. 0.35,0.5,0.65,0.8.",
                                             show_default=",".join(map(str, MatcherSection().thresholds))),
    bootstrap: Optional[int] = typer.Option(None, "--bootstrap", help="Bootstrap resamples for the CIs (0 = none).",
                                            show_default=_default(EvalSection, "bootstrap")),
    seed: Optional[int] = typer.Option(None, "--seed", help="Bootstrap seed.", show_default=_default(EvalSection, "seed")),
    limit: int = typer.Option(0, "--limit", help="Score only the first N items (0 = all)."),
    min_valid_fraction: float = typer.Option(
        0.5, "--min-valid-fraction",
        help="Exit 1 when fewer scorable items are valid (matcher failed, output unparseable, no output for "
             "the judge); zero valid always fails. Lower than eval jobs' eval.min_valid_fraction (0.95): a file "
             "scored by hand often lacks some judges' outputs."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
    out: Optional[Path] = typer.Option(None, "--out", help="Also write the full result (with per-item rows) as JSON."),
) -> None:
    """Score a judge's stored reasons against human rationales: RC, precision, F1, AP, OA, reward.

    Example: rcstudio score --data hs3_test.jsonl --model gpt-5 --endpoint http://host:8000/v1 --json
    """
    from rcstudio.rationale.reward import RewardSettings
    from rcstudio.rationale.score import score_items, score_match_file

    if variant not in ("paper", "reference"):
        raise UserError(f"unknown variant {variant!r}", key="--variant", hint="paper | reference")
    from rcstudio.evals import validity

    if not 0.0 <= min_valid_fraction <= 1.0:
        raise UserError("--min-valid-fraction must lie in [0, 1]", key="--min-valid-fraction")
    if top_k is not None and top_k < 0:
        raise UserError("--top-k must be 0 (all) or positive", key="--top-k")
    reward = _section(RewardSection, {"form": "--reward-form", "alpha": "--alpha", "rationale_metric": "--rationale-metric",
                                      "tie_policy": "--tie-policy"},
                      form=reward_form, alpha=alpha, rationale_metric=rationale_metric, tie_policy=tie_policy)
    if reward.form == "gated" and alpha is not None:
        raise UserError("--alpha only applies to --reward-form additive", key="--alpha", hint="drop --alpha or add --reward-form additive")
    settings = RewardSettings.from_spec(reward)
    evals = EvalSection(**_given(bootstrap=bootstrap, seed=seed))
    top_k = JudgeSection(**_given(top_k=top_k)).top_k
    kind = matcher or ("matrix" if matches else "llm" if endpoint else "embedding")
    if kind not in ("llm", "embedding", "matrix"):
        raise UserError(f"unknown matcher {kind!r}", key="--matcher", hint="llm | embedding | matrix")
    if kind == "matrix" and matches is None:
        raise UserError("--matcher matrix needs --matches FILE", key="--matches")
    if data is None and kind != "matrix":
        raise UserError("--data is required (only --matcher matrix can do without it)", key="--data")
    common = dict(top_k=top_k, variant=variant, reward=settings, bootstrap=evals.bootstrap, seed=evals.seed)

    if data is None:
        from rcstudio.rationale.matchers.matrix import load_match_file

        result = score_match_file(load_match_file(matches), model, **common)  # type: ignore[arg-type]
        loaded_skipped: list = []
    else:
        from rcstudio.rationale.data import load_pairs
        from rcstudio.rationale.matchers import make_matcher

        loaded = load_pairs(data, limit=limit)
        if not loaded.items:
            raise UserError(f"no usable items in {data}", file=data, hint="; ".join(f"line {s.line}: {s.reason}" for s in loaded.skipped[:3]) or None)
        if not any(model in it.outputs for it in loaded.items):
            names = sorted({n for it in loaded.items for n in it.outputs})
            raise UserError(
                f"no stored outputs for judge {model!r} in {data}",
                key="--model",
                hint=f"judges in the file: {', '.join(names)}" if names else "the file has no <name>-checklist fields",
            )
        cut = None
        if thresholds:
            try:
                cut = [float(x) for x in thresholds.split(",")]
            except ValueError:
                raise UserError("--thresholds takes 4 comma-separated numbers", key="--thresholds") from None
        cfg = _section(MatcherSection, {"model": "--matcher-model", "thresholds": "--thresholds"},
                       kind=kind, endpoint=endpoint, model=matcher_model, api_key_env=api_key_env,
                       concurrency=concurrency, timeout_s=timeout_s, embedding_model=embedding_model,
                       thresholds=cut, matches_file=str(matches) if matches else None)
        from rcstudio.cli.progress_ui import phases

        with phases(enabled=not as_json) as ph:
            m = make_matcher(cfg, progress=not as_json)
            try:
                if kind == "embedding":
                    from rcstudio.rationale.matchers.embedding import load_model

                    with ph.step(f"loading {cfg.embedding_model}"):
                        load_model(cfg.embedding_model)
                with ph.bar(f"matching {len(loaded.items)} items' reasons ({kind})") as advance:
                    if hasattr(m, "on_progress"):
                        m.on_progress = advance
                    result = score_items(loaded.items, model, m, **common)  # type: ignore[arg-type]
            finally:
                m.close()
        loaded_skipped = loaded.skipped
        if loaded.skipped:
            result.skipped["bad record in data"] = len(loaded.skipped)
            result.items += len(loaded.skipped)
    payload = result.to_json()
    payload["data"] = str(data) if data else None
    if loaded_skipped:
        payload["bad_records"] = [{"line": s.line, "reason": s.reason} for s in loaded_skipped[:50]]
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        full = {**payload, "per_item": [s.as_dict() for s in result.per_item]}
        out.write_text(json.dumps(full, indent=2) + "\n", encoding="utf-8")
    problem = validity.of_score(result, f"judge {model}").problem(min_valid_fraction)
    if problem:
        payload["failed"] = problem
    if as_json:
        echo_json(payload, indent=None)
    else:
        _print_table(payload)
        for s in loaded_skipped[:10]:
            typer.echo(f"  {data}:{s.line}: skipped: {s.reason}", err=True)
        if out is not None:
            typer.echo(f"wrote {out}")
    if problem:
        raise validity.TooFewValid(problem)


plot_app = typer.Typer(help="Figures from score results.", no_args_is_help=True)


@plot_app.command("rc-vs-oa")
def plot_rc_vs_oa_cmd(
    results: list[Path] = typer.Argument(..., help="JSON files written by `rcstudio score --out` (or --json)."),
    output: Path = typer.Option(..., "-o", "--output", help="PNG (or PDF/SVG) to write."),
    title: str = typer.Option("Outcome accuracy vs rationale consistency", "--title"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """The paper's figure 1: one point per judge, OA on x, RC on y, with bootstrap CIs."""
    from rcstudio.rationale.plots import load_result, plot_rc_vs_oa

    rows = [load_result(p) for p in results]
    path = plot_rc_vs_oa(rows, output, title=title)
    if as_json:
        echo_json({"output": str(path), "judges": [r.get("model") for r in rows]}, indent=None)
    else:
        typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add `score` and the `plot` group."""
    app.command("score")(score)
    app.add_typer(plot_app, name="plot")
