"""The one rule for text people type, and how text that broke it is shown.

Pure. Every human field goes through `check(field, value, kind)` before it is written; a value
that breaks the rule is refused (`Refused`, exit 1) naming the field and the first character
at fault, e.g. `title contains a control character (U+000D)`.

Three kinds of field:

    TITLE  an issue's title                                   one line, at most 200 characters
    LINE   a short name or id: village, category, group, household, severity, assignee,
           an evidence file's name, a person or group id as typed
                                                              one line, at most 200 characters
    TEXT   free text: description, note, plan, reason, interview and decision notes
                                                              lines (\\n) and tabs, at most
                                                              10,000 characters

Lengths count characters (code points), not bytes: 200 Chinese characters are a title.
Refused in every kind:

- control characters: C0 (U+0000–U+001F; a TEXT field may hold tab U+0009 and newline U+000A,
  nothing else: a carriage return is refused, a line ends with \\n alone), DEL (U+007F) and C1
  (U+0080–U+009F, NEL U+0085 among them);
- line and paragraph separators (U+2028, U+2029): a line break is \\n or nothing;
- bidirectional controls: the embeddings and overrides U+202A–U+202E, the isolates
  U+2066–U+2069 and the marks U+200E, U+200F, U+061C (they reorder what a reader sees);
- lone surrogates (U+D800–U+DFFF, what undecodable bytes become): no database stores them.

Text stored before the rule may hold any of these. `visible(value, multiline)` is what a
terminal, a plain-text report or an HTML page shows of such text: each of the characters above
written as an escape in ASCII, `\\x1b` for ESC, `\\r`, `\\n` and `\\t` for carriage return,
newline and tab, `\\xNN` for the rest up to U+00FF and `\\uNNNN` above (U+202E as `\\u202e`);
a multi-line field keeps its newlines and tabs. Everything else, Chinese text included, is
shown as it is. A backslash typed by a person is not doubled, so the shown form is for
reading; JSON output is the exact text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.errors import Refused

__all__ = ["LINE", "TEXT", "TITLE", "Kind", "check", "kind_of", "visible"]

_ALWAYS = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 but tab and newline, DEL, C1
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidirectional controls
    "\u2028\u2029"  # line and paragraph separators
    "\ud800-\udfff"  # lone surrogates
)
_IN_TEXT = re.compile(f"[{_ALWAYS}]")
_IN_LINE = re.compile(f"[\t\n{_ALWAYS}]")


@dataclass(frozen=True, slots=True)
class Kind:
    """A kind of field: its name, how long it may be, whether it may hold lines and tabs."""

    name: str
    limit: int
    multiline: bool

    @property
    def refused(self) -> re.Pattern[str]:
        return _IN_TEXT if self.multiline else _IN_LINE


TITLE = Kind("title", 200, multiline=False)
LINE = Kind("line", 200, multiline=False)
TEXT = Kind("text", 10_000, multiline=True)

FIELDS: dict[str, Kind] = {
    "title": TITLE,
    "description": TEXT,
    "note": TEXT,
    "plan": TEXT,
    "reason": TEXT,
    "interview note": TEXT,
    "decision note": TEXT,
}
"""The kind of each field by name (without a leading `--`); any other field is a LINE."""


def kind_of(field: str) -> Kind:
    """The kind of a field named as the rule names it (`title`, `--note`, `household`)."""
    return FIELDS.get(field.removeprefix("--"), LINE)


def check(field: str, value: str | None, kind: Kind | None = None) -> None:
    """Refuse `value` (exit 1, naming `field`) unless it keeps the rule of its kind (by
    default the kind of `field`'s name). None is no value and passes."""
    if value is None:
        return
    kind = kind or kind_of(field)
    if len(value) > kind.limit:
        raise Refused(f"{field} is longer than {kind.limit:,} characters ({len(value):,})")
    bad = kind.refused.search(value)
    if bad is not None:
        ch = bad.group()
        raise Refused(f"{field} contains {_what(ch)} (U+{ord(ch):04X})")


def _what(ch: str) -> str:
    code = ord(ch)
    if code in (0x2028, 0x2029):
        return "a line separator"
    if 0xD800 <= code <= 0xDFFF:
        return "an invalid character"
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return "a control character"
    return "a bidirectional control"


_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(m: re.Match[str]) -> str:
    ch = m.group()
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(value: str, multiline: bool = False) -> str:
    """`value` with every character the rule refuses written as an escape (see above); with
    `multiline`, newlines and tabs stay. Text that needs nothing is returned as it is."""
    pattern = _IN_TEXT if multiline else _IN_LINE
    if pattern.search(value) is None:
        return value
    return pattern.sub(_escape, value)
