"""An issue's evidence as its history tells it, and copies of it taken away (`issue evidence`).

`attached` lists every file any event of the issue attached: its original name, size and
SHA-256, the event (its version in the issue's history) and when. `save` copies the stored
blobs into a folder under their original names, made safe (`safe_name`): nothing in a name can
reach outside the folder or reach the terminal. Two different files with one name are told
apart by ` (2)`, ` (3)` before the extension; the same bytes attached twice under one name are
saved once.

`save` writes all of the files or none. It refuses, before writing anything, a name that is
already taken in the folder (nothing is overwritten). Each blob is copied to a hidden
temporary file in the folder while it is hashed; a missing blob or one whose bytes no longer
hash to its name removes every temporary file and refuses. Only then is each copy linked to its
name (a link never replaces a file; a name taken meanwhile undoes the ones linked before it).
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from engine.app import issues
from engine.app.evidence import CHUNK, path_of, sync_dir, write_all
from engine.app.session import Session
from engine.domain.events import Event
from engine.domain.text import LINE
from engine.errors import BadFile, BadOption, Refused

NAME_BYTES = 255
"""The longest file name most file systems take, in UTF-8 bytes."""
FALLBACK = "evidence"
"""The name of a file whose recorded name leaves nothing usable."""
_SHA256 = re.compile(r"[0-9a-f]{64}")
_DOTS = re.compile(r"\.{2,}")


@dataclass(frozen=True, slots=True)
class Attached:
    """A file an event attached to the issue, as the event recorded it."""

    name: str
    sha256: str
    size: int
    event: int
    """The event's version in the issue's history (`issue history` numbers them so)."""
    transition: str | None
    at: datetime
    stage: str | None
    """The stage the event moved the issue to."""


@dataclass(frozen=True, slots=True)
class Saved:
    """An attached file and where its copy is."""

    attached: Attached
    path: Path


def attached(s: Session, issue_id: int) -> list[Attached]:
    """Every file any event of the issue attached, oldest first (NotFound: no such issue)."""
    return attached_to(issues.history(s, issue_id))


def attached_to(events: Sequence[Event]) -> list[Attached]:
    """Every file these events (an issue's history) attached, oldest first."""
    out: list[Attached] = []
    for e in events:
        items = e.payload.get("evidence")
        for item in items if isinstance(items, list) else ():
            if isinstance(item, Mapping):
                out.append(Attached(
                    name=str(item.get("name") or ""), sha256=str(item.get("sha256") or ""),
                    size=_size(item.get("size")), event=e.version, transition=e.transition,
                    at=e.at, stage=e.to_state))
    return out


def _size(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


# --- names ------------------------------------------------------------------------------------
def safe_name(name: str) -> str:
    """A recorded name as a file name in one folder: path separators and every character the
    text rule refuses in a line (controls, bidirectional controls, separators) as `_`, runs of
    dots as one and no dot or space in front (so never `.` or `..`, never hidden), at most
    NAME_BYTES of UTF-8 (the extension kept); FALLBACK when nothing is left."""
    clean = LINE.refused.sub("_", name.replace("/", "_").replace("\\", "_"))
    clean = _DOTS.sub(".", clean).lstrip(". ").rstrip()
    return _fit(clean) if clean else FALLBACK


def _split(name: str) -> tuple[str, str]:
    """(stem, extension with its dot); no extension when the only dot is the first."""
    dot = name.rfind(".")
    return (name[:dot], name[dot:]) if dot > 0 else (name, "")


def _fit(name: str, tail: str = "") -> str:
    """`name` with `tail` put before its extension, the stem cut (whole characters) so that
    the whole fits NAME_BYTES."""
    stem, ext = _split(name)
    if len(ext.encode("utf-8")) > NAME_BYTES // 2:  # not an extension: a long name's end
        stem, ext = name, ""
    room = NAME_BYTES - len((tail + ext).encode("utf-8"))
    while len(stem.encode("utf-8")) > room:
        stem = stem[:-1]
    return (stem or FALLBACK) + tail + ext


def file_names(items: Sequence[Attached]) -> list[str]:
    """The file name of each attached file in one folder: its safe name, ` (2)`, ` (3)`, …
    for a different file of a name already given; the same bytes under the same name, the same
    file."""
    given: dict[str, str] = {}  # name -> sha256
    seen: dict[tuple[str, str], str] = {}
    out = []
    for a in items:
        base = safe_name(a.name)
        name = seen.get((base, a.sha256))
        if name is None:
            name, n = base, 1
            while name in given:
                n += 1
                name = _fit(base, f" ({n})")
            given[name] = a.sha256
            seen[(base, a.sha256)] = name
        out.append(name)
    return out


# --- saving -----------------------------------------------------------------------------------
def save(s: Session, issue_id: int, folder: Path) -> list[Saved]:
    """Copy the issue's evidence into `folder`: all of it, each blob's SHA-256 checked, or
    nothing (Refused: a name taken, a blob missing or altered; BadFile: the folder cannot be
    written; BadOption: `folder` is not a directory)."""
    if not folder.is_dir():
        raise BadOption(f"--save {folder}: not a directory")
    items = attached(s, issue_id)
    names = file_names(items)
    firsts: dict[str, Attached] = {}  # each file once: the first attachment of its bytes
    for a, name in zip(items, names, strict=True):
        firsts.setdefault(name, a)
    for name in firsts:
        if os.path.lexists(folder / name):
            raise Refused(f"{folder / name} already exists: nothing saved (nothing is"
                          " overwritten)")
    copies: dict[str, Path] = {}
    linked: list[Path] = []
    try:
        for name, a in firsts.items():
            copies[name] = _copy(s.app.data_dir, a, folder)
        for name, tmp in copies.items():
            _link(tmp, folder / name)
            linked.append(folder / name)
        sync_dir(folder)
    except BaseException:
        for path in linked:
            with suppress(OSError):
                path.unlink()
        raise
    finally:
        for tmp in copies.values():
            with suppress(OSError):
                tmp.unlink()
    return [Saved(a, folder / name) for a, name in zip(items, names, strict=True)]


def _copy(data_dir: Path, a: Attached, folder: Path) -> Path:
    """The blob of `a` copied to a new hidden file in `folder`, hashed while copied; Refused
    (and nothing left) when the blob is missing or its bytes do not hash to its name."""
    if not _SHA256.fullmatch(a.sha256):
        raise Refused(f"evidence {a.name!r} (event {a.event}): {a.sha256[:70]!r} is not a"
                      " SHA-256: nothing saved")
    try:
        source = os.open(path_of(data_dir, a.sha256), os.O_RDONLY | os.O_NOFOLLOW
                         | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
            raise Refused(f"evidence {a.name!r} (event {a.event}, sha256 {a.sha256}) is"
                          " missing from the store: nothing saved") from None
        raise BadFile(f"evidence {a.name!r}: cannot read its blob: {e.strerror}") from None
    try:
        tmp = folder / f".rectify-save-{os.getpid()}-{os.urandom(6).hex()}"
        try:
            out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        except OSError as e:
            raise BadFile(f"cannot write in {folder}: {e.strerror}") from None
        try:
            digest = _pour(source, out, a, folder)
        except BaseException:
            os.close(out)
            tmp.unlink(missing_ok=True)
            raise
        os.close(out)
    finally:
        os.close(source)
    if digest != a.sha256:
        tmp.unlink(missing_ok=True)
        raise Refused(f"evidence {a.name!r} (event {a.event}): the stored blob no longer"
                      f" matches its SHA-256 {a.sha256}: nothing saved")
    return tmp


def _pour(source: int, out: int, a: Attached, folder: Path) -> str:
    """Copy `source` into `out` (synced); the SHA-256 of what was copied."""
    h = hashlib.sha256()
    os.set_blocking(source, True)
    while True:
        try:
            chunk = os.read(source, CHUNK)
        except OSError as e:  # a directory or a device where the blob should be
            raise Refused(f"evidence {a.name!r} (event {a.event}): its blob cannot be read"
                          f" ({e.strerror}): nothing saved") from None
        if not chunk:
            break
        h.update(chunk)
        try:
            write_all(out, chunk)
        except OSError as e:
            raise BadFile(f"cannot write in {folder}: {e.strerror}") from None
    try:
        os.fsync(out)
    except OSError as e:
        raise BadFile(f"cannot write in {folder}: {e.strerror}") from None
    return h.hexdigest()


def _link(tmp: Path, target: Path) -> None:
    """The copy under its name; Refused when the name was taken meanwhile (never replaced)."""
    try:
        os.link(tmp, target)
        return
    except FileExistsError:
        raise Refused(f"{target} already exists: nothing saved (nothing is overwritten)"
                      ) from None
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise BadFile(f"cannot write {target}: {e.strerror}") from None
    if os.path.lexists(target):  # a file system without hard links: look, then rename
        raise Refused(f"{target} already exists: nothing saved (nothing is overwritten)")
    os.replace(tmp, target)
