"""``frozen.builder``: the same frozen objects as the dataclass's own constructor."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from slo_exporter.frozen import builder
from slo_exporter.snapshot import AlertState, WindowValues


def test_a_built_object_equals_hashes_and_freezes_as_the_constructed_one() -> None:
    """Every field given: equal, the same hash and repr, and assigning a field raises."""
    fields = {"severity": "page", "long_window": 3600.0, "short_window": 300.0,
              "factor": 14.4, "long_burn_rate": 20.0, "short_burn_rate": None,
              "firing": False, "hold": 60.0, "since": 5.0, "window": None}
    built, made = builder(AlertState)(**fields), AlertState(**fields)  # type: ignore[arg-type]
    assert type(built) is AlertState
    assert built == made
    assert hash(built) == hash(made)
    assert repr(built) == repr(made)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.firing = True  # type: ignore[misc]


def test_a_field_left_out_takes_its_default() -> None:
    """AlertState's ``hold``, ``since`` and ``window`` default to 0.0, None and None."""
    built = builder(AlertState)(severity="ticket", long_window=1.0, short_window=1.0,
                                factor=1.0, long_burn_rate=None, short_burn_rate=None,
                                firing=False)
    assert (built.hold, built.since, built.window) == (0.0, None, None)


def test_a_required_field_left_out_raises_a_type_error() -> None:
    """WindowValues without ``burn_rate`` cannot be built, as with its constructor."""
    with pytest.raises(TypeError, match="burn_rate"):
        builder(WindowValues)(window=60.0, good=1.0, total=1.0, sli=1.0)


def test_classes_it_cannot_build_come_back_as_they_are() -> None:
    """A class with slots or ``__post_init__`` is its own constructor."""

    @dataclass(frozen=True, slots=True)
    class Slotted:
        a: int

    @dataclass(frozen=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            if self.a < 0:
                raise ValueError("negative")

    assert builder(Slotted) is Slotted
    assert builder(Checked) is Checked

