"""The ways of telling people, and the one registry of them.

`REGISTRY` maps a channel type (the `type` of `channels.<name>` in the configuration) to the
`from_settings` of its class: adding a channel type is one module under this package and one
entry here. `build` makes the channel a configuration entry describes; the configuration checks
`type` against the same registry.

The interface every channel offers, and what `dedupes` and `per_minute` mean, is in
`notifications.channels.protocol`; the settings reader in `.settings`; the HTTP POST the webhook
and the robots share in `.http`. Channel modules import only those and `notifications.message`,
never this package nor each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final

from notifications.channels.console import ConsoleChannel
from notifications.channels.dingtalk import DingTalkChannel
from notifications.channels.file import FileChannel
from notifications.channels.protocol import Channel
from notifications.channels.settings import DEFAULT_TIMEOUT, Settings, type_name
from notifications.channels.smtp import SmtpChannel
from notifications.channels.webhook import WebhookChannel
from notifications.channels.wecom import WeComChannel
from notifications.errors import ConfigError

Factory = Callable[[Settings], Channel]
"""Makes a channel from its validated settings (a channel class's `from_settings`)."""

REGISTRY: Mapping[str, Factory] = MappingProxyType({
    "smtp": SmtpChannel.from_settings,
    "webhook": WebhookChannel.from_settings,
    "dingtalk": DingTalkChannel.from_settings,
    "wecom": WeComChannel.from_settings,
    "file": FileChannel.from_settings,
    "console": ConsoleChannel.from_settings,
})
"""Channel type -> factory. The single place a channel type is added."""

TYPES: Final = tuple(REGISTRY)
"""The channel types, in the order the registry lists them."""


def build(name: str, settings: Mapping[str, Any], env: Mapping[str, str]) -> Channel:
    """The channel `channels.<name>` describes; ConfigError naming the wrong key otherwise."""
    if not isinstance(settings, Mapping):
        raise ConfigError(f"channels.{name}: expected a mapping of settings, "
                          f"got {type_name(settings)}", path=("channels", name))
    reader = Settings(name, settings, env)
    known = tuple(REGISTRY)  # read at each call, so a replaced registry applies
    kind = reader.choice("type", known)
    if kind is None:
        raise reader.error("type", f"missing (required; one of {', '.join(known)})")
    return REGISTRY[kind](reader)


__all__ = [
    "DEFAULT_TIMEOUT",
    "REGISTRY",
    "TYPES",
    "Channel",
    "ConsoleChannel",
    "DingTalkChannel",
    "Factory",
    "FileChannel",
    "Settings",
    "SmtpChannel",
    "WeComChannel",
    "WebhookChannel",
    "build",
]
