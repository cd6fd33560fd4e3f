"""The notification configuration (TOML): channels, routing, dispatch and the briefing.

    locale = "zh_CN"                 # or "en"
    templates = "my-templates"       # a directory of local template overrides (optional)
    [dispatch]
    max_tries = 5                    # then the row is dead
    backoff_seconds = 30             # first retry after ~30 s, doubling, with jitter
    lease_seconds = 300              # a row left `sending` longer than this was cut off
    [channels.mail]
    type = "smtp"                    # smtp | webhook | dingtalk | wecom | file | console
    host = "127.0.0.1"
    [routing]
    reminder = ["mail"]              # kinds: see KINDS
    [briefing]
    cron = "30 8 * * mon"            # town time; crontab syntax
    to = ["party_secretary", "liaison"]   # roles (town-wide) or person ids

With no file, every kind goes to the console channel.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notifications.message import ConfigError

KINDS = ("reminder", "interview", "accountability", "assignment", "rejection", "extension",
         "interview_recorded", "briefing")
CHANNEL_TYPES = ("smtp", "webhook", "dingtalk", "wecom", "file", "console")
DEFAULT_FILE = "rectify.toml"


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

    def channels_for(self, kind: str) -> tuple[str, ...]:
        return self.routing.get(kind, ())


def load(path: Path | None, env: Mapping[str, str] | None = None) -> Config:
    """The configuration at `path`, or in ./rectify.toml, or the defaults (console only)."""
    given = path is not None
    env = os.environ if env is None else env
    if path is None:
        named = env.get("RECTIFY_CONFIG")
        path = Path(named) if named else Path(DEFAULT_FILE)
        given = bool(named)
    if not path.exists():
        if given:
            raise ConfigError(f"{path}: no such configuration file")
        return Config()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not TOML: {e}") from None
    return parse(raw, str(path), path.parent)


def parse(raw: Mapping[str, Any], source: str = "(config)", base: Path | None = None) -> Config:
    def fail(key: str, message: str) -> ConfigError:
        return ConfigError(f"{source}: {key}: {message}")

    channels_raw = raw.get("channels", {})
    if not isinstance(channels_raw, dict):
        raise fail("channels", "must be a table of [channels.NAME]")
    channels: dict[str, dict[str, Any]] = {}
    for name, settings in channels_raw.items():
        if not isinstance(settings, dict):
            raise fail(f"channels.{name}", "must be a table")
        kind = settings.get("type")
        if kind not in CHANNEL_TYPES:
            raise fail(f"channels.{name}.type",
                       f"{kind!r} is not one of {', '.join(CHANNEL_TYPES)}")
        channels[name] = dict(settings)
    if not channels:
        channels = {"console": {"type": "console"}}
    routing_raw = raw.get("routing")
    routing: dict[str, tuple[str, ...]]
    if routing_raw is None:
        first = tuple(channels)
        routing = dict.fromkeys(KINDS, first)
    else:
        if not isinstance(routing_raw, dict):
            raise fail("routing", "must be a table of kind = [channels]")
        routing = {}
        for kind, names in routing_raw.items():
            if kind not in KINDS:
                raise fail(f"routing.{kind}", f"unknown kind (one of {', '.join(KINDS)})")
            if isinstance(names, str):
                names = [names]
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise fail(f"routing.{kind}", "must be a list of channel names")
            for n in names:
                if n not in channels:
                    raise fail(f"routing.{kind}", f"unknown channel {n!r}")
            routing[kind] = tuple(names)
    locale = raw.get("locale", "zh_CN")
    if locale not in ("zh_CN", "en"):
        raise fail("locale", f"{locale!r} is not zh_CN or en")
    templates = raw.get("templates")
    templates_path: Path | None = None
    if templates is not None:
        if not isinstance(templates, str):
            raise fail("templates", "must be a directory path")
        templates_path = Path(templates)
        if base is not None and not templates_path.is_absolute():
            templates_path = base / templates_path
        if not templates_path.is_dir():
            raise fail("templates", f"no such directory {str(templates_path)!r}")
    d = raw.get("dispatch", {})
    if not isinstance(d, dict):
        raise fail("dispatch", "must be a table")
    dispatch = Dispatch(
        max_tries=_number(d, "max_tries", 5, int, fail, minimum=1),
        backoff_seconds=_number(d, "backoff_seconds", 30.0, float, fail, minimum=0),
        lease_seconds=_number(d, "lease_seconds", 300.0, float, fail, minimum=0),
        batch=_number(d, "batch", 100, int, fail, minimum=1),
    )
    b = raw.get("briefing", {})
    if not isinstance(b, dict):
        raise fail("briefing", "must be a table")
    cron = b.get("cron")
    if cron is not None:
        if not isinstance(cron, str):
            raise fail("briefing.cron", "must be a crontab string like \"30 8 * * mon\"")
        try:
            from apscheduler.triggers.cron import CronTrigger

            CronTrigger.from_crontab(cron)
        except ValueError as e:
            raise fail("briefing.cron", str(e)) from None
    to = b.get("to", ["party_secretary"])
    if not isinstance(to, list) or not all(isinstance(x, str) for x in to):
        raise fail("briefing.to", "must be a list of roles or person ids")
    return Config(channels=channels, routing=routing, locale=locale, templates=templates_path,
                  dispatch=dispatch, briefing=Briefing(cron=cron, to=tuple(to)), source=source)


def _number(d: Mapping[str, Any], key: str, default: Any, kind: type, fail: Any,
            minimum: float) -> Any:
    value = d.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or (
            kind is int and not isinstance(value, int)):
        raise fail(f"dispatch.{key}", f"must be a{'n integer' if kind is int else ' number'}")
    if value < minimum:
        raise fail(f"dispatch.{key}", f"must be at least {minimum:g}")
    return kind(value)
