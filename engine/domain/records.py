"""Frozen, slotted dataclasses made slot by slot: what their `__init__` does (which reaches
each slot through `object.__setattr__`), in about a quarter of the time. For the hot paths
that make one record per row or per event: a move, the import, the audit's fold, the store's
mappers.

A frozen class's slots can only be set through their descriptors (its `__setattr__`
refuses), one call each. So each class gets a twin: a plain class with the same slots, in the
same order, whose `__init__` (written once, like a dataclass's) unpacks the values and stores
them as ordinary attribute stores; the record made is then given its class (a twin has the
layout of its class, so Python allows it). A class whose layout a twin cannot copy is made
slot by slot through the descriptors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")


def slotted(cls: type[T]) -> Callable[[Sequence[Any]], T]:
    """`cls(*values)` (every field, in the dataclass's order) for a frozen, slotted dataclass;
    a class with a `__post_init__` is made by its `__init__`. Too few or too many values:
    ValueError."""
    if hasattr(cls, "__post_init__"):
        return lambda values: cls(*values)
    names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
    return _by_twin(cls, names) or _by_descriptors(cls, names)


def _by_twin(cls: type[T], names: tuple[str, ...]) -> Callable[[Sequence[Any]], T] | None:
    """The maker by a twin class, or None when the class's layout is not its fields' slots."""
    if cls.__bases__ != (object,) or tuple(getattr(cls, "__slots__", ())) != names:
        return None
    values = ", ".join(f"v{k}" for k in range(len(names)))
    source = (f"def __init__(self, values):\n    {values}{',' if len(names) == 1 else ''}"
              " = values\n"
              + "".join(f"    self.{name} = v{k}\n" for k, name in enumerate(names)))
    space: dict[str, Any] = {}
    exec(source, space)  # the text is made of the dataclass's own field names
    twin = type(f"{cls.__name__}Slots", (), {"__slots__": names, "__init__": space["__init__"],
                                              "__module__": cls.__module__})
    set_class = object.__setattr__

    def make(values: Sequence[Any]) -> T:
        made = twin(values)
        set_class(made, "__class__", cls)
        return made  # type: ignore[no-any-return]

    try:
        make([None] * len(names))
    except TypeError:  # a layout Python does not let the twin take on
        return None
    return make


def _by_descriptors(cls: type[T], names: tuple[str, ...]) -> Callable[[Sequence[Any]], T]:
    put = [getattr(cls, name).__set__ for name in names]
    new = object.__new__

    def make(values: Sequence[Any]) -> T:
        made = new(cls)
        for set_slot, value in zip(put, values, strict=True):
            set_slot(made, value)
        return made

    return make
