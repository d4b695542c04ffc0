"""Building frozen dataclasses without their generated ``__init__``.

A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``,
a call per field. ``builder(cls)`` gives a constructor that fills the new
object's ``__dict__`` at once: the same object as ``cls(**fields)`` (equal,
hashed and frozen alike), in about half the time. The price is memory: the
object then holds a dict of its own, about twice the size of the attributes
``__init__`` stores, so it is for objects that do not outlive the status
being computed (the window sums of ``store.windows``), never for what a
snapshot keeps.

A slotted frozen dataclass has no such price: ``slotted(cls)`` gives a
constructor with the signature of ``cls`` (the same names and defaults) that
stores each field through its slot's own setter instead of looking it up by
name in ``object.__setattr__``, about twice as fast, and the object is the
one ``cls`` makes, slots and all. It is for what every status builds and a
snapshot keeps (window values, alert states, period figures).

Owns these shortcuts only. Must not be used where ``cls(**fields)`` would do
more than store the fields: a class with ``__post_init__`` (or, for
``builder``, ``__slots__``; for ``slotted``, none) gets ``cls`` itself back.
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


def slotted(cls: type[_T]) -> Callable[..., _T]:
    """A constructor of the slotted frozen dataclass ``cls`` taking what ``cls`` takes
    (positional or keyword, the same defaults), storing each field by its slot's
    setter; ``cls`` itself for any other class."""
    if (not dataclasses.is_dataclass(cls) or "__slots__" not in cls.__dict__
            or hasattr(cls, "__post_init__")):
        return cls
    fields = dataclasses.fields(cls)
    if any(f.default_factory is not dataclasses.MISSING or not f.init or f.kw_only is True
           for f in fields):
        return cls
    # Generated like the dataclass's own __init__ (one parameter per field, so a
    # call binds its arguments as any function's does), with the slot setters bound.
    scope: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    params, body = [], []
    for i, f in enumerate(fields):
        scope[f"_set{i}"] = cls.__dict__[f.name].__set__
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            scope[f"_default{i}"] = f.default
            params.append(f"{f.name}=_default{i}")
        body.append(f"    _set{i}(obj, {f.name})")
    source = (f"def build({', '.join(params)}):\n    obj = _new(_cls)\n"
              + "\n".join(body) + "\n    return obj\n")
    exec(source, scope)  # noqa: S102 - the source is built from the class's own field names
    build: Callable[..., _T] = scope["build"]
    build.__qualname__ = build.__name__ = f"slotted_{cls.__name__}"
    return build
