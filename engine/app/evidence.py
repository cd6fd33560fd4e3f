"""Evidence files: hashed before the transaction, kept by content (SHA-256) after the decision.

The store is `<data dir>/evidence/<first two hex digits>/<sha256>`; a file already there is
never replaced. A copy this command made is removed again if its transaction fails.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from engine.domain.events import Evidence
from engine.errors import BadFile


def hashed(path: Path) -> tuple[Evidence, Path]:
    """The evidence record of a file (its hash, name and size) and the file."""
    h = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
                size += len(chunk)
    except OSError as e:
        raise BadFile(f"evidence {path}: cannot read: {e.strerror}") from None
    return Evidence(sha256=h.hexdigest(), name=path.name, size=size), path


def path_of(data_dir: Path, sha256: str) -> Path:
    """Where the evidence with this hash is kept."""
    return data_dir / "evidence" / sha256[:2] / sha256


def keep(data_dir: Path, sha256: str, source: Path) -> Path | None:
    """Copy a file into the content-addressed store; the path if this call created it."""
    target = path_of(data_dir, sha256)
    if target.exists():
        return None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{sha256}.{os.getpid()}.tmp")
        with source.open("rb") as src, tmp.open("wb") as dst:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                dst.write(chunk)
            dst.flush()
            os.fsync(dst.fileno())
        tmp.replace(target)
    except OSError as e:
        raise BadFile(f"cannot store evidence in {target.parent}: {e.strerror}") from None
    return target
