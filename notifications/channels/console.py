"""console: prints a short block per message to stdout (demos, dry runs, development)."""

from __future__ import annotations

import sys
from typing import TextIO

from notifications.channels.settings import Settings
from notifications.message import Outgoing, SendError


class ConsoleChannel:
    """Prints recipient, subject and text. Never dedupes: a repeat prints again."""

    dedupes: bool = False

    def __init__(self, name: str, stream: TextIO | None = None,
                 per_minute: int | None = None) -> None:
        self.name = name
        self.per_minute = per_minute
        self._stream = stream
        """None: sys.stdout at the moment of sending (so redirections and capture apply)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> ConsoleChannel:
        return cls(settings.channel, per_minute=settings.per_minute(None))

    def __repr__(self) -> str:
        return f"ConsoleChannel({self.name!r})"

    def send(self, msg: Outgoing) -> None:
        r = msg.recipient
        reach = ", ".join(x for x in (r.email, r.mobile) if x)
        lines = [
            f"── {self.name} · {msg.kind} · #{msg.id} " + "─" * 20,
            f"To:      {r.name} ({r.person})" + (f" <{reach}>" if reach else ""),
            f"Subject: {msg.content.subject}",
            "",
            msg.content.text.rstrip("\n"),
            "",
        ]
        stream = self._stream if self._stream is not None else sys.stdout
        try:
            stream.write("\n".join(lines) + "\n")
            stream.flush()
        except (OSError, ValueError) as exc:  # closed or broken stdout
            raise SendError(f"console {self.name}: cannot write: {exc}", retryable=True) from None
