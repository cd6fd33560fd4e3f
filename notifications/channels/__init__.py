"""The ways of telling people: one module per channel type, `build` to make one from its
configuration (see base for the interface and what `dedupes` and `per_minute` mean)."""

from notifications.channels.base import DEFAULT_TIMEOUT, TYPES, Channel, Settings, build
from notifications.channels.console import ConsoleChannel
from notifications.channels.dingtalk import DingTalkChannel
from notifications.channels.file import FileChannel
from notifications.channels.smtp import SmtpChannel
from notifications.channels.webhook import WebhookChannel
from notifications.channels.wecom import WeComChannel

__all__ = [
    "DEFAULT_TIMEOUT",
    "TYPES",
    "Channel",
    "ConsoleChannel",
    "DingTalkChannel",
    "FileChannel",
    "Settings",
    "SmtpChannel",
    "WeComChannel",
    "WebhookChannel",
    "build",
]
