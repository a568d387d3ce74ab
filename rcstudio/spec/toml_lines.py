"""Where each key of a TOML document was written: dotted key path -> 1-based line number.

`tomllib` gives values but no positions, and error messages must point at the user's line. This is
a small structural scanner over text that `tomllib` has already accepted: it records every key
(`[table]` headers, `key = value`, dotted keys, keys inside inline tables) and skips values.
"""

from __future__ import annotations

BARE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
Path = tuple[str, ...]


class _Scanner:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.line = 1
        self.lines: dict[Path, int] = {}

    # -- low level -------------------------------------------------------------------------
    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.s[j] if j < len(self.s) else ""

    def advance(self, n: int = 1) -> None:
        for _ in range(n):
            if self.i < len(self.s):
                if self.s[self.i] == "\n":
                    self.line += 1
                self.i += 1

    def skip_ws(self, newlines: bool = False) -> None:
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t\r" or (newlines and c == "\n"):
                self.advance()
            elif c == "#":
                while self.i < len(self.s) and self.s[self.i] != "\n":
                    self.advance()
            else:
                break

    def record(self, path: Path, line: int) -> None:
        self.lines.setdefault(path, line)

    # -- keys and strings ----------------------------------------------------------------------
    def string(self) -> str:
        quote = self.peek()
        if self.s.startswith(quote * 3, self.i):
            self.advance(3)
            end = quote * 3
            start = self.i
            while self.i < len(self.s) and not self.s.startswith(end, self.i):
                if quote == '"' and self.peek() == "\\":
                    self.advance()
                self.advance()
            value = self.s[start:self.i]
            self.advance(3)
            while self.peek() == quote:  # up to two quotes may close a multi-line string
                self.advance()
            return value
        self.advance()
        out = []
        while self.i < len(self.s) and self.peek() != quote:
            if quote == '"' and self.peek() == "\\":
                self.advance()
                out.append(_unescape(self.peek()))
            else:
                out.append(self.peek())
            self.advance()
        self.advance()
        return "".join(out)

    def key(self) -> Path:
        parts = []
        while True:
            self.skip_ws()
            c = self.peek()
            if c in ('"', "'"):
                parts.append(self.string())
            else:
                start = self.i
                while self.peek() and self.peek() in BARE:
                    self.advance()
                parts.append(self.s[start:self.i])
            self.skip_ws()
            if self.peek() == ".":
                self.advance()
                continue
            return tuple(parts)

    # -- values ------------------------------------------------------------------------------
    def value(self, path: Path) -> None:
        c = self.peek()
        if c in ('"', "'"):
            self.string()
        elif c == "[":
            self.advance()
            while True:
                self.skip_ws(newlines=True)
                if self.peek() in ("]", ""):
                    self.advance()
                    return
                if self.peek() == ",":
                    self.advance()
                    continue
                self.value(path)
        elif c == "{":
            self.advance()
            while True:
                self.skip_ws(newlines=True)
                if self.peek() in ("}", ""):
                    self.advance()
                    return
                if self.peek() == ",":
                    self.advance()
                    continue
                self.keyval(path)
        else:
            while self.peek() and self.peek() not in ",]}\n#":
                self.advance()

    def keyval(self, prefix: Path) -> None:
        line = self.line
        key = self.key()
        for n in range(1, len(key) + 1):
            self.record(prefix + key[:n], line)
        self.skip_ws()
        if self.peek() == "=":
            self.advance()
        self.skip_ws()
        self.value(prefix + key)

    # -- document ------------------------------------------------------------------------------
    def document(self) -> dict[Path, int]:
        prefix: Path = ()
        while True:
            self.skip_ws(newlines=True)
            if not self.peek():
                return self.lines
            if self.peek() == "[":
                line = self.line
                double = self.peek(1) == "["
                self.advance(2 if double else 1)
                prefix = self.key()
                self.advance(2 if double else 1)
                for n in range(1, len(prefix) + 1):
                    self.record(prefix[:n], line)
            else:
                self.keyval(prefix)
            self.skip_ws()


def _unescape(c: str) -> str:
    return {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r", "b": "\b", "f": "\f"}.get(c, c)


def line_map(text: str) -> dict[Path, int]:
    """Key path (tuple of key parts) -> the line where it was first written."""
    return _Scanner(text).document()
