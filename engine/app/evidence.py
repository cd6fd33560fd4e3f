"""Evidence files, kept by content in `<data dir>/evidence/<first two hex digits>/<sha256>`.

A file is copied into the store once, before the move's transaction, and hashed while it is
copied: the hash the event records is the hash of the bytes stored, whatever becomes of the
file afterwards (overwritten while the command waits for a lock, say). The copy goes to a
temporary file beside the store, is synced, and is linked to its hash's name; a blob already
there is rehashed and, if it no longer matches its name, replaced by the good copy.

Only a regular file is taken: opened without following a symbolic link, and checked on the
opened descriptor (a FIFO, a device, a directory or a socket is refused without reading it, so
nothing can make the command hang). Its size is counted while it is copied and refused past
the app's limit (`--evidence-limit`, default 50 MiB), so a file that grows meanwhile is caught
too.

A blob this command created is removed again if the transaction fails, unless someone may rely
on it: every command holds a shared lock (flock) on the blobs of its move until its transaction
ends, and marks them read-only once it has committed. A failing command removes its blob only
when it gets the lock alone and the blob is still writable (no committed move names it).
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import stat
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from engine.app.session import EVIDENCE_LIMIT
from engine.domain.events import Evidence
from engine.errors import BadFile, Refused

MIB = 1 << 20
LIMIT = EVIDENCE_LIMIT
"""The default largest evidence file, in bytes."""
CHUNK = 1 << 20
_PENDING = 0o600
"""A blob's mode until a committed move names it (read-only after)."""
_KEPT = 0o444
_ATTEMPTS = 8


def path_of(data_dir: Path, sha256: str) -> Path:
    """Where the evidence with this hash is kept."""
    return data_dir / "evidence" / sha256[:2] / sha256


def limit_text(limit: int) -> str:
    return f"{limit / MIB:g} MiB"


@dataclass
class Held:
    """A blob in the store, open and share-locked until the move's transaction ends."""

    record: Evidence
    blob: Path
    fd: int
    created: bool


@dataclass
class Staged:
    """The evidence of one move, in the store before its transaction begins."""

    held: list[Held] = field(default_factory=list)
    made_dirs: list[Path] = field(default_factory=list)
    """Folders this command created (removed again, if empty, when the move fails)."""

    @property
    def records(self) -> tuple[Evidence, ...]:
        return tuple(h.record for h in self.held)

    def kept(self) -> None:
        """The transaction committed: the blobs are named by a move; read-only from now on."""
        for h in self.held:
            with suppress(OSError):  # not ours to change (another user's store): leave it
                os.fchmod(h.fd, _KEPT)
        self._release()

    def abandon(self) -> None:
        """The transaction failed: remove what this command created that nobody relies on."""
        for h in self.held:  # first let go of what others made (the same file given twice)
            if not h.created:
                with suppress(OSError):
                    os.close(h.fd)
        self.held = [h for h in self.held if h.created]
        for h in self.held:
            _remove_unused(h)
        self._release()
        for folder in reversed(self.made_dirs):
            with suppress(OSError):  # not empty (someone else's evidence), or already gone
                folder.rmdir()

    def _release(self) -> None:
        for h in self.held:
            with suppress(OSError):
                os.close(h.fd)
        self.held = []


def stage(data_dir: Path, files: Sequence[Path], limit: int = LIMIT) -> Staged:
    """Copy each file into the store (hashing what is copied); all of them or none."""
    staged = Staged()
    if not files:
        return staged
    try:
        for path in files:
            staged.held.append(_store(data_dir, path, limit, staged.made_dirs))
    except BaseException:
        staged.abandon()
        raise
    return staged


# --- one file -------------------------------------------------------------------------------
def _store(data_dir: Path, path: Path, limit: int, made: list[Path]) -> Held:
    source = _open_regular(path, limit)
    try:
        tmp, record = _copy(source, data_dir / "evidence", path, limit, made)
    finally:
        os.close(source)
    try:
        return _place(path_of(data_dir, record.sha256), tmp, record, made)
    except OSError as e:
        raise BadFile(f"cannot store evidence in {data_dir / 'evidence'}: {e.strerror}"
                      ) from None
    finally:
        with suppress(OSError):
            os.unlink(tmp)


def _open_regular(path: Path, limit: int) -> int:
    """A descriptor on the file, which is a regular file within the limit; refused otherwise
    (checked before opening, so a device is not even opened, and again on the descriptor)."""
    try:
        st = os.lstat(path)
    except OSError as e:
        raise BadFile(f"evidence {path}: cannot read: {e.strerror}") from None
    _check_kind(path, st)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY
                     | os.O_CLOEXEC)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENXIO, errno.EISDIR):  # swapped in meanwhile
            raise Refused(f"evidence {path}: not a regular file") from None
        raise BadFile(f"evidence {path}: cannot read: {e.strerror}") from None
    try:
        st = os.fstat(fd)
        _check_kind(path, st)
        if st.st_size > limit:
            raise Refused(f"evidence {path}: {st.st_size:,} bytes, larger than the limit of"
                          f" {limit_text(limit)} (--evidence-limit)")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _check_kind(path: Path, st: os.stat_result) -> None:
    if stat.S_ISREG(st.st_mode):
        return
    what = ("a symbolic link" if stat.S_ISLNK(st.st_mode) else
            "a directory" if stat.S_ISDIR(st.st_mode) else
            "a FIFO" if stat.S_ISFIFO(st.st_mode) else
            "a socket" if stat.S_ISSOCK(st.st_mode) else "a device")
    raise Refused(f"evidence {path}: not a regular file ({what})")


