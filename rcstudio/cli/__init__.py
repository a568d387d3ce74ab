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
# Commands whose process may end without the interpreter's teardown (see `run`): they write their
# files inside `with` blocks and start no threads of their own.
QUICK_EXIT = frozenset({"score", "plot", "ls", "status", "logs", "validate", "schema", "recipes", "compare", "report"})


def command_name(argv: list[str]) -> str | None:
    """The command a command line names (its first word that is not an option), if any."""
    return next((a for a in argv if not a.startswith("-")), None)


def modules_for(argv: list[str]) -> tuple[str, ...]:
    """The command modules a command line needs: only its command's module when it names one (a
    light command such as `ls` then loads no spec schema and no other command's imports), else all
    (help, completion, a typo that Typer should answer with the command list)."""
    import os

    if any(k.startswith("_") and k.endswith("_COMPLETE") for k in os.environ):  # shell completion
        return COMMAND_MODULES
    first = command_name(argv)
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


def run() -> None:
    """The `rcstudio` executable (and `python -m rcstudio`): `main`, then a quick exit.

    Tearing the interpreter down (freeing ~600 modules and every object one by one) takes 0.1-0.2 s
    after a command has finished - a third of `rcstudio ls`. For the commands in QUICK_EXIT this
    ends the process the way the OS would free it anyway: atexit handlers run (logging, wandb,
    multiprocessing), stdout and stderr are flushed, then `os._exit`. Any other thread still alive,
    an exit status that is not a number, or a flush that fails takes Python's normal exit instead.
    `main` itself (what tests and embedding code call) exits normally.
    """
    first = command_name(sys.argv[1:])
    code: object = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    quick = first is None or first in QUICK_EXIT  # no command: help or --version
    if not quick or not _quick_exit_safe(code):
        sys.exit(code)
    import atexit
    import os

    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(code)
    os._exit(int(code or 0))  # type: ignore[call-overload]


def _quick_exit_safe(code: object) -> bool:
    import threading

    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    return not others and (code is None or isinstance(code, int))
