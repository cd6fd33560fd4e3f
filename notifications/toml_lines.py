"""Where each key of a TOML document is written: the line numbers tomllib does not give.

`KeyLines(text).line(path)` is the line (1-based) of the key at `path`, a tuple of names (and
indexes for arrays), e.g. `("routing", "reminder")` or `("channels", "mail", "port")`.

The scanner reads what places a key: table headers `[a.b]`, arrays of tables `[[a]]` (the n-th
one is `("a", n)`, and `[a.b]` after it is `("a", n, "b")`), `key = …` lines, dotted keys
`a.b = …` (which also place `a`), quoted keys `"a.b"` and `'x'`, inline tables
`{ k = v }` and the elements of arrays (`("to", 1)` is the line of the second element). It skips
strings (multi-line ones too) and comments, so text inside them never looks like a key. A path
that was never written falls back to its nearest written ancestor (the table header a key sits
under), and a path with no written ancestor to line 1.

It expects a document tomllib accepted; on anything else it places what it can and never fails.
Places nested deeper than _DEEPEST keys and indexes are not placed, nor the parts of a dotted
key after its first MAX_PARTS (`too_long` tells the line of the first such key).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence

KeyPath = tuple[str | int, ...]

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_SCALAR_END = frozenset(" \t\r\n#,]}")
MAX_PARTS = 32
"""The most parts a dotted key (`a.b.c`) or table header has that the scanner places."""
_DEEPEST = 32
"""Paths longer than this are not placed (their ancestors are): the scanner recurses into
arrays and inline tables, and a document may nest them as deep as tomllib's own recursion."""


class KeyLines:
    """The line of every key of a TOML text (see the module docstring)."""

    def __init__(self, text: str) -> None:
        self._lines: dict[KeyPath, int] = {}
        scanner = _Scanner(text, self._lines)
        scanner.document()
        self.too_long = scanner.too_long
        """The line of the first key of more than MAX_PARTS dotted parts (None: there is
        none). Such a key is placed by its first parts only; a reader should refuse it
        before tomllib reads it, which takes time growing with the square of its parts."""

    @property
    def lines(self) -> Mapping[KeyPath, int]:
        """Every placed path and its line."""
        return self._lines

    def line(self, path: Sequence[str | int]) -> int:
        """The line of `path`, else of its nearest placed ancestor, else 1."""
        p = tuple(path)
        while p:
            found = self._lines.get(p)
            if found is not None:
                return found
            p = p[:-1]
        return 1


