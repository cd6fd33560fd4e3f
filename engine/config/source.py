"""What every reader of a town's YAML file shares: reading, parsing, and FILE:LINE problems.

A file is read as UTF-8 (at most MAX_BYTES, 1 MiB) and parsed once, without anchors or aliases,
into plain data plus a line map: for each place in the document, named by its path of keys and
list indexes (the way pydantic names a place in its errors), the line it starts on. A reader
validates the data with pydantic, adds its own checks, and `Problems` turns everything found
into one error:

    org.yaml:12: unit 'v-shiban' liaison names unknown person 'ghost' (and 1 more: org.yaml:…)

Each reader passes its own error class (all exit 2), so the caller can tell which file was bad.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from engine.errors import Malformed

Where = tuple[str | int, ...]
"""A place in a document: ("units", 0, "liaison") is the liaison of the first unit."""

Lines = dict[Where, int]
"""The line (1-based) where each place of a document starts; a key's place is its key's line."""

Describe = Callable[[ErrorDetails], str]
"""Turns one pydantic error into the text of a problem (without FILE:LINE)."""

M = TypeVar("M", bound=BaseModel)


def none_is_empty(value: Any) -> Any:
    """A list left blank in the file (`units:`) is an empty list."""
    return [] if value is None else value


def validated(text: str, source: str, model: type[M], error: type[Malformed], shape: str,
              describe: Describe | None = None, blank: Any = None) -> tuple[M, Problems]:
    """The file's data checked by `model`, with the Problems collector the reader goes on
    with; `error` names every problem found so far at its line. `shape` says what the
    document must be when it is not a mapping; a blank document is `blank` (None: refused)."""
    data, lines = parse_yaml(text, source, error)
    problems = Problems(source, lines)
    if data is None and blank is not None:
        data = blank
    if not isinstance(data, dict):
        problems.add((), shape)
        problems.raise_if_any(error)
    try:
        return model.model_validate(data), problems
    except ValidationError as e:
        problems.add_validation_error(e, describe)
        problems.raise_if_any(error)
        raise AssertionError("unreachable") from None


# --- reading ----------------------------------------------------------------------------------
MAX_BYTES = 1 << 20
"""The largest file a reader takes (1 MiB): a town's org, workflow or holidays file is a few
kilobytes; anything much larger is the wrong file, and would only cost time to refuse."""


def read_text(path: str | Path, error: type[Malformed], limit: int = MAX_BYTES) -> str:
    """The file's text; `error` when it cannot be read, is larger than `limit` bytes or is
    not UTF-8 (a byte order mark in front is allowed)."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            raw = f.read(limit + 1)
    except OSError as e:
        raise error(f"{p}: cannot read: {e.strerror or e}") from None
    if len(raw) > limit:
        raise error(f"{p}: larger than {size(limit)}, the limit for this file") from None
    raw = raw.removeprefix(codecs.BOM_UTF8)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise error(
            f"{p}: not UTF-8 text (line {line}, byte 0x{raw[e.start]:02x}; save it as UTF-8)"
        ) from None


