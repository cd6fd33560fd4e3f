"""Frozen, slotted dataclasses made slot by slot: what their `__init__` does (which reaches
each slot through `object.__setattr__`), in about half the time. For the hot paths that make
one record per row or per event: a move, the import, the audit's fold, the store's mappers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")


def slotted(cls: type[T]) -> Callable[[Sequence[Any]], T]:
    """`cls(*values)` (every field, in the dataclass's order) for a frozen, slotted dataclass;
    a class with a `__post_init__` is made by its `__init__`."""
    if hasattr(cls, "__post_init__"):
        return lambda values: cls(*values)
    put = [getattr(cls, f.name).__set__ for f in fields(cls)]  # type: ignore[arg-type]
    new = object.__new__

    def make(values: Sequence[Any]) -> T:
        made = new(cls)
        for set_slot, value in zip(put, values, strict=True):
            set_slot(made, value)
        return made

    return make
