"""The compact encoding of one SLO's buckets of one UTC day: a block.

A block is the ``data`` blob of a row of the SQLite store's ``block`` table.
It holds the stored buckets of one day as columns, so a 30-day SLO at
1-minute buckets costs about a byte per bucket instead of a row each::

    header  magic "SLB", version 1, layout, resolution (float64),
            bucket count n, first slot (the bucket's index within the day)
    zlib    slots: nothing when the n buckets are consecutive, else n
            uint16 (or uint32) slot numbers;
            values: n totals and n bads (total - good) as int32 when every
            count is a whole number in range, else n totals and n goods as
            float64

Every column is stored byte plane by byte plane (all first bytes, then all
second bytes, ...): counts of a few hundred differ only in their low byte,
so the high planes are runs of the same byte that zlib all but removes.
Decoding is ``zlib`` plus slice assignments and ``array.frombytes``; no
Python loop runs per bucket.

``decode`` refuses anything it did not write (a foreign, truncated or
damaged blob, a zlib bomb) with ``BlockError``; the store names the SLO and
the day. This module must not touch a database, know SLO keys or read a
clock.
"""

from __future__ import annotations

import operator
import struct
import sys
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Sequence
from itertools import repeat
from typing import cast

from slo_exporter.store.protocol import Bucket

DAY = 86400
VERSION = 1
_MAGIC = b"SLB"
_HEADER = struct.Struct("<3sBBdII")  # magic, version, layout, resolution, n, first slot

# layout bits
_FLOAT = 0x01  # totals and goods as float64 (else totals and bads as int32)
_SLOTS_MASK = 0x06
_RUN = 0x00  # slots first .. first + n - 1
_LIST16 = 0x02  # n uint16 slot numbers
_LIST32 = 0x04  # n uint32 slot numbers

_LEVEL = 6  # level 9 gains under 0.1 % on counts and costs twice the time
_BIG_ENDIAN = sys.byteorder == "big"


class BlockError(ValueError):
    """A blob that is not a block this release wrote for this resolution."""


def slots_per_day(resolution: float) -> int | None:
    """Buckets in a UTC day, or None when buckets do not tile days exactly (no blocks then)."""
    if resolution < 1 or not float(resolution).is_integer() or DAY % int(resolution):
        return None
    return DAY // int(resolution)


class Block:
    """The decoded buckets of one day: slot numbers, totals and goods (or bads).

    ``slots`` is a ``range`` for consecutive buckets, else an array; the
    value columns stay in their stored type so that sums of whole numbers
    are exact integer sums.
    """

    __slots__ = ("_second", "integral", "slots", "totals")

    def __init__(
        self,
        slots: range | array[int],
        totals: array[int] | array[float],
        second: array[int] | array[float],
        *,
        integral: bool,
    ) -> None:
        self.slots = slots
        self.totals = totals
        self._second = second  # bads when integral, else goods
        self.integral = integral

    def __len__(self) -> int:
        return len(self.slots)

    def _index(self, slot: int) -> int:
        slots = self.slots
        if isinstance(slots, range):
            return min(max(slot - slots.start, 0), len(slots))
        return bisect_left(slots, slot)

    def sum(self, lo: int, hi: int) -> tuple[float, float]:
        """``(good, total)`` of the buckets whose slot lies in ``[lo, hi)``."""
        i, j = self._index(lo), self._index(hi)
        if j <= i:
            return 0.0, 0.0
        total = sum(self.totals[i:j])
        second = sum(self._second[i:j])
        good = total - second if self.integral else second
        return float(good), float(total)

    def goods(self) -> array[float]:
        if self.integral:
            return array("d", map(operator.sub, self.totals, self._second))
        return array("d", self._second)

    def rows(
        self, day_start: float, resolution: float, lo: int = 0, hi: int | None = None
    ) -> list[Bucket]:
        """``(start, good, total)`` of the buckets whose slot lies in ``[lo, hi)`` (all
        from ``lo`` on when ``hi`` is None), oldest first."""
        i = self._index(lo)
        j = len(self.slots) if hi is None else self._index(hi)
        if j <= i:
            return []
        starts = map(operator.add, repeat(day_start), map(operator.mul, self.slots[i:j],
                                                          repeat(resolution)))
        goods = self.goods()[i:j]
        totals = array("d", self.totals[i:j])
        return list(zip(starts, goods, totals, strict=True))


