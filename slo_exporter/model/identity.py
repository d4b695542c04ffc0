"""The identity of an SLO: what its stored history belongs to.

History belongs to the SLO's name (service and SLO name), never to a
``repr()`` of its definition. What can change without losing history is
decided here, by ``source_fingerprint``: it covers only what defines which
events are counted, written out field by field, so adding a field to a class
in an upgrade, or changing a probe's interval, labels or objective, keeps
the events.

A grouped SLO (``group_by``) is one definition with one instance per value
set of its group labels; each instance's history belongs to the name plus
those values: ``service/slo{route="/a"}``, labels sorted by name and values
escaped as in PromQL, so ``SLOId.parse`` gives back the same identity. An
ungrouped SLO's key is ``service/slo`` exactly, as before grouping existed.

Must not import the config reader or touch the store.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

#: one ``name="value"`` pair of a group, value escaped as in PromQL
_PAIR = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


@dataclass(frozen=True, order=True)
class SLOId:
    """``service/slo``: the key of an SLO's history in the event store.

    ``group`` holds the ``(label, value)`` pairs of one instance of a
    grouped SLO, sorted by label; empty for an ungrouped SLO.
    """

    service: str
    name: str
    group: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, service: str, name: str, group: Mapping[str, str] | None = None) -> SLOId:
        """The identity of ``service/slo``, of one group instance when ``group`` is given."""
        return cls(service, name, tuple(sorted((group or {}).items())))

    @classmethod
    def parse(cls, key: str) -> SLOId:
        """The identity a store key (``service/slo`` or ``service/slo{a="1"}``) names.

        Text after the name that is not a well-formed label set stays part
        of the name, so any key written before grouping existed reads back
        as it was.
        """
        service, _, name = key.partition("/")
        brace = name.find("{")
        if brace > 0 and name.endswith("}"):
            group = _parse_group(name[brace + 1:-1])
            if group:
                return cls(service, name[:brace], group)
        return cls(service, name)

    @property
    def key(self) -> str:
        return f"{self.service}/{self.name}{group_text(self.group)}"

    @property
    def definition(self) -> SLOId:
        """The SLO definition an instance belongs to (itself when ungrouped)."""
        return SLOId(self.service, self.name) if self.group else self

    @property
    def log_fields(self) -> dict[str, str]:
        """The ``service`` and ``slo`` fields every log event about an SLO carries,
        and ``group`` (``{route="/a"}``) for a group instance."""
        fields = {"service": self.service, "slo": self.name}
        if self.group:
            fields["group"] = group_text(self.group)
        return fields

    def __str__(self) -> str:
        return self.key


def group_text(group: tuple[tuple[str, str], ...] | Mapping[str, str]) -> str:
    """``{a="1",b="2"}`` for a group's label values, '' for no group.

    Labels sorted by name, values escaped as in PromQL (backslash, double
    quote, newline), so equal groups always give equal text.
    """
    pairs = sorted(group.items() if isinstance(group, Mapping) else group)
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _parse_group(text: str) -> tuple[tuple[str, str], ...]:
    """The pairs of ``a="1",b="2"``; empty unless the whole text is such a list."""
    pairs: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        match = _PAIR.match(text, pos)
        if match is None:
            return ()
        value = re.sub(r"\\.", lambda m: _UNESCAPE.get(m.group(0), m.group(0)), match.group(2))
        pairs.append((match.group(1), value))
        pos = match.end()
        if pos < len(text):
            if text[pos] != ",":
                return ()
            pos += 1
    if group_text(tuple(pairs)) != "{" + text + "}":
        return ()  # not the canonical text this module writes
    return tuple(pairs)


def fingerprint(*parts: object) -> str:
    """A short stable hash of the given parts, in order.

    Parts are joined with a separator that cannot occur in their text form
    (NUL), so ("a", "bc") and ("ab", "c") differ.
    """
    text = "\x00".join(str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]
