"""Specification of the day block encoding: every count comes back exactly, in the smallest
layout that holds it, and a blob it did not write is refused with BlockError."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo_exporter.store import blocks

RES = 60.0
PER_DAY = 1440


def roundtrip(slots: list[int], goods: list[float], totals: list[float]) -> blocks.Block:
    block = blocks.decode(blocks.encode(RES, slots, goods, totals), RES)
    assert list(block.slots) == slots
    assert list(block.goods()) == goods
    assert list(block.totals) == totals
    return block


def layout(data: bytes) -> int:
    return data[4]


def test_a_full_day_of_counts_is_a_run_of_int32() -> None:
    """1440 consecutive whole-number buckets store no slot numbers and integer columns."""
    slots = list(range(PER_DAY))
    totals = [float(100 + i % 7) for i in slots]
    goods = [t - (i % 50 == 0) for i, t in zip(slots, totals, strict=True)]
    data = blocks.encode(RES, slots, goods, totals)
    assert layout(data) == 0  # run of slots, int32 values
    block = roundtrip(slots, goods, totals)
    assert block.integral


def test_counts_cost_about_a_byte_per_bucket() -> None:
    """A day of ~500 events a minute with a few bad ones encodes in under 1.5 bytes a bucket."""
    slots = list(range(PER_DAY))
    totals = [float(480 + (i * 7919) % 41) for i in slots]  # spread like a Poisson rate of 500
    goods = [t - (i % 97 == 0) for i, t in zip(slots, totals, strict=True)]
    assert len(blocks.encode(RES, slots, goods, totals)) < 1.5 * PER_DAY


def test_gaps_store_slot_numbers() -> None:
    """Buckets with gaps between them keep their slots (uint16 within a day of minutes)."""
    slots = [0, 1, 5, 700, 1439]
    data = blocks.encode(RES, slots, [1.0] * 5, [2.0] * 5)
    assert layout(data) == 0x02
    roundtrip(slots, [1.0] * 5, [2.0] * 5)


def test_fractional_counts_use_float64() -> None:
    """A count that is not a whole number switches both columns to float64, exactly."""
    block = roundtrip([3, 4], [0.1, 2.0], [0.30000000000000004, 2.5])
    assert not block.integral


def test_counts_beyond_int32_use_float64() -> None:
    """A total of 2**31 does not fit int32; it is kept exactly as float64."""
    block = roundtrip([0], [2.0**31], [2.0**31 + 8.0])
    assert not block.integral
    assert block.sum(0, 1) == (2.0**31, 2.0**31 + 8.0)


def test_negative_goods_stay_exact() -> None:
    """A negative good delta (bad = total - good above total) is a whole number too."""
    block = roundtrip([0, 1], [-3.0, 5.0], [0.0, 5.0])
    assert block.integral
    assert block.sum(0, 2) == (2.0, 5.0)


def test_sum_covers_slots_in_the_half_open_range() -> None:
    """sum(2, 5) adds slots 2, 3 and 4: goods 2+3+4 = 9, totals 20+30+40 = 90."""
    slots = list(range(10))
    block = roundtrip(slots, [float(s) for s in slots], [10.0 * s for s in slots])
    assert block.sum(2, 5) == (9.0, 90.0)
    assert block.sum(-5, 0) == (0.0, 0.0)
    assert block.sum(9, 9999) == (9.0, 90.0)


def test_sum_of_sparse_slots_uses_their_numbers() -> None:
    """Slots 10 and 20 of [10, 20, 30]: sum(10, 21) = 1 + 2 goods and 10 + 20 totals."""
    block = roundtrip([10, 20, 30], [1.0, 2.0, 3.0], [10.0, 20.0, 30.0])
    assert block.sum(10, 21) == (3.0, 30.0)
    assert block.sum(11, 20) == (0.0, 0.0)


def test_rows_are_bucket_starts_of_the_day() -> None:
    """Slot 2 of the day starting at 86400 at 60 s buckets starts at 86520."""
    block = roundtrip([1, 2], [1.0, 2.0], [1.0, 3.0])
    assert block.rows(86400.0, RES) == [(86460.0, 1.0, 1.0), (86520.0, 2.0, 3.0)]
    assert block.rows(86400.0, RES, 2, 3) == [(86520.0, 2.0, 3.0)]


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.integers(0, PER_DAY - 1),
        st.tuples(
            st.one_of(st.integers(-(2**40), 2**40).map(float),
                      st.floats(-1e12, 1e12, allow_nan=False)),
            st.one_of(st.integers(0, 2**40).map(float), st.floats(0, 1e12, allow_nan=False)),
        ),
        min_size=1,
    )
)
def test_any_counts_come_back_exactly(buckets: dict[int, tuple[float, float]]) -> None:
    """Whatever the counts (whole, fractional, huge, negative), they come back bit for bit."""
    slots = sorted(buckets)
    roundtrip(slots, [buckets[s][0] for s in slots], [buckets[s][1] for s in slots])


def test_resolutions_that_do_not_tile_a_day_have_no_blocks() -> None:
    """Blocks exist only where whole buckets fill a UTC day."""
    assert blocks.slots_per_day(60.0) == 1440
    assert blocks.slots_per_day(7.0) is None
    assert blocks.slots_per_day(0.5) is None


# ------------------------------------------------------------- attacks

GOOD = blocks.encode(RES, list(range(100)), [1.0] * 100, [2.0] * 100)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "shorter than a block header"),
        (b"XYZ" + GOOD[3:], "wrong magic"),
        (GOOD[:3] + b"\x09" + GOOD[4:], "version 9"),
        (GOOD[:4] + b"\x40" + GOOD[5:], "unknown block layout"),
        (GOOD[:-5], "damaged block data|expected"),
        (GOOD[:30] + bytes([GOOD[30] ^ 0xFF]) + GOOD[31:], "damaged block data|expected"),
        (GOOD + b"trailing", "expected"),
    ],
    ids=["empty", "magic", "version", "layout", "truncated", "bit-flip", "trailing"],
)
def test_damaged_blobs_are_refused(data: bytes, reason: str) -> None:
    """Truncated, flipped, foreign or extended blobs raise BlockError, not zlib or struct errors."""
    with pytest.raises(blocks.BlockError, match=reason):
        blocks.decode(data, RES)


def test_a_block_of_another_resolution_is_refused() -> None:
    """A block written at 60 s buckets is not read as 300 s buckets."""
    with pytest.raises(blocks.BlockError, match="block of 60 s buckets, not 300 s"):
        blocks.decode(GOOD, 300.0)


def header(layout: int, n: int, first: int) -> bytes:
    return struct.pack("<3sBBdII", b"SLB", 1, layout, RES, n, first)


def test_a_zlib_bomb_stops_at_the_declared_size() -> None:
    """A stream inflating to 100 MB stops one byte past the size its header declares."""
    bomb = zlib.compress(bytes(100_000_000), 9)
    with pytest.raises(blocks.BlockError, match="expected 800"):
        blocks.decode(header(0, 100, 0) + bomb, RES)


def test_counts_that_overflow_the_day_are_refused() -> None:
    """2000 buckets, or a run past slot 1439, do not fit a day of 1440 minutes."""
    for n, first in ((2000, 0), (10, 1435)):
        payload = zlib.compress(bytes(n * 8))
        with pytest.raises(blocks.BlockError, match="do not fit a day"):
            blocks.decode(header(0, n, first) + payload, RES)


def test_slot_numbers_out_of_order_are_refused() -> None:
    """Slots [5, 3] (not increasing) are refused instead of summing the wrong buckets."""
    slots = struct.pack("<HH", 5, 3)
    planes = slots[0::2] + slots[1::2]
    payload = zlib.compress(planes + bytes(2 * 8))
    with pytest.raises(blocks.BlockError, match="not increasing"):
        blocks.decode(header(0x02, 2, 5) + payload, RES)