def encode(
    resolution: float,
    slots: Sequence[int],
    goods: Sequence[float],
    totals: Sequence[float],
) -> bytes:
    """The blob of the buckets at ``slots`` (strictly increasing) with their counts."""
    n = len(slots)
    if not n or len(goods) != n or len(totals) != n:
        raise ValueError("a block holds at least one bucket and a count of each kind per bucket")
    first = slots[0]
    if slots[-1] - first == n - 1:
        layout, slot_bytes = _RUN, b""
    elif slots[-1] < 2**16:
        layout, slot_bytes = _LIST16, _planes(array("H", slots), 2)
    else:
        layout, slot_bytes = _LIST32, _planes(array("I", slots), 4)
    values = _int_columns(goods, totals)
    if values is None:
        layout |= _FLOAT
        values = _planes(array("d", totals), 8) + _planes(array("d", goods), 8)
    header = _HEADER.pack(_MAGIC, VERSION, layout, resolution, n, first)
    return header + zlib.compress(slot_bytes + values, _LEVEL)


def _int_columns(goods: Sequence[float], totals: Sequence[float]) -> bytes | None:
    """Totals and bads as int32 planes, or None when a count is fractional or out of range."""
    total_f, good_f = array("d", totals), array("d", goods)
    # is_integer is False for fractions, infinities and NaN alike.
    if not (all(map(float.is_integer, total_f)) and all(map(float.is_integer, good_f))):
        return None
    try:
        t = array("i", map(int, total_f))
        # Exact: with the total within int32, a bad within int32 means a good
        # below 2**53, where float subtraction of whole numbers is exact.
        b = array("i", map(int, map(operator.sub, total_f, good_f)))
    except OverflowError:
        return None
    return _planes(t, 4) + _planes(b, 4)


def decode(data: bytes, resolution: float) -> Block:
    """The buckets of a blob ``encode`` wrote at ``resolution``; ``BlockError`` otherwise."""
    per_day = slots_per_day(resolution)
    if per_day is None:
        raise BlockError(f"buckets of {resolution:g} s are not stored in day blocks")
    if not isinstance(data, bytes):
        raise BlockError(f"a {type(data).__name__} value, not a blob")
    if len(data) < _HEADER.size:
        raise BlockError(f"{len(data)} bytes is shorter than a block header")
    magic, version, layout, res, n, first = _HEADER.unpack_from(data)
    if magic != _MAGIC:
        raise BlockError("not a block (wrong magic bytes)")
    if version != VERSION:
        raise BlockError(f"block version {version} is not {VERSION}")
    if res != resolution:
        raise BlockError(f"block of {res:g} s buckets, not {resolution:g} s")
    slot_kind = layout & _SLOTS_MASK
    if layout & ~(_FLOAT | _SLOTS_MASK) or slot_kind not in (_RUN, _LIST16, _LIST32):
        raise BlockError(f"unknown block layout {layout:#x}")
    if not 1 <= n <= per_day or first >= per_day:
        raise BlockError(f"{n} buckets from slot {first} do not fit a day of {per_day}")
    slot_width = {_RUN: 0, _LIST16: 2, _LIST32: 4}[slot_kind]
    value_width = 8 if layout & _FLOAT else 4
    size = n * (slot_width + 2 * value_width)
    raw = _inflate(data[_HEADER.size :], size)

    slots: range | array[int]
    if slot_kind == _RUN:
        if first + n > per_day:
            raise BlockError(f"{n} buckets from slot {first} do not fit a day of {per_day}")
        slots = range(first, first + n)
    else:
        slots = cast("array[int]", _unplanes("H" if slot_width == 2 else "I",
                                             raw[: n * slot_width]))
        if slots[0] != first or slots[-1] >= per_day or not all(
            map(operator.lt, slots, slots[1:])
        ):
            raise BlockError("slot numbers are not increasing within the day")
    kind = "d" if layout & _FLOAT else "i"
    at = n * slot_width
    totals = _unplanes(kind, raw[at : at + n * value_width])
    second = _unplanes(kind, raw[at + n * value_width :])
    return Block(slots, totals, second, integral=not layout & _FLOAT)


def _inflate(payload: bytes, size: int) -> bytes:
    """Exactly ``size`` bytes from the zlib stream, never more (a bomb stops at size + 1)."""
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(payload, size + 1)
    except zlib.error as exc:
        raise BlockError(f"damaged block data ({exc})") from exc
    if len(raw) != size or not inflater.eof or inflater.unused_data:
        raise BlockError(f"block data of {len(raw)} bytes, expected {size}")
    return raw


def _planes(values: array[int] | array[float], width: int) -> bytes:
    """The little-endian bytes of ``values``, first bytes first, then second bytes, ..."""
    if _BIG_ENDIAN:
        values = array(values.typecode, values)
        values.byteswap()
    raw = values.tobytes()
    return b"".join(raw[i::width] for i in range(width))


def _unplanes(typecode: str, planes: bytes) -> array[int] | array[float]:
    out: array[int] | array[float] = array(typecode)
    width = out.itemsize
    n = len(planes) // width
    raw = bytearray(len(planes))
    for i in range(width):  # one slice assignment per byte plane
        raw[i::width] = planes[i * n : (i + 1) * n]
    out.frombytes(bytes(raw))
    if _BIG_ENDIAN:
        out.byteswap()
    return out
