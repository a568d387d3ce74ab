"""User-facing errors: anything the user can fix ends as one clear message and exit code 2."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


_C1 = "".join(chr(c) for c in range(0x80, 0xA0))
_CONTROLS = "".join(chr(c) for c in range(0x20)) + "\x7f" + _C1
_ESCAPE_ALL = str.maketrans({c: c.encode("unicode_escape").decode("ascii") for c in _CONTROLS})
_ESCAPE_KEEP_LINES = str.maketrans({c: c.encode("unicode_escape").decode("ascii") for c in _CONTROLS if c != "\n"})


def safe_text(text: object, keep_newlines: bool = True) -> str:
    """`text` with control characters escaped (`\x1b`), so a key or value holding a terminal escape
    (an OSC title sequence, a cursor move) prints as text instead of acting on the terminal."""
    return str(text).translate(_ESCAPE_KEEP_LINES if keep_newlines else _ESCAPE_ALL)


@dataclass
class Location:
    """Where in a user's file the problem is (any part may be unknown)."""

    file: str | Path | None = None
    line: int | None = None
    key: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.file is not None:
            parts.append(str(self.file) + (f":{self.line}" if self.line else ""))
        if self.key:
            parts.append(self.key)
        return ": ".join(parts)


class UserError(Exception):
    """A mistake in the user's input: printed without a traceback, exit code 2.

    `file`, `line` and `key` (a dotted key such as `rl.rollouts_per_prompt`) locate it;
    `hint` says what to do about it ("did you mean ...?").
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        key: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = Location(file, line, key)
        self.hint = hint

    def render(self) -> str:
        """The message as printed: control characters escaped (a location on one line)."""
        where = safe_text(self.location, keep_newlines=False)
        message = safe_text(self.message)
        text = f"error: {where}: {message}" if where else f"error: {message}"
        if self.hint:
            text += f"\n  hint: {safe_text(self.hint)}"
        return text


class JobFailed(Exception):
    """A job or check ran and failed (exit code 1), as opposed to a user mistake."""

    exit_code = 1
