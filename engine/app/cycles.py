"""The cyclic garbage collector paused for work that makes many objects and no cycles."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """The cyclic garbage collector off (as it was before, after). An import or an audit's
    fold makes hundreds of thousands of young objects and keeps many of them (a replay's
    issues, an import's rows), none in a cycle; the collector would scan them again and again
    for nothing (in a replay about a tenth of its time). Reference counting frees everything
    as before."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
