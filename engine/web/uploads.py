"""Files over the web: uploads written where the evidence store can take them, and stored
evidence handed out (pages and the JSON API alike)."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from fastapi import Request
from fastapi.responses import FileResponse
from starlette.datastructures import FormData, UploadFile

from engine.app.evidence import path_of
from engine.app.evidence_files import safe_name
from engine.errors import BadOption, NotFound
from engine.web.auth import rect

UPLOAD_LIMIT = 20
"""The most files one form may carry."""


def files_of(form: FormData, field: str = "evidence") -> list[UploadFile]:
    """The files a form carries in `field` (a form's objects are Starlette's UploadFile, of
    which FastAPI's is a subclass: tested against Starlette's)."""
    return [f for f in form.getlist(field) if isinstance(f, UploadFile) and f.filename]


class uploaded:
    """Uploaded files written to a private folder under their own (safe) names, for the
    evidence store to copy and hash; the folder goes when the command is done."""

    def __init__(self, files: Sequence[UploadFile]) -> None:
        if len(files) > UPLOAD_LIMIT:
            raise BadOption(f"at most {UPLOAD_LIMIT} files at once")
        self.files = files
        self.folder: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> list[Path]:
        if not self.files:
            return []
        self.folder = tempfile.TemporaryDirectory(prefix="rectify-upload-")
        out = []
        for n, f in enumerate(self.files):
            sub = Path(self.folder.name) / str(n)
            sub.mkdir()
            target = sub / safe_name(f.filename or "photo")
            with target.open("wb") as fh:
                while chunk := f.file.read(1 << 20):
                    fh.write(chunk)
            out.append(target)
        return out

    def __exit__(self, *exc: object) -> None:
        if self.folder is not None:
            self.folder.cleanup()


def evidence_file(request: Request, sha256: str, name: str = "evidence") -> FileResponse:
    """A stored evidence file by its SHA-256, under `name` (made safe); the caller has
    checked the reader is signed in (every signed-in person may read the whole ledger)."""
    if len(sha256) != 64 or any(ch not in "0123456789abcdef" for ch in sha256):
        raise BadOption("not an evidence hash")
    path = path_of(rect(request).data_dir, sha256)
    if not path.is_file():
        raise NotFound(f"no evidence {sha256[:12]}…")
    return FileResponse(path, filename=safe_name(name), content_disposition_type="inline")
