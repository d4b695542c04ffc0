"""The backfill's list-at-a-time paths give exactly what the one-at-a-time ones give:
``accounting.advance``, the decoding of raw samples and the store's bucket rows;
anything unusual is left to the one-at-a-time path (and its errors)."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import pytest

from slo_exporter import accounting, prometheus
from slo_exporter.accounting import REBASELINE, _advance_loop, _advance_plain, advance
from slo_exporter.store import SQLiteStore

Sample = tuple[float, float]


def _series(rng: random.Random) -> tuple[list[Sample], Sample | None]:
    """A counter with resets, sometimes a repeat, a step back, a bad value or a jump."""
    ts, value, out = 1_000.0, rng.uniform(0, 50), []
    for _ in range(rng.randint(0, 12)):
        ts += rng.choice((15.0, 30.0, 60.0, 0.5))
        value = rng.uniform(0, 5) if rng.random() < 0.1 else value + rng.uniform(0, 20)
        out.append((ts, value))
    roll = rng.random()
    if out and roll < 0.1:
        out.insert(rng.randrange(len(out)), out[rng.randrange(len(out))])  # repeat, step back
    elif out and roll < 0.2:
        i = rng.randrange(len(out))
        out[i] = (out[i][0], rng.choice((math.nan, math.inf, -1.0, 1e15)))
    prev: Sample | None = None
    if out and rng.random() < 0.6:
        pick = rng.choice(out)
        prev = (pick[0] + rng.choice((-1.0, 0.0, 1.0)),
                REBASELINE if rng.random() < 0.1 else pick[1])
    return out, prev


def _same(a: object, b: object) -> bool:
    return repr(a) == repr(b)  # NaN-safe: equal texts


def test_plain_path_matches_the_loop_on_random_series() -> None:
    """2,000 random series: whenever the list path answers, it equals the loop's answer,
    and advance() always equals the loop's answer."""
    rng = random.Random(7)
    answered = 0
    for _ in range(2_000):
        samples, prev = _series(rng)
        loop = _advance_loop(samples, prev, 1e12)
        plain = _advance_plain(samples, prev, 1e12)
        if plain is not None:
            answered += 1
            assert _same(plain, loop), (samples, prev)
        assert _same(advance(samples, prev, 1e12), loop), (samples, prev)
    assert answered > 1_000  # the common case takes the list path


def test_one_new_sample_matches_the_loop() -> None:
    """A steady read's one sample after a known last one, 2,000 random cases (later,
    the same instant, earlier; a reset, a bad value, a jump, after a rejection): the
    shortcut answers what the loop answers, or leaves it to the loop."""
    rng = random.Random(11)
    for _ in range(2_000):
        prev = (1_000.0, REBASELINE if rng.random() < 0.05 else rng.uniform(0, 100))
        ts = prev[0] + rng.choice((-15.0, 0.0, 0.001, 15.0, 60.0))
        value = rng.choice((rng.uniform(0, 200), rng.uniform(0, 5), math.nan, math.inf,
                            -2.0, 5e12))
        loop = _advance_loop([(ts, value)], prev, 1e12)
        plain = _advance_plain([(ts, value)], prev, 1e12)
        assert plain is None or _same(plain, loop), (ts, value, prev)
        assert _same(advance([(ts, value)], prev, 1e12), loop), (ts, value, prev)


@pytest.mark.parametrize(("samples", "prev"), [
    ([(60.0, 1.0), (30.0, 2.0)], None),                 # out of order
    ([(60.0, 1.0), (60.0, 2.0)], None),                 # repeated timestamp
    ([(60.0, 1.0), (120.0, math.nan)], None),           # not finite
    ([(60.0, 1.0), (120.0, -3.0)], None),               # negative
    ([(60.0, 1.0), (120.0, 2e12)], None),               # increase above the bound
    ([(60.0, 1.0)], (0.0, REBASELINE)),                 # after a rejected sample
])
def test_unusual_series_go_to_the_loop(samples: list[Sample], prev: Sample | None) -> None:
    """Anything the loop would skip or reject one sample at a time is left to it."""
    assert _advance_plain(samples, prev, 1e12) is None


