"""Building frozen dataclasses without their generated ``__init__``.

A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``,
which looks the field up by name, a call per field. ``slotted(cls)`` gives a
constructor with the signature of ``cls`` (the same names and defaults) that
stores each field through its slot's own setter instead of looking it up by
name in ``object.__setattr__``, about twice as fast, and the object is the
one ``cls`` makes, slots and all. It is for what every status builds and a
snapshot keeps (window values, alert states, period figures).

Owns this shortcut only. Must not be used where ``cls(**fields)`` would do
more than store the fields: a class with ``__post_init__`` gets ``cls``
itself back, unless the caller passes ``skip_post_init`` for fields it gives
only as ``__post_init__`` would leave them (a budget history's points
already packed); so does a class without ``__slots__`` or with a field whose
slot a base class holds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

_T = TypeVar("_T")

#: the prefix of every name the generated constructor uses besides the fields'
_OWN = "_slotted_"


def slotted(cls: type[_T], *, skip_post_init: bool = False) -> Callable[..., _T]:
    """A constructor of the slotted frozen dataclass ``cls`` taking what ``cls`` takes
    (positional or keyword, the same defaults), storing each field by its slot's
    setter; ``cls`` itself for any other class. ``skip_post_init``: the constructor
    does not run ``cls.__post_init__`` (the caller's fields need none)."""
    if (not dataclasses.is_dataclass(cls) or "__slots__" not in cls.__dict__
            or (hasattr(cls, "__post_init__") and not skip_post_init)):
        return cls
    fields = dataclasses.fields(cls)
    if any(f.default_factory is not dataclasses.MISSING or not f.init or f.kw_only is True
           or f.name not in cls.__dict__ or f.name.startswith(_OWN) for f in fields):
        # a field of a base class has its slot there; a field named with the prefix
        # of the names the code below generates would be shadowed by one of them
        return cls
    # Generated like the dataclass's own __init__ (one parameter per field, so a
    # call binds its arguments as any function's does), with the slot setters bound.
    scope: dict[str, Any] = {f"{_OWN}new": object.__new__, f"{_OWN}cls": cls}
    params, body = [], []
    for i, f in enumerate(fields):
        scope[f"{_OWN}set{i}"] = cls.__dict__[f.name].__set__
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            scope[f"{_OWN}default{i}"] = f.default
            params.append(f"{f.name}={_OWN}default{i}")
        body.append(f"    {_OWN}set{i}({_OWN}obj, {f.name})")
    source = (f"def build({', '.join(params)}):\n    {_OWN}obj = {_OWN}new({_OWN}cls)\n"
              + "\n".join(body) + f"\n    return {_OWN}obj\n")
    exec(source, scope)  # noqa: S102 - the source is built from the class's own field names
    build: Callable[..., _T] = scope["build"]
    build.__qualname__ = build.__name__ = f"slotted_{cls.__name__}"
    return build
