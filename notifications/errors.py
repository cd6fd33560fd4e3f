"""The errors this package raises on purpose, under one root of its own.

    NotificationError        root; `exit_code` is what a command line should return
    ├── ConfigError          exit 2: a configuration, template or context that is wrong
    │   └── RenderError      (notifications.render) a template that cannot render
    └── SendError            a channel could not deliver one message

An application that shows these to people translates them at its own boundary.
"""

from __future__ import annotations


class NotificationError(Exception):
    """Root of every deliberate error of the notifications package."""

    exit_code = 1


class ConfigError(NotificationError):
    """A bad configuration: the message names the key that is wrong (exit 2).

    `path` is that key as a tuple of names (`("channels", "ding", "secret")`) when the error is
    about one key of the configuration, else empty; the configuration uses it to add the file
    and line (see `Config.error`)."""

    exit_code = 2

    def __init__(self, message: str, *, path: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.path = path


class SendError(NotificationError):
    """A channel could not deliver. `retryable` False means trying again cannot help."""

    def __init__(self, message: str, retryable: bool = True, uncertain: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.uncertain = uncertain
        """The request may have arrived (e.g. no answer in time): sending again could post it
        twice where the receiver cannot drop repeats."""


__all__ = ["ConfigError", "NotificationError", "SendError"]