def test_plain_path_by_hand() -> None:
    """prev (60, 10); samples 60 (repeat, skipped), 120 -> 15 (+5), 180 -> 3 (reset: +3):
    increases [(120, 5), (180, 3)], last (180, 3), step 60."""
    found = _advance_plain([(60.0, 10.0), (120.0, 15.0), (180.0, 3.0)], (60.0, 10.0), 1e12)
    assert found is not None
    assert found.increases == [(120.0, 5.0), (180.0, 3.0)]
    assert found.last == (180.0, 3.0)
    assert found.step == 60.0
    assert found.rejected == []


def test_decode_of_a_series_at_a_time_matches_pair_by_pair() -> None:
    """Whole-series decoding (12 pairs: long enough for it) gives the pairs _sample gives,
    NaN and infinities included."""
    pairs: list[Any] = [[1_700_000_000, "1"], [1_700_000_000.5, "2.5"], [1_700_000_001, "NaN"],
                        [1_700_000_002, "+Inf"], [1_700_000_003, "-Inf"], [1_700_000_004, "1e+21"]]
    pairs *= 2
    assert len(pairs) >= prometheus._WHOLE_SERIES_FROM
    assert _same(prometheus._samples(pairs), tuple(prometheus._sample(p) for p in pairs))


def test_decode_of_random_series_matches_pair_by_pair() -> None:
    """1,000 random series of 0-14 pairs (short ones decoded pair by pair, long ones a
    series at a time), some with a bad pair: the same samples as _sample of each pair,
    or the same error."""
    rng = random.Random(13)
    good: list[Any] = [[1_700_000_000, "1"], [1_700_000_000.5, "2.5"], [1.0, "NaN"],
                       [2, "+Inf"], [3.25, "-1e+21"]]
    bad: list[Any] = [[True, "1"], [math.inf, "1"], [1.0, 1], [1.0, "1_000"], [1.0, "one"],
                      [1.0, "1", 2], (1.0, "1")]
    for _ in range(1_000):
        pairs = [rng.choice(good) for _ in range(rng.randrange(15))]
        if pairs and rng.random() < 0.3:
            pairs[rng.randrange(len(pairs))] = rng.choice(bad)
        try:
            want: Any = tuple(prometheus._sample(p) for p in pairs)
        except (TypeError, ValueError) as exc:
            want = repr(exc)
        try:
            got: Any = prometheus._samples(pairs)
        except (TypeError, ValueError) as exc:
            got = repr(exc)
        assert _same(got, want), pairs


@pytest.mark.parametrize(("pair", "why"), [
    ([True, "1"], "not a number"),
    ([math.inf, "1"], "not a number"),
    ([1.0, 1], "not a Prometheus float string"),
    ([1.0, "1_000"], "not a Prometheus float string"),
    ([1.0, "one"], "could not convert"),
    ([1.0, "1", 2], "too many values"),
])
def test_decode_of_a_bad_pair_still_says_what_is_wrong(pair: list[Any], why: str) -> None:
    """One bad pair among good ones (of a series long enough to be decoded whole) sends
    the series pair by pair, to the same error."""
    with pytest.raises((TypeError, ValueError), match=why):
        prometheus._samples([[1.0, "1"], pair, *([[3.0, "3"]] * prometheus._WHOLE_SERIES_FROM)])


def test_store_takes_bucket_starts_a_list_at_a_time_and_checks_the_rest(tmp_path: Path) -> None:
    """Deltas at bucket starts are stored as given; one off a start (61 s) is merged into
    its bucket (60 s: 1 + 2 = 3 good of 4 + 5 = 9); a NaN is still refused."""
    store = SQLiteStore(tmp_path, 60.0)
    try:
        store.commit("a/x", {60.0: (1.0, 4.0), 120.0: (0.0, 0.0)})
        store.commit("a/x", {61.0: (2.0, 5.0)})
        found = store.sums("a/x", 180.0, (120.0,))[120.0]
        assert (found.good, found.total) == (3.0, 9.0)
        with pytest.raises(ValueError, match="finite"):
            store.commit("a/x", {120.0: (math.nan, 1.0)})
    finally:
        store.close()


