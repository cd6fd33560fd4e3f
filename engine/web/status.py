"""The HTTP status of each kind of refusal (the CLI's exit codes, told to the web)."""

from __future__ import annotations

from engine.errors import LockedOut, Malformed, NotFound, NotPermitted, NotSignedIn, RectifyError


def status_of(e: RectifyError) -> int:
    """The HTTP status of a refusal or malformed input."""
    if isinstance(e, LockedOut):
        return 429
    if isinstance(e, NotSignedIn):
        return 401
    if isinstance(e, NotPermitted):
        return 403
    if isinstance(e, NotFound):
        return 404
    if isinstance(e, Malformed):
        return 422
    return 409
