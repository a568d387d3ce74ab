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

# module -> the top-level commands it registers
COMMANDS = {
    "rcstudio.cli.spec_cmds": ("init", "validate", "schema", "compile", "recipes"),
    "rcstudio.cli.run_cmds": ("submit", "ls", "status", "logs", "cancel", "resubmit", "export", "gc"),
    "rcstudio.cli.job_cmds": ("run-job",),  # what compiled jobs execute
    "rcstudio.cli.score_cmds": ("score", "plot"),
    "rcstudio.cli.eval_cmds": ("eval", "report"),
    "rcstudio.cli.track_cmds": ("tui", "compare"),
    "rcstudio.cli.serve_cmds": ("serve-reward",),
    "rcstudio.cli.decompose_cmds": ("decompose",),
}
COMMAND_MODULES = tuple(COMMANDS)


def modules_for(argv: list[str]) -> tuple[str, ...]:
    """The command modules a command line needs: only its command's module when it names one (a
    light command such as `ls` then loads no spec schema and no other command's imports), else all
    (help, completion, a typo that Typer should answer with the command list)."""
    import os

    if any(k.startswith("_") and k.endswith("_COMPLETE") for k in os.environ):  # shell completion
        return COMMAND_MODULES
    first = next((a for a in argv if not a.startswith("-")), None)
    chosen = tuple(m for m, names in COMMANDS.items() if first in names)
    return chosen or COMMAND_MODULES


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


def build_app(modules: tuple[str, ...] = COMMAND_MODULES) -> typer.Typer:
    from rcstudio.cli import help_format

    help_format.install()
    app = typer.Typer(
        name="rcstudio",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, powershell)
    )
    app.callback()(_root)
    for name in modules:
        importlib.import_module(name).register(app)
    return app


def main(argv: list[str] | None = None) -> None:
    """Entry point: user mistakes print one message and exit 2; failed jobs exit 1.

    Click's own usage errors (a missing option, a bad choice) are handled by its standalone mode,
    which prints the usage line and exits 2; rcstudio's errors pass through it and end here.
    """
    app = build_app(modules_for(sys.argv[1:] if argv is None else list(argv)))
    try:
        app(args=argv, prog_name="rcstudio", standalone_mode=True)
    except UserError as exc:
        print(exc.render(), file=sys.stderr)
        sys.exit(exc.exit_code)
    except JobFailed as exc:
        print(f"failed: {safe_text(exc)}", file=sys.stderr)
        sys.exit(exc.exit_code)