class _Answers:
    """A stand-in source giving every read the same fixed series."""

    def __init__(self, series: list[prometheus.Series]) -> None:
        self.series = series

    def raw_samples(self, selector: str, start: float, end: float) -> list[prometheus.Series]:
        return self.series

    def query(self, promql: str, at: float, *, stats: bool = False) -> Any:
        raise NotImplementedError(promql)

    def query_range(self, promql: str, start: float, end: float, step: float, *,
                    stats: bool = False) -> Any:
        raise NotImplementedError(promql)


def _steady(rng: random.Random) -> tuple[list[Sample], Sample | None]:
    """Mostly one new sample after a known state (the steady read), with its odd cases:
    a late or repeated sample, a reset, NaN, infinity, a negative value, a jump above
    the bound, a rebaselined or NaN state, no state; else a ``_series`` counter."""
    if rng.random() < 0.3:
        return _series(rng)
    prev = (1_000.0, rng.uniform(0, 50))
    ts = prev[0] + rng.choice((15.0, 0.0, -15.0, 0.001))
    value = rng.choice((prev[1] + rng.uniform(0, 20), rng.uniform(0, 5), math.nan, math.inf,
                        -1.0, prev[1] + 2e6, prev[1]))
    roll = rng.random()
    state: Sample | None = (prev if roll < 0.8 else None if roll < 0.9
                            else (prev[0], rng.choice((REBASELINE, math.nan))))
    return [(ts, value)], state


def _plain_split(client: accounting.Source, role: str, span: accounting._Span,
                 books: accounting._Books) -> dict[accounting.GroupKey, dict[float, float]]:
    """``_split_selector_events`` spelled out: ``advance`` on every series read."""
    events: dict[accounting.GroupKey, dict[float, float]] = {}
    for group, step in accounting._series_reads(
            client, role, "m", span, books,
            read=lambda samples, prev: advance(samples, prev, span.max_increase)):
        accounting.add_to_buckets(events.setdefault(group, {}), step.increases,
                                  span.resolution)
    return events


def test_split_selector_events_match_advance_on_random_reads() -> None:
    """500 random reads of 0-6 series (steady ones and their odd cases, some series in
    a dropped group): the events per group and bucket, the series state, the steps,
    the rejections and the groups learned are those of ``advance`` on every series."""
    rng = random.Random(5)
    for _ in range(500):
        series, state = [], {}
        for i in range(rng.randrange(7)):
            samples, prev = _steady(rng)
            labels = {"__name__": "m", "i": str(i), "g": rng.choice("abc")}
            series.append(prometheus.Series(labels, tuple(samples)))
            if prev is not None:
                state["total|" + prometheus.label_text(labels)] = prev
        span = accounting._Span(900.0, 1_100.0, 60.0, 0.0, 300.0, 1e6)
        client = _Answers(series)
        found = []
        for split in (accounting._split_selector_events, None):
            books = accounting._Books(
                dict(state), group_of=lambda labels: None if labels["g"] == "c"
                else (labels["g"],))
            events = (split(client, "total", "m", span, books) if split is not None
                      else _plain_split(client, "total", span, books))
            found.append((events, books.state, books.steps, books.rejected, books.owner))
        assert _same(found[0], found[1]), series


def _deltas_spelled_out(role: str, marked: dict[float, float],
                        total: dict[float, float]) -> dict[float, tuple[float, float]]:
    """(good, total) per bucket of either, 0.0 where one lacks it; good = total - bad."""
    out = {}
    for bucket in sorted(marked.keys() | total.keys()):
        m, t = marked.get(bucket, 0.0), total.get(bucket, 0.0)
        out[bucket] = (m if role == "good" else t - m, t)
    return out


def test_deltas_of_steady_reads_match_the_spelled_out_rule() -> None:
    """2,000 random pairs of 0-2 buckets each (the steady one-bucket case, a bucket only
    one side has, NaN counts): the deltas are those of the rule, in bucket order."""
    rng = random.Random(9)
    for _ in range(2_000):
        role = rng.choice(["good", "bad"])
        marked, total = ({rng.choice([0.0, 60.0, 120.0]): rng.choice([0.0, 1.5, math.nan, 7.0])
                          for _ in range(rng.choice([0, 1, 1, 2]))} for _ in range(2))
        want = _deltas_spelled_out(role, marked, total)
        got = accounting._deltas(role, marked, total)
        assert _same(got, want), (role, marked, total)
        assert list(got) == list(want)
