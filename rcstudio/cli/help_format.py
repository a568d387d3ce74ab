"""How `--help` shows parameters: names in capitals, no `<bool>` / `<str>` type placeholders.

Typer 0.2x prints a type column for every parameter (`--wait <bool>`, `--set <list[str]>`) and
writes required arguments as `{spec}` in the usage line; for a flag or a free-text option the
placeholder says nothing the help text does not. It also keeps a docstring's line breaks inside the
paragraphs after the first, which leaves ragged, cut-looking lines at any terminal width. This
adjusts Typer's display hooks once, at app build time; types that carry information (`<int>`,
`<float>`, `<path>`, choices) stay, and list lines (`- `, `* `) keep their own line.
"""

from __future__ import annotations

from typing import Any

UNINFORMATIVE = {"<bool>", "<str>", "<list[str]>", "<NoneType>"}
_PATCHED = False


def _display_type_rich(original: Any) -> Any:
    def display_type_rich(self: Any, ctx: Any) -> str | None:
        shown = original(self, ctx)
        return None if shown in UNINFORMATIVE else shown

    return display_type_rich


def _usage_display_name(self: Any) -> str:
    """`SPEC`, `[DEST]`, `RUNS...` (click's convention) instead of `{spec}`."""
    name = (self.metavar or self.name or "").upper()
    if not self.required:
        name = f"[{name}]"
    if self.nargs != 1:
        name += "..."
    return name


def _rich_display_name(self: Any) -> str:
    name = (self.metavar or self.name or "").upper()
    return name + ("..." if self.metavar is None and self.nargs != 1 else "")


def _join_lines(paragraph: str) -> str:
    if paragraph.startswith("\b"):
        return paragraph
    out: list[str] = []
    for line in paragraph.split("\n"):
        if out and not line.lstrip().startswith(("- ", "* ")):
            out[-1] = f"{out[-1].rstrip()} {line.strip()}"
        else:
            out.append(line)
    return "\n".join(out)


def _fix_linebreaks(paragraphs: list[str], markup_mode: Any = None) -> str:
    """Paragraphs reflowed to the terminal: single line breaks become spaces."""
    return "\n\n".join(_join_lines(p) for p in paragraphs)


def _patch_rich_utils() -> None:
    """Reflow help paragraphs (Typer's `rich_utils`, imported only when help is rendered)."""
    try:
        from typer import rich_utils
    except ImportError:  # Typer without rich: plain click help
        return
    if hasattr(rich_utils, "_fix_linebreaks"):
        rich_utils._fix_linebreaks = _fix_linebreaks


def _before_help(format_help: Any) -> Any:
    def wrapper(self: Any, ctx: Any, formatter: Any) -> Any:
        _patch_rich_utils()
        return format_help(self, ctx, formatter)

    return wrapper


def install() -> None:
    """Patch Typer's parameter display (idempotent); a Typer without the hooks is left alone.

    `typer.rich_utils` (about 0.08 s of imports) is patched when help is first formatted, not here:
    a command that prints no help never loads it.
    """
    global _PATCHED
    if _PATCHED:
        return
    from typer import core

    for cls_name in ("TyperOption", "TyperArgument"):
        cls = getattr(core, cls_name, None)
        if cls is not None and hasattr(cls, "display_type_rich"):
            cls.display_type_rich = _display_type_rich(cls.display_type_rich)
    for cls_name in ("TyperCommand", "TyperGroup"):
        cls = getattr(core, cls_name, None)
        if cls is not None and "format_help" in vars(cls):
            cls.format_help = _before_help(cls.format_help)
    argument = getattr(core, "TyperArgument", None)
    if argument is not None and hasattr(argument, "_usage_display_name"):
        argument._usage_display_name = _usage_display_name
        argument._rich_display_name = _rich_display_name
    _PATCHED = True