def _copy(source: int, folder: Path, path: Path, limit: int, made: list[Path]
          ) -> tuple[Path, Evidence]:
    """The file's bytes copied to a synced temporary file in `folder`, and their record."""
    tmp, out = _incoming(folder, made)
    h = hashlib.sha256()
    size = 0
    try:
        while chunk := _read(source, path):
            size += len(chunk)
            if size > limit:
                raise Refused(f"evidence {path}: larger than the limit of"
                              f" {limit_text(limit)} (--evidence-limit)")
            h.update(chunk)
            try:
                write_all(out, chunk)
            except OSError as e:
                raise BadFile(f"cannot store evidence in {folder}: {e.strerror}") from None
        try:
            os.fchmod(out, _PENDING)  # whatever the umask
            os.fsync(out)
        except OSError as e:
            raise BadFile(f"cannot store evidence in {folder}: {e.strerror}") from None
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        os.close(out)
    return tmp, Evidence(sha256=h.hexdigest(), name=path.name, size=size)


def _incoming(folder: Path, made: list[Path]) -> tuple[Path, int]:
    """A new temporary file in `folder` (made if missing), open for writing."""
    for attempt in range(_ATTEMPTS):
        tmp = folder / f".incoming-{os.getpid()}-{os.urandom(8).hex()}"
        try:
            _make_dirs(folder, made)
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                                _PENDING)
        except FileNotFoundError:  # the folder removed meanwhile by a failed move: again
            if attempt + 1 < _ATTEMPTS:
                continue
            raise BadFile(f"cannot store evidence in {folder}: it keeps vanishing") from None
        except OSError as e:
            raise BadFile(f"cannot store evidence in {folder}: {e.strerror}") from None
    raise AssertionError("unreachable")


def _read(fd: int, path: Path) -> bytes:
    try:
        return os.read(fd, CHUNK)
    except OSError as e:
        raise BadFile(f"evidence {path}: cannot read: {e.strerror}") from None


def _place(target: Path, tmp: Path, record: Evidence, made: list[Path]) -> Held:
    """The synced copy under its hash's name: linked there if nothing is; an existing blob is
    rehashed and replaced by the copy if it no longer matches its name. Held, share-locked."""
    mine = os.stat(tmp)
    ours = (mine.st_dev, mine.st_ino)
    for _ in range(_ATTEMPTS):
        try:
            _make_dirs(target.parent, made)
            created = os.path.lexists(tmp) and _link(tmp, target)
        except FileNotFoundError:  # the folder removed meanwhile by a failed move: again
            continue
        fd = _hold(target)
        if fd is None:  # removed or replaced before we held it: once more
            continue
        held = os.fstat(fd)
        if (held.st_dev, held.st_ino) == ours:  # our copy: linked now, or healing a blob
            sync_dir(target.parent)
            return Held(record, target, fd, created=created)
        try:
            good = stat.S_ISREG(held.st_mode) and digest_of(fd) == record.sha256
        except OSError:
            good = False
        if good:
            return Held(record, target, fd, created=False)
        os.close(fd)  # a corrupted blob: replaced by this good copy, which moves may name
        os.chmod(tmp, _KEPT)
        os.replace(tmp, target)
    raise BadFile(f"cannot store evidence {record.name}: {target} keeps changing")


def _link(tmp: Path, target: Path) -> bool:
    """Whether the copy was linked to the target name (False: something is there)."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        return False
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        if os.path.lexists(target):  # a file system without hard links
            return False
        os.replace(tmp, target)
    return True


def _hold(target: Path) -> int | None:
    """A descriptor on the blob now at `target`, share-locked; None if it went meanwhile."""
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as e:
        if e.errno not in (errno.ELOOP, errno.ENXIO):
            raise
        os.unlink(target)  # not a blob at all (a link, a socket): made room for the copy
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        if _same(fd, target):
            return fd
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return None


def _same(fd: int, target: Path) -> bool:
    try:
        now = os.stat(target, follow_symlinks=False)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino)


def _remove_unused(h: Held) -> None:
    """Remove a blob this command created, unless another command holds it or a committed
    move marked it read-only."""
    try:
        fcntl.flock(h.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return  # another move holds it: it may commit
    with suppress(OSError):
        if os.fstat(h.fd).st_mode & stat.S_IWUSR and _same(h.fd, h.blob):
            os.unlink(h.blob)


def _make_dirs(folder: Path, made: list[Path]) -> None:
    missing = []
    for p in (folder, *folder.parents):
        if p.is_dir():
            break
        missing.append(p)
    for p in reversed(missing):
        try:
            p.mkdir()
        except FileExistsError:
            if not p.is_dir():
                raise
            continue
        made.append(p)
        sync_dir(p.parent)


def write_all(out: int, chunk: bytes) -> None:
    """Write every byte of `chunk` to the descriptor (os.write may write fewer)."""
    view = memoryview(chunk)
    while view:
        view = view[os.write(out, view):]


def sync_dir(folder: Path) -> None:
    """The folder's entries (a name made in it) synced to disk, where the file system can."""
    with suppress(OSError):  # not every file system syncs a folder
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def digest_of(fd: int) -> str:
    """The SHA-256 of what a descriptor holds, read from its start in CHUNK pieces."""
    h = hashlib.sha256()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    os.lseek(fd, 0, os.SEEK_SET)
    with open(fd, "rb", buffering=0, closefd=False) as f:
        while n := f.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()
