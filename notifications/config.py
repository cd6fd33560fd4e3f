"""The notification configuration (TOML): channels, routing, dispatch and the briefing.

    locale = "zh_CN"                 # or "en"
    templates = "my-templates"       # a directory of local template overrides (optional)
    [dispatch]
    max_tries = 5                    # then the row is dead
    backoff_seconds = 30             # first retry after ~30 s, doubling, with jitter
    lease_seconds = 300              # a row left `sending` longer than this was cut off
    batch = 100                      # rows claimed at a time
    [channels.mail]
    type = "smtp"                    # smtp | webhook | dingtalk | wecom | file | console
    host = "127.0.0.1"
    [routing]
    reminder = ["mail"]              # kinds: see KINDS
    [briefing]
    cron = "30 8 * * mon"            # town time; crontab syntax
    to = ["party_secretary", "liaison"]   # roles (town-wide) or person ids

With no file, every kind goes to the console channel (and pydantic, which checks a file, is not
loaded: `notifications.config_file` holds the file's schema), and `Config.looked` says where a
file was looked for (a dispatcher refuses to send without one unless told to use the console);
with no [routing], every kind goes to every channel. The file, [dispatch], [briefing] and
[routing] are closed: an unknown key is an error. A channel's table is open: its `type` is
checked against the channel registry here, the rest by the channel's own settings reader when
the channel is built (`Config.located` gives those errors the file and line too).

Errors name the file, the line of the offending key and the key:

    rectify.toml:12: routing.reminder: unknown channel 'mail2'

(`parse` of a mapping that did not come from a file says `source: key: problem`.) A file
larger than MAX_BYTES (1 MiB) is refused unread, and [dispatch] is bounded (LIMITS). When several
keys are wrong the first (by line) is named, followed by how many more and what they are.
"""

from __future__ import annotations

import codecs
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from notifications.errors import ConfigError
from notifications.message import KINDS, LOCALES
from notifications.toml_lines import MAX_PARTS, KeyLines, KeyPath

DEFAULT_FILE: Final = "rectify.toml"


# --- what the rest of the program reads -----------------------------------------------------------
@dataclass(frozen=True)
class Dispatch:
    max_tries: int = 5
    backoff_seconds: float = 30.0
    lease_seconds: float = 300.0
    batch: int = 100


@dataclass(frozen=True)
class Briefing:
    cron: str | None = None
    to: tuple[str, ...] = ("party_secretary",)


@dataclass(frozen=True)
class Config:
    channels: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: {"console": {"type": "console"}})
    routing: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: dict.fromkeys(KINDS, ("console",)))
    locale: str = "zh_CN"
    templates: Path | None = None
    dispatch: Dispatch = field(default_factory=Dispatch)
    briefing: Briefing = field(default_factory=Briefing)
    source: str = "(defaults)"
    lines: KeyLines | None = field(default=None, repr=False, compare=False)
    """Where each key is written in the file (None: not read from a file)."""
    looked: str | None = None
    """Where a configuration file was looked for when none was found (None: one was read, or
    this configuration was given as it is)."""

    def where(self, path: Sequence[str | int]) -> str:
        """`FILE:LINE` of the key at `path`, or just the source when there is no file."""
        if self.lines is None:
            return self.source
        return f"{self.source}:{self.lines.line(path)}"

    def error(self, path: Sequence[str | int], problem: str) -> ConfigError:
        """`FILE:LINE: key: problem` for the key at `path`."""
        return ConfigError(f"{self.where(path)}: {dotted(path)}: {problem}", path=tuple(path))

    def located(self, error: ConfigError) -> ConfigError:
        """`error` (which already names its key, e.g. from a channel's settings reader) with
        the file and line of that key in front."""
        if not error.path:
            return ConfigError(f"{self.source}: {error}")
        return ConfigError(f"{self.where(error.path)}: {error}", path=error.path)


# --- reading --------------------------------------------------------------------------------------
def load(path: Path | None, env: Mapping[str, str] | None = None) -> Config:
    """The configuration at `path`, or in the file RECTIFY_CONFIG names, or in ./rectify.toml,
    or the defaults (console only)."""
    given = path is not None
    env = os.environ if env is None else env
    if path is None:
        named = env.get("RECTIFY_CONFIG")
        path = Path(named) if named else Path(DEFAULT_FILE)
        given = bool(named)
    if not path.exists():
        if given:
            raise ConfigError(f"{path}: no such configuration file")
        return Config(looked=f"{path.absolute()} (no --config, RECTIFY_CONFIG not set)")
    text = _read(path)
    lines = KeyLines(text)
    if lines.too_long is not None:
        raise ConfigError(f"{path}:{lines.too_long}: a key of more than {MAX_PARTS} dotted"
                          " parts (none of rectify's is longer than three)")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}:{_decode_line(e)}: not TOML: {e}") from None
    except ValueError as e:  # an integer of thousands of digits
        raise ConfigError(f"{path}: not TOML: {e}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not TOML: arrays or tables nested too deeply") from None
    return parse(raw, str(path), path.parent, text=text, lines=lines)