class _Scanner:
    def __init__(self, text: str, out: dict[KeyPath, int]) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.out = out
        self.tables: dict[KeyPath, int] = {}
        """Arrays of tables seen so far: path -> how many elements."""
        self.too_long: int | None = None

    # -- moving ----------------------------------------------------------------------------
    def peek(self, ahead: int = 0) -> str:
        i = self.pos + ahead
        return self.text[i] if i < len(self.text) else ""

    def advance(self, n: int = 1) -> None:
        end = min(self.pos + n, len(self.text))
        self.line += self.text.count("\n", self.pos, end)
        self.pos = end

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def skip_blanks(self) -> None:
        """Spaces and tabs."""
        while self.peek() in (" ", "\t") and not self.at_end():
            self.advance()

    def skip_space(self) -> None:
        """Spaces, tabs, newlines and comments."""
        while not self.at_end():
            c = self.peek()
            if c in (" ", "\t", "\r", "\n"):
                self.advance()
            elif c == "#":
                self.skip_line()
            else:
                return

    def skip_line(self) -> None:
        """To the end of the line (the newline stays)."""
        end = self.text.find("\n", self.pos)
        self.advance((len(self.text) if end < 0 else end) - self.pos)

    def place(self, path: KeyPath, line: int) -> None:
        self.out.setdefault(path, line)

    # -- the document ----------------------------------------------------------------------
    def document(self) -> None:
        table: KeyPath = ()
        while True:
            self.skip_space()
            if self.at_end():
                return
            start = self.pos
            if self.peek() == "[":
                table = self.header(table)
            else:
                self.keyval(table)
                self.skip_line()
            if self.pos == start:  # not understood: move on rather than loop
                self.skip_line()
                if self.pos == start:
                    self.advance()

    def header(self, current: KeyPath) -> KeyPath:
        line = self.line
        many = self.peek(1) == "["
        self.advance(2 if many else 1)
        self.skip_blanks()
        key = self.key()
        self.skip_line()
        if not key:
            return current
        path = self.resolve(key[:-1])
        for i in range(1, len(path) + 1):
            self.place(path[:i], line)
        path = (*path, key[-1])
        self.place(path, line)
        if many:
            index = self.tables.get(path, 0)
            self.tables[path] = index + 1
            path = (*path, index)
            self.place(path, line)
        return path

    def resolve(self, key: Sequence[str]) -> KeyPath:
        """`key` with the current element's index after each array of tables it passes."""
        path: KeyPath = ()
        for part in key:
            path = (*path, part)
            count = self.tables.get(path)
            if count:
                path = (*path, count - 1)
        return path

    def keyval(self, table: KeyPath) -> None:
        line = self.line
        key = self.key()
        if not key:
            return
        self.skip_blanks()
        if self.peek() != "=":
            return
        self.advance()
        self.skip_blanks()
        path: KeyPath = (*table, *key)
        for i in range(len(table) + 1, len(path) + 1):
            self.place(path[:i], line)
        self.value(path)

    def key(self) -> list[str]:
        """A dotted key (empty when there is none here); stops after its last part."""
        parts: list[str] = []
        while True:
            part = self.simple_key()
            if part is None:
                return parts
            if len(parts) < MAX_PARTS:
                parts.append(part)
            elif self.too_long is None:
                self.too_long = self.line
            self.skip_blanks()
            if self.peek() != ".":
                return parts
            self.advance()
            self.skip_blanks()

    def simple_key(self) -> str | None:
        c = self.peek()
        if c in ('"', "'"):
            start = self.pos
            self.string()
            return _decode_key(self.text[start:self.pos])
        start = self.pos
        while not self.at_end() and self.peek() in _BARE:
            self.advance()
        return self.text[start:self.pos] if self.pos > start else None

    # -- values ------------------------------------------------------------------------------
    def value(self, path: KeyPath) -> None:
        c = self.peek()
        if c in ('"', "'"):
            self.string()
        elif c in "[{" and len(path) > _DEEPEST:
            self.skip_nested()
        elif c == "[":
            self.array(path)
        elif c == "{":
            self.inline_table(path)
        else:
            while not self.at_end() and self.peek() not in _SCALAR_END:
                self.advance()

    def skip_nested(self) -> None:
        """Past an array or inline table without placing what is in it (a loop, where the
        placing recurses)."""
        level = 0
        while not self.at_end():
            c = self.peek()
            if c in ('"', "'"):
                self.string()
                continue
            if c == "#":
                self.skip_line()
                continue
            self.advance()
            if c in "[{":
                level += 1
            elif c in "]}":
                level -= 1
                if level <= 0:
                    return

    def array(self, path: KeyPath) -> None:
        self.advance()  # [
        index = 0
        while True:
            self.skip_space()
            c = self.peek()
            if c in ("]", ""):
                self.advance()
                return
            if c == ",":
                index += 1
                self.advance()
                continue
            if c == "}":  # does not belong here: skip it
                self.advance()
                continue
            self.place((*path, index), self.line)
            self.value((*path, index))

    def inline_table(self, path: KeyPath) -> None:
        self.advance()  # {
        while True:
            self.skip_space()
            c = self.peek()
            if c in ("}", ""):
                self.advance()
                return
            if c in (",", "]"):
                self.advance()
                continue
            start = self.pos
            self.keyval(path)
            if self.pos == start:
                self.advance()

    def string(self) -> None:
        """A basic, literal or multi-line string, opening quote at pos."""
        quote = self.peek()
        triple = self.text.startswith(quote * 3, self.pos)
        self.advance(3 if triple else 1)
        while not self.at_end():
            c = self.peek()
            if c == "\\" and quote == '"':
                self.advance(2)
            elif c == quote and (not triple or self.text.startswith(quote * 3, self.pos)):
                if not triple:
                    self.advance()
                    return
                extra = 0  # up to two quotes may stand just inside the closing three
                while extra < 2 and self.peek(3 + extra) == quote:
                    extra += 1
                self.advance(3 + extra)
                return
            elif c == "\n" and not triple:
                return  # an unterminated string: the line ends it
            else:
                self.advance()


def _decode_key(quoted: str) -> str:
    """A quoted key's name, escapes resolved the way TOML resolves them."""
    try:
        parsed = tomllib.loads(f"{quoted} = 0")
    except tomllib.TOMLDecodeError:
        return quoted.strip("\"'")
    return next(iter(parsed), quoted.strip("\"'"))


__all__ = ["MAX_PARTS", "KeyLines", "KeyPath"]