def size(count: int) -> str:
    """`1 MiB`, `64 KiB`, `300 bytes`: a limit in words."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if count >= 1 << shift and count % (1 << shift) == 0:
            return f"{count >> shift} {unit}"
    return f"{count} bytes"


# --- parsing ----------------------------------------------------------------------------------
class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, made to refuse a bad value at its line instead of crashing.

    The safe loader raises a bare ValueError (or KeyError, …), with no line, for scalars such
    as `!!int abc`, `!!bool x` or `2020-02-30` (it looks like a date, so it is read as one).
    Here a date-like scalar that is no real date stays text, for the reader to refuse by name
    and line; any other scalar that cannot be built, and an integer of more than 64 bits (its
    digits could not even be printed in a message), is a YAML error at its line.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.values = 0
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        """A node, refused when it is an alias, carries an anchor or is one too many."""
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            raise Refusal(f"aliases are not allowed (*{event.anchor}; {_WRITE_IT_OUT})",
                          event.start_mark)
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise Refusal(f"aliases are not allowed (&{anchor}; {_WRITE_IT_OUT})",
                          event.start_mark)
        self.values += 1
        if self.values > MAX_VALUES:
            raise Refusal(f"more than {MAX_VALUES} values (keys, list items, scalars): far"
                          " more than a town's file holds", event.start_mark)
        if self.depth >= MAX_DEPTH:
            raise Refusal(f"not valid YAML: nested more than {MAX_DEPTH} deep",
                          event.start_mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            value = super().construct_object(node, deep)
        except (yaml.YAMLError, RecursionError):
            raise
        except Exception as e:  # ValueError mostly; KeyError for `!!bool x`, and so on
            raise self._cannot(node, str(e) or type(e).__name__) from None
        if isinstance(value, int) and value.bit_length() > 64:  # 60^5000 is a YAML int, too
            raise self._cannot(node, "more than 64 bits")
        return value

    @staticmethod
    def _cannot(node: yaml.Node, why: str) -> yaml.YAMLError:
        return yaml.constructor.ConstructorError(
            None, None, f"cannot read {node.tag.rsplit(':', 1)[-1]} value: {why}",
            node.start_mark)


MAX_VALUES = 50_000
"""The most values (keys, list items and scalars) a document may hold. The demo town's org
file holds under 2,000; the bound keeps the time to read a file short (PyYAML in Python
reads some 20,000 values a second), whatever fits in MAX_BYTES."""

MAX_DEPTH = 50
"""The deepest a value may be nested (a town's file nests four or five deep). PyYAML's scanner
takes time growing with the square of the depth of `[[[…`, and its composer recurses."""

_WRITE_IT_OUT = "write the value out where it is used"


class Refusal(yaml.YAMLError):
    """What the loader refuses to read at all, at the line it starts on.

    Anchors (`&name`) and aliases (`*name`) are refused wherever they are: a town's file has
    no use for them, and an alias names a value without copying it, so a few lines of aliases
    of aliases stand for billions of values (the "billion laughs") that every reader after the
    parser would walk. The first anchor is refused before anything is built. So is the value
    after MAX_VALUES, and one nested deeper than MAX_DEPTH."""

    def __init__(self, what: str, mark: Any) -> None:
        super().__init__(what)
        self.what = what
        self.line = mark.line + 1 if mark is not None else 1


def _timestamp(loader: _Loader, node: yaml.Node) -> date | str:
    """A date or time; a scalar that only looks like one (2020-02-30) stays text."""
    if not isinstance(node, yaml.ScalarNode):
        raise loader._cannot(node, "not a scalar")
    try:
        return loader.construct_yaml_timestamp(node)
    except (ValueError, AttributeError):  # AttributeError: `!!timestamp nope` matches nothing
        return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def parse_yaml(text: str, source: str, error: type[Malformed]) -> tuple[Any, Lines]:
    """The document's data and line map, in one pass; `error` at the line of a YAML mistake.

    An empty document gives None and an empty map. A key given twice in one mapping is a
    mistake (YAML would silently keep the last), and so is a document nested too deep to read.
    An anchor or alias is refused: `FILE:LINE: aliases are not allowed`, and so is a document
    of more than MAX_VALUES values (see `Refusal`).
    """
    try:
        loader = _Loader(text)  # checks the characters first
        try:
            node = loader.get_single_node()
            if node is None:
                return None, {}
            lines: Lines = {}
            _walk(node, (), lines)
            return loader.construct_document(node), lines
        finally:
            loader.dispose()
    except Refusal as e:
        raise error(f"{source}:{e.line}: {e.what}") from None
    except yaml.YAMLError as e:
        line, what = _yaml_problem(e, text)
        raise error(f"{source}:{line}: not valid YAML: {what}") from None
    except RecursionError:
        raise error(f"{source}:1: not valid YAML: nested too deeply") from None


def _walk(node: yaml.Node, where: Where, out: Lines) -> None:
    """Fill `out` with the line of each place under `node` (a key's place gets the key's line).

    The composer refused aliases, so each node is reached once, and the walk is as long as the
    file.
    """
    out.setdefault(where, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        first: dict[tuple[str, str], int] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                continue
            line = key.start_mark.line + 1
            if key.value == "<<":  # a merge: its keys come from elsewhere
                continue
            if (key.tag, key.value) in first:
                raise yaml.constructor.ConstructorError(
                    None, None,
                    f"key {key.value!r} is given twice (first at line {first[key.tag, key.value]})",
                    key.start_mark,
                )
            first[key.tag, key.value] = line
            out[(*where, key.value)] = line
            _walk(value, (*where, key.value), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[(*where, i)] = item.start_mark.line + 1
            _walk(item, (*where, i), out)


def _yaml_problem(e: yaml.YAMLError, text: str) -> tuple[int, str]:
    """The line and one-line text of a YAML error (PyYAML's own text spans several lines)."""
    if isinstance(e, yaml.MarkedYAMLError):
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else 1
        what = e.problem or e.context or "cannot be read"
        if e.context and e.problem:
            start = e.context_mark.line + 1 if e.context_mark is not None else line
            what += f" ({e.context}" + (f" started at line {start})" if start != line else ")")
        return line, what
    if isinstance(e, yaml.reader.ReaderError):
        position = e.position if isinstance(e.position, int) else 0
        what = f"character #x{e.character:04x}: " if isinstance(e.character, int) else ""
        return text[:position].count("\n") + 1, what + str(e.reason)
    return 1, str(e).replace("\n", " ")


# --- problems ---------------------------------------------------------------------------------
class Problems:
    """The problems found in one file, each at the line of the place it is about.

    A place missing from the line map (a key that is absent, say) takes the line of the
    nearest place that encloses it.
    """

    def __init__(self, source: str, lines: Lines) -> None:
        self.source, self.lines = source, lines
        self.items: list[tuple[int, str]] = []

    def __bool__(self) -> bool:
        return bool(self.items)

    def line(self, where: Where) -> int:
        p = where
        while p and p not in self.lines:
            p = p[:-1]
        return self.lines.get(p, 1)

    def add(self, where: Where, message: str) -> None:
        self.items.append((self.line(where), message))

    def add_validation_error(
        self, error: ValidationError, describe: Describe | None = None
    ) -> None:
        """One problem per pydantic error, at the line of the place the error names; `describe`
        words it (pydantic's own words, `dotted`, unless told)."""
        for err in error.errors():
            self.add(tuple(err["loc"]), (describe or dotted)(err))

    def all(self) -> list[str]:
        return [f"{self.source}:{line}: {msg}" for line, msg in sorted(self.items)]

    def raise_if_any(self, error: type[Malformed]) -> None:
        """`error` naming the first problem (by line) and the others after it (at most
        SHOWN of them: a file that is wrong throughout would make a line of megabytes)."""
        if self.items:
            first, *rest = self.all()
            shown = "; ".join(rest[:SHOWN]) + ("; …" if len(rest) > SHOWN else "")
            more = f" (and {len(rest)} more: {shown})" if rest else ""
            raise error(f"{first}{more}")


SHOWN = 20
"""How many problems after the first an error names (it counts them all)."""


# --- pydantic errors as text ------------------------------------------------------------------
def dotted(err: ErrorDetails) -> str:
    """`states.2.deadline: Input should be a valid dictionary`: pydantic's own words."""
    loc = tuple(err["loc"])
    return f"{'.'.join(map(str, loc)) or 'document'}: {err['msg']}"


_EXPECTED = {
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
}


def plain(err: ErrorDetails) -> str:
    """`units[0]: missing 'kind'`, `town: unknown key 'mayor'`: words for a town's clerk."""
    loc = tuple(err["loc"])
    kind = err["type"]
    if kind in ("missing", "extra_forbidden") and loc:
        what = "missing" if kind == "missing" else "unknown key"
        return _prefix(loc[:-1]) + f"{what} {loc[-1]!r}"
    if kind == "value_error" and "error" in err.get("ctx", {}):
        return _prefix(loc) + str(err["ctx"]["error"])
    if kind in _EXPECTED:
        return _prefix(loc) + f"expected {_EXPECTED[kind]}, not {kind_of(err['input'])}"
    msg = err["msg"]
    return _prefix(loc) + msg[:1].lower() + msg[1:]


def place(loc: Where) -> str:
    """`units[0].liaison` for ("units", 0, "liaison")."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _prefix(loc: Where) -> str:
    return f"{place(loc)}: " if loc else ""


def kind_of(value: Any) -> str:
    """What a YAML value is, in words, for a message saying it is the wrong kind."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, datetime):
        return f"the time {value.isoformat()}"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, bytes):
        return "binary data"
    if isinstance(value, str) and len(value) > 60:
        return f"{value[:60]!r}… ({len(value)} characters)"
    return f"{value!r}"
