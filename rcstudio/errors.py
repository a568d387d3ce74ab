"""User-facing errors: anything the user can fix ends as one clear message and exit code 2."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
        where = str(self.location)
        text = f"error: {where}: {self.message}" if where else f"error: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class JobFailed(Exception):
    """A job or check ran and failed (exit code 1), as opposed to a user mistake."""

    exit_code = 1
