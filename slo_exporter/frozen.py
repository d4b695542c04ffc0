"""Building short-lived frozen dataclasses without their generated ``__init__``.

A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``,
a call per field. ``builder(cls)`` gives a constructor that fills the new
object's ``__dict__`` at once: the same object as ``cls(**fields)`` (equal,
hashed and frozen alike), in about half the time. The price is memory: the
object then holds a dict of its own, about twice the size of the attributes
``__init__`` stores, so it is for objects that do not outlive the status
being computed (the window sums of ``store.windows``), never for what a
snapshot keeps.

Owns that shortcut only. Must not be used where ``cls(**fields)`` would do more
than store the fields: a class with ``__post_init__`` or ``__slots__`` gets
``cls`` itself back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

_T = TypeVar("_T")


def builder(cls: type[_T]) -> Callable[..., _T]:
    """A constructor of the frozen dataclass ``cls`` by keyword fields; a field left out
    takes its default, one without a default left out raises ``TypeError`` as ``cls``
    would. The names are not checked one by one: callers pass fields only."""
    if (not dataclasses.is_dataclass(cls) or "__slots__" in cls.__dict__
            or hasattr(cls, "__post_init__")):
        return cls
    fields = dataclasses.fields(cls)
    if any(f.default_factory is not dataclasses.MISSING or not f.init for f in fields):
        return cls
    defaults = {f.name: f.default for f in fields if f.default is not dataclasses.MISSING}
    count = len(fields)
    new = object.__new__

    def build(**values: Any) -> _T:
        obj = new(cls)
        state = obj.__dict__
        state.update(values)
        if len(state) != count:  # a field left out (or a name that is none)
            for name, default in defaults.items():
                state.setdefault(name, default)
        if len(state) != count:
            names = {f.name for f in fields}
            raise TypeError(f"{cls.__name__}: missing {sorted(names - state.keys())}, "
                            f"unknown {sorted(state.keys() - names)}")
        return obj

    return build
