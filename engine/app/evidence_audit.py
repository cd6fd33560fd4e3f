"""`audit verify --evidence`: every evidence file the history names is still in the store, with
the bytes it was recorded with.

The history is read once (in chain order, one read transaction) for the evidence lists of its
events; then each distinct blob is rehashed, streaming in CHUNK pieces, outside the
transaction. A blob missing, or one whose bytes no longer hash to its name, makes the verdict
not sound: kind `evidence`, the first event naming a bad blob as `first_bad`.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass, field, replace
from typing import Any

from engine.app.audit import Verdict
from engine.app.evidence import MIB, digest_of, path_of
from engine.app.session import Session
from engine.store.audit_reads import Reads
from engine.store.rows import json_value

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Named:
    """A blob as the first event that names it."""

    sha256: str
    name: str
    seq: int
    issue: int


@dataclass
class Report:
    checked: int = 0
    """Distinct blobs the history names."""
    bytes: int = 0
    """Bytes rehashed."""
    missing: list[dict[str, Any]] = field(default_factory=list)
    mismatched: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.mismatched

    def to_json(self) -> dict[str, Any]:
        return {"checked": self.checked, "bytes": self.bytes, "missing": self.missing,
                "mismatched": self.mismatched}

    def summary(self) -> str:
        return f"{self.checked} evidence file(s), {self.bytes / MIB:.1f} MiB, rehashed"


def named(s: Session) -> dict[str, Named]:
    """Each blob the history names, as the first event that names it (one read)."""
    found: dict[str, Named] = {}
    with s.transaction(write=False) as tx:
        for row in Reads(tx).events(by_issue=False):
            text = row[10]
            if '"evidence"' not in text:
                continue
            try:
                payload = json_value(text)
            except ValueError:  # an edited row: the chain tells of it
                continue
            items = payload.get("evidence") if isinstance(payload, dict) else None
            for item in items if isinstance(items, list) else ():
                if not isinstance(item, dict):
                    continue
                digest = str(item.get("sha256"))
                if digest not in found:
                    found[digest] = Named(digest, str(item.get("name")), int(row[0]),
                                          int(row[1]))
    return found


def check(s: Session) -> Report:
    """Rehash every blob the history names, each once."""
    report = Report()
    folder = s.app.data_dir
    for blob in sorted(named(s).values(), key=lambda b: b.sha256):  # store order
        report.checked += 1
        entry = {"seq": blob.seq, "issue": blob.issue, "name": blob.name,
                 "sha256": blob.sha256}
        if not _SHA256.fullmatch(blob.sha256):
            report.mismatched.append({**entry, "problem": "not a SHA-256"})
            continue
        try:
            fd = os.open(path_of(folder, blob.sha256),
                         os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            report.missing.append(entry)
            continue
        except OSError as e:
            problem = ("not a regular file" if e.errno in (errno.ELOOP, errno.ENXIO)
                       else f"cannot be read: {e.strerror}")
            report.mismatched.append({**entry, "problem": problem})
            continue
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                report.mismatched.append({**entry, "problem": "not a regular file"})
                continue
            os.set_blocking(fd, True)
            digest = digest_of(fd)
            report.bytes += st.st_size
        except OSError as e:
            report.mismatched.append({**entry, "problem": f"cannot be read: {e.strerror}"})
            continue
        finally:
            os.close(fd)
        if digest != blob.sha256:
            report.mismatched.append({**entry, "problem": f"its bytes hash to {digest}"})
    report.missing.sort(key=_seq)
    report.mismatched.sort(key=_seq)
    return report


def _seq(entry: dict[str, Any]) -> int:
    return int(entry["seq"])


def verdict_with(verdict: Verdict, report: Report) -> Verdict:
    """The verdict with the evidence's: a sound history with a bad blob is not sound (kind
    `evidence`, the first event naming a bad blob); a broken history keeps its own finding."""
    if report.ok or not verdict.ok:
        return verdict
    first = min([*report.missing, *report.mismatched], key=_seq)
    problem = ("is missing from the evidence store" if first in report.missing
               else f"does not match its hash ({first['problem']})")
    return replace(verdict, ok=False, kind="evidence", first_bad=first["seq"],
                   issue=first["issue"],
                   reason=f"evidence: {first['name']} (sha256 {first['sha256']}) named by"
                          f" event {first['seq']} {problem}")


def verify(s: Session, verdict: Verdict) -> tuple[Verdict, dict[str, Any], Report]:
    """`audit verify --evidence`: the verdict with the evidence's, its JSON (the verdict's
    keys and `evidence`), and the report."""
    report = check(s)
    merged = verdict_with(verdict, report)
    return merged, {**merged.to_json(), "evidence": report.to_json()}, report