MAX_BYTES: Final = 1 << 20
"""The largest configuration file read (1 MiB; a town's is a few kilobytes)."""


def _read(path: Path, limit: int = MAX_BYTES) -> str:
    """The file's text (UTF-8; a byte order mark in front is allowed), or ConfigError."""
    try:
        with path.open("rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    if len(data) > limit:
        raise ConfigError(f"{path}: larger than {limit >> 20} MiB, the limit for this file")
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise ConfigError(f"{path}: not TOML: not UTF-8 text (line {line}, byte"
                          f" 0x{data[e.start]:02x}; save it as UTF-8)") from None


def parse(raw: Mapping[str, Any], source: str = "(config)", base: Path | None = None, *,
          text: str | None = None, lines: KeyLines | None = None) -> Config:
    """The configuration `raw` describes (`tomllib`'s reading of the file `source`).

    `base` is the directory a relative `templates` is read from; `text`, the file's text, lets
    errors give the line of the offending key (`lines`: where its keys are, if already
    found)."""
    from notifications.config_file import validate  # pydantic: only when there is a file

    if lines is None and text is not None:
        lines = KeyLines(text)
    model, wrong = validate(raw)
    if model is None:
        raise _error(source, lines, [(loc, loc, what) for loc, what in wrong])
    problems: list[tuple[KeyPath, KeyPath, str]] = []
    """(where to find the line, the key to name, what is wrong)"""

    channels: dict[str, dict[str, Any]] = {
        name: ch.model_dump() for name, ch in model.channels.items()}
    if not channels:
        channels = {"console": {"type": "console"}}
    routing: dict[str, tuple[str, ...]]
    if model.routing is None:
        routing = dict.fromkeys(KINDS, tuple(channels))
    else:
        routing = dict(model.routing)
        for kind, names in routing.items():
            for i, name in enumerate(names):
                if name not in channels:
                    problems.append((("routing", kind, i), ("routing", kind),
                                     f"unknown channel {name!r}"))
    templates: Path | None = None
    if model.templates is not None:
        templates = Path(model.templates)
        if base is not None and not templates.is_absolute():
            templates = base / templates
        if not templates.is_dir():
            problems.append((("templates",), ("templates",),
                             f"no such directory {str(templates)!r}"))
    for key, (low, high) in LIMITS.items():
        value = getattr(model.dispatch, key)
        if not low <= value <= high:  # (nan is neither)
            problems.append((("dispatch", key), ("dispatch", key),
                             f"must be from {low} to {high}, not {value}"))
    if problems:
        raise _error(source, lines, problems)
    d, b = model.dispatch, model.briefing
    return Config(
        channels=channels, routing=routing, locale=model.locale, templates=templates,
        dispatch=Dispatch(max_tries=d.max_tries, backoff_seconds=float(d.backoff_seconds),
                          lease_seconds=float(d.lease_seconds), batch=d.batch),
        briefing=Briefing(cron=b.cron, to=b.to), source=source, lines=lines,
    )


LIMITS: Final[Mapping[str, tuple[int, int]]] = {
    "max_tries": (1, 20), "backoff_seconds": (0, 86_400), "lease_seconds": (0, 86_400),
    "batch": (1, 10_000)}
"""The bounds of [dispatch]: at most a day for the first back-off (it doubles with each try:
by the twentieth a day has become centuries, and more would pass the calendar's end) or for a
lease, and a batch one transaction holds."""


def dotted(path: Sequence[str | int]) -> str:
    """A key path as the error names it: `channels.mail.port`."""
    return ".".join(str(part) for part in path) or "(the file)"


def _error(source: str, lines: KeyLines | None,
           problems: list[tuple[KeyPath, KeyPath, str]]) -> ConfigError:
    """One error for every problem: the first by line, then how many more and what they are."""
    placed = sorted(
        ((lines.line(at) if lines is not None else 0), i, name, what)
        for i, (at, name, what) in enumerate(problems))
    said = [f"{source}:{line}: {dotted(name)}: {what}" if lines is not None
            else f"{source}: {dotted(name)}: {what}" for line, _, name, what in placed]
    first, *rest = said
    if rest:
        first += f" (and {len(rest)} more: {'; '.join(rest)})"
    return ConfigError(first, path=placed[0][2])


_AT_LINE = re.compile(r"\(at line (\d+), column \d+\)")


def _decode_line(e: tomllib.TOMLDecodeError) -> int:
    """The line tomllib names in its message (it keeps no attribute for it), else 1."""
    found = _AT_LINE.search(str(e))
    return int(found.group(1)) if found else 1


__all__ = [
    "DEFAULT_FILE",
    "KINDS",
    "LOCALES",
    "Briefing",
    "Config",
    "Dispatch",
    "KeyPath",
    "dotted",
    "load",
    "parse",
]
