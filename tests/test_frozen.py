"""``frozen.slotted``: the same frozen objects as the dataclass's own
constructor."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from slo_exporter.figures import PeriodFigures
from slo_exporter.frozen import slotted
from slo_exporter.snapshot import AlertState, BudgetHistory, Points, WindowValues


def test_classes_it_cannot_build_come_back_as_they_are() -> None:
    """A class without slots, or with ``__post_init__``, is its own constructor."""

    @dataclass(frozen=True)
    class Plain:
        a: int

    @dataclass(frozen=True, slots=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            if self.a < 0:
                raise ValueError("negative")

    assert slotted(Plain) is Plain
    assert slotted(Checked) is Checked


def test_a_slotted_object_equals_hashes_reprs_and_freezes_as_the_constructed_one() -> None:
    """``slotted``: by position or keyword, an object of the class itself, with slots and no
    dict, equal to (hashed, printed as) the constructor's; assigning a field raises."""
    fields = {"severity": "page", "long_window": 3600.0, "short_window": 300.0,
              "factor": 14.4, "long_burn_rate": -0.0, "short_burn_rate": float("nan"),
              "firing": False, "hold": 60.0, "since": 5.0, "window": None}
    made = AlertState(**fields)  # type: ignore[arg-type]
    for built in (slotted(AlertState)(**fields), slotted(AlertState)(*fields.values())):
        assert type(built) is AlertState
        assert not hasattr(built, "__dict__")
        assert repr(built) == repr(made)  # -0.0 and NaN alike
        with pytest.raises(dataclasses.FrozenInstanceError):
            built.firing = True  # type: ignore[misc]
    same = dict(fields, short_burn_rate=1.0)
    assert slotted(AlertState)(**same) == AlertState(**same)  # type: ignore[arg-type]
    assert hash(slotted(AlertState)(**same)) == hash(AlertState(**same))  # type: ignore[arg-type]


def test_a_slotted_constructor_takes_the_defaults_and_refuses_what_the_class_refuses() -> None:
    """Defaults fill fields left out; a required field left out, or an unknown one, is a
    ``TypeError`` as with the class."""
    build = slotted(AlertState)
    assert build("ticket", 1.0, 1.0, 1.0, None, None, False) == AlertState(
        "ticket", 1.0, 1.0, 1.0, None, None, False)
    with pytest.raises(TypeError):
        build("ticket", 1.0, 1.0, 1.0, None, None)
    with pytest.raises(TypeError):
        slotted(WindowValues)(window=60.0, good=1.0, total=1.0, sli=1.0, burn_rate=1.0,
                              bad=0.0)
    assert type(slotted(PeriodFigures)) is not type  # the figures' many fields too


def test_a_field_may_bear_any_name_the_generated_constructor_uses() -> None:
    """Fields named ``obj``, ``_cls``, ``_new`` or ``_set0`` (names the generated code once
    used for itself) hold the values given: ``Named(1, 2, 3, 4)`` has ``obj == 1`` and
    ``_set0 == 4``, as the class's own constructor makes it."""

    @dataclass(frozen=True, slots=True)
    class Named:
        obj: int
        _cls: int
        _new: int
        _set0: int = 0

    built = slotted(Named)(1, 2, 3, 4)
    assert built == Named(1, 2, 3, 4)
    assert (built.obj, built._set0) == (1, 4)


def test_classes_whose_slots_it_cannot_reach_come_back_as_they_are() -> None:
    """A field inherited from a base class (its slot lives there) or named with the
    generated code's own prefix: the class is its own constructor."""

    @dataclass(frozen=True, slots=True)
    class Base:
        a: int

    @dataclass(frozen=True, slots=True)
    class Derived(Base):
        b: int

    @dataclass(frozen=True, slots=True)
    class Prefixed:
        _slotted_obj: int

    assert slotted(Derived) is Derived
    assert slotted(Derived)(1, 2) == Derived(1, 2)
    assert slotted(Prefixed) is Prefixed


def test_skip_post_init_builds_a_post_init_class_without_running_it() -> None:
    """With ``skip_post_init`` a class with ``__post_init__`` gets a slot constructor that
    does not run it: a budget history given packed points equals the one the class
    builds (its ``__post_init__`` keeps packed points as they are), sharing them."""
    points = Points([(60.0, 0.5), (120.0, 0.25)])
    build = slotted(BudgetHistory, skip_post_init=True)
    assert build is not BudgetHistory
    made = build(points, (130.0, 0.2), 120.0, 0.0, 60.0)
    plain = BudgetHistory(past=points, latest=(130.0, 0.2), grid_end=120.0, first=0.0,
                          step=60.0)
    assert type(made) is BudgetHistory
    assert made == plain
    assert repr(made) == repr(plain)
    assert made.past is points
    assert plain.past is points
