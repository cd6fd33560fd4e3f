"""`Settings`, the reader every channel validates its part of the configuration with.

Every error names the key, e.g. `channels.ding.secret: environment variable DING_SECRET is not
set`, and carries that key as a path so the configuration can add the file and line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from notifications.errors import ConfigError

DEFAULT_TIMEOUT: Final = 10.0
"""Seconds a channel waits for a connection or an answer unless `timeout` says otherwise."""
MAX_TIMEOUT = 300
"""The longest wait a channel may be given (seconds)."""

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class Settings:
    """Reads and validates `channels.<name>`.

    Any string value may be written `env:NAME` to be read from the environment instead (meant for
    secrets: passwords, robot URLs holding an access token, signing secrets). Keys nobody asks
    for are allowed and ignored.
    """

    def __init__(self, channel: str, raw: Mapping[str, Any], env: Mapping[str, str],
                 path: tuple[str, ...] | None = None) -> None:
        self.channel = channel
        """The channel's name (`channels.<name>`)."""
        self.raw = raw
        self.env = env
        self.path = path if path is not None else ("channels", channel)
        """Where `raw` sits in the configuration."""

    def where(self, key: str) -> str:
        """The dotted name of `key`, e.g. `channels.ding.secret`."""
        return ".".join((*self.path, key))

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.where(key)}: {problem}", path=(*self.path, key))

    # -- strings ---------------------------------------------------------------------------

    def optional_text(self, key: str) -> str | None:
        """The string at `key` (env: resolved), None when absent or null."""
        value = self.raw.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {type_name(value)}")
        if value.startswith("env:"):
            name = value[4:].strip()
            if not _ENV_NAME.match(name):
                raise self.error(key, f"{value!r} does not name an environment variable")
            if name not in self.env:
                raise self.error(key, f"environment variable {name} is not set")
            value = self.env[name]
        if "\r" in value or "\n" in value or "\x00" in value:
            raise self.error(key, "must be a single line")
        return value

    def text(self, key: str, default: str | None = None) -> str:
        """A required string (or `default` when given and the key is absent); never blank."""
        value = self.optional_text(key)
        if value is None:
            if default is not None:
                return default
            raise self.error(key, "missing (required)")
        if not value.strip():
            raise self.error(key, "must not be blank")
        return value

    def choice(self, key: str, options: tuple[str, ...], default: str | None = None) -> str | None:
        value = self.optional_text(key)
        if value is None:
            return default
        if value not in options:
            raise self.error(key, f"{value!r} is not one of {', '.join(options)}")
        return value

    def url(self, key: str, default: str | None = None) -> str:
        """A required http(s) URL with a host."""
        value = self.text(key, default)
        try:
            parts = urlsplit(value)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname)
            _ = parts.port  # raises for a port that is not a number in range
        except ValueError:
            valid = False
        if not valid or any(c.isspace() for c in value):
            # the value is not repeated: robot URLs carry their token
            raise self.error(key, "expected an http:// or https:// URL with a host")
        return value

    def text_mapping(self, key: str) -> dict[str, str]:
        """A mapping of string to string (values may be env:NAME); {} when absent."""
        value = self.raw.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.error(key, f"expected a mapping, got {type_name(value)}")
        inner = Settings(self.channel, value, self.env, path=(*self.path, key))
        out: dict[str, str] = {}
        for k in value:
            if not isinstance(k, str):
                raise self.error(key, f"keys must be strings, got {type_name(k)}")
            out[k] = inner.text(k)
        return out

    # -- numbers and flags -----------------------------------------------------------------

    def optional_integer(self, key: str, low: int, high: int | None = None) -> int | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer, got {type_name(value)}")
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise self.error(key, f"{value} is out of range (must be {bound})")
        return value

    def seconds(self, key: str = "timeout", default: float = DEFAULT_TIMEOUT) -> float:
        value = self.raw.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, f"expected a number of seconds, got {type_name(value)}")
        if not value > 0:
            raise self.error(key, f"{value} must be more than 0 seconds")
        if not value <= MAX_TIMEOUT:  # also nan and inf: a socket's clock overflows on them
            raise self.error(key, f"{value} is more than {MAX_TIMEOUT} seconds")
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.raw.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {type_name(value)}")
        return value

    def per_minute(self, default: int | None) -> int | None:
        """`per_minute` may lower (or raise) a channel's pacing limit."""
        given = self.optional_integer("per_minute", 1)
        return default if given is None else given


def type_name(value: object) -> str:
    """How an error names the type of a configured value ("a string", "a list", …)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


__all__ = ["DEFAULT_TIMEOUT", "Settings", "type_name"]
