"""`rcstudio serve-reward`: the hybrid reward server of a run (KServe v2, NeMo-Aligner's remote RM)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def serve_reward(
    run_dir: Path = typer.Option(..., "--run-dir", help="Run directory (spec.resolved.toml, data/ground_truth.jsonl)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind (loopback by default; 0.0.0.0 for a hetjob)."),
    port: int = typer.Option(5555, "--port", min=0, max=65535, help="Port (NeMo-Aligner's remote_rm.reward_model.port)."),
    tokenizer: Optional[str] = typer.Option(None, "--tokenizer", help="Judge tokenizer path or id (default: judge.tokenizer or judge.model)."),
    token_env: Optional[str] = typer.Option(None, "--token-env", help="Name of an env var holding a shared token clients must send."),
    request_timeout_s: float = typer.Option(600.0, "--request-timeout", min=1.0, help="Deadline of one infer call, seconds."),
    ready_file: Optional[Path] = typer.Option(None, "--ready-file", help="Write {host, port, model} JSON here once ready."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log every step at debug level."),
) -> None:
    """Serve rewards to the NeMo-Aligner actor: detokenize, parse, match, hybrid reward; W&B per step."""
    import logging

    from rcstudio.serve.app import run_server

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    run_server(run_dir, host=host, port=port, tokenizer=tokenizer, token_env=token_env,
               request_timeout_s=request_timeout_s, ready_file=ready_file)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("serve-reward")(serve_reward)
