"""The `rcstudio` command line: one Typer app, one module per group of commands.

Each module in COMMAND_MODULES defines `register(app)`. Modules import heavy libraries (torch,
wandb, textual, transformers) inside the command functions, so `rcstudio --help` stays fast and the
core works without the optional extras.
"""

from __future__ import annotations

import importlib
import sys

import typer

from rcstudio.errors import JobFailed, UserError, safe_text

COMMAND_MODULES = (
    "rcstudio.cli.spec_cmds",  # init, validate, schema, compile, recipes
    "rcstudio.cli.run_cmds",  # submit, ls, status, logs, cancel, resubmit, export, gc
    "rcstudio.cli.job_cmds",  # run-job (what compiled jobs execute)
    "rcstudio.cli.score_cmds",  # score, plot
    "rcstudio.cli.eval_cmds",  # eval judgebench|rmbench|arena-hard, report
    "rcstudio.cli.track_cmds",  # tui, compare
    "rcstudio.cli.serve_cmds",  # serve-reward
    "rcstudio.cli.decompose_cmds",  # decompose
)


def _version(value: bool) -> None:
    if value:
        from rcstudio import __version__

        typer.echo(f"rcstudio {__version__}")
        raise typer.Exit()


def _root(
    version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Declarative experiments for generative reward models with rationale consistency.

    Shell completion: `rcstudio --install-completion` (bash, zsh, fish), or
    `rcstudio --show-completion` to print the script.
    """


def build_app() -> typer.Typer:
    from rcstudio.cli import help_format

    help_format.install()
    app = typer.Typer(
        name="rcstudio",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, powershell)
    )
    app.callback()(_root)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
    return app


def main(argv: list[str] | None = None) -> None:
    """Entry point: user mistakes print one message and exit 2; failed jobs exit 1.

    Click's own usage errors (a missing option, a bad choice) are handled by its standalone mode,
    which prints the usage line and exits 2; rcstudio's errors pass through it and end here.
    """
    app = build_app()
    try:
        app(args=argv, prog_name="rcstudio", standalone_mode=True)
    except UserError as exc:
        print(exc.render(), file=sys.stderr)
        sys.exit(exc.exit_code)
    except JobFailed as exc:
        print(f"failed: {safe_text(exc)}", file=sys.stderr)
        sys.exit(exc.exit_code)
