"""The identity of an SLO: what its stored history belongs to.

History belongs to the SLO's name (service and SLO name), never to a
``repr()`` of its definition. What can change without losing history is
decided here, by ``source_fingerprint``: it covers only what defines which
events are counted, written out field by field, so adding a field to a class
in an upgrade, or changing a probe's interval, labels or objective, keeps
the events.

Must not import the config reader or touch the store.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class SLOId:
    """``service/slo``: the key of an SLO's history in the event store."""

    service: str
    name: str

    @classmethod
    def parse(cls, key: str) -> SLOId:
        """The identity a store key (``service/slo``) names."""
        service, _, name = key.partition("/")
        return cls(service, name)

    @property
    def key(self) -> str:
        return f"{self.service}/{self.name}"

    @property
    def log_fields(self) -> dict[str, str]:
        """The ``service`` and ``slo`` fields every log event about an SLO carries."""
        return {"service": self.service, "slo": self.name}

    def __str__(self) -> str:
        return self.key


def fingerprint(*parts: object) -> str:
    """A short stable hash of the given parts, in order.

    Parts are joined with a separator that cannot occur in their text form
    (NUL), so ("a", "bc") and ("ab", "c") differ.
    """
    text = "\x00".join(str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]
