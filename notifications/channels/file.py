"""file: appends one JSON line per message to `path` (an audit trail, or a stand-in for a real
channel during a trial)."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from notifications.channels.settings import Settings
from notifications.message import Outgoing, SendError


class FileChannel:
    """Each line: id, kind, channel, recipient {person, name, email, mobile}, subject, text,
    markdown, idempotency_key, attempt, sent_at (UTC, ISO 8601). UTF-8, Chinese unescaped.

    Never dedupes: a repeat is another line (with the same idempotency_key, so a reader can
    drop it). The parent directory is created when missing."""

    dedupes: bool = False

    def __init__(self, name: str, path: Path, per_minute: int | None = None) -> None:
        self.name = name
        self.path = path
        self.per_minute = per_minute
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> FileChannel:
        path = Path(settings.text("path")).expanduser().absolute()  # immune to a later chdir
        return cls(settings.channel, path, per_minute=settings.per_minute(None))

    def __repr__(self) -> str:
        return f"FileChannel({self.name!r}, {str(self.path)!r})"

    def record(self, msg: Outgoing) -> dict[str, Any]:
        r = msg.recipient
        return {
            "id": msg.id,
            "kind": msg.kind,
            "channel": msg.channel,
            "recipient": {"person": r.person, "name": r.name, "email": r.email,
                          "mobile": r.mobile},
            "subject": msg.content.subject,
            "text": msg.content.text,
            "markdown": msg.content.markdown,
            "idempotency_key": msg.idempotency_key,
            "attempt": msg.attempt,
            "sent_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        }

    def send(self, msg: Outgoing) -> None:
        line = (json.dumps(self.record(msg), ensure_ascii=False) + "\n").encode("utf-8")
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                # One write() of the whole line on an O_APPEND descriptor: lines from several
                # processes do not interleave on a local file system.
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    written = os.write(fd, line)
                finally:
                    os.close(fd)
            if written != len(line):
                raise OSError(f"short write ({written} of {len(line)} bytes)")
        except OSError as exc:
            raise SendError(f"file {self.name}: cannot append to {self.path}: {exc}",
                            retryable=True) from None
