"""The shortcuts that keep period figures cheap on every cycle decide exactly as the plain
rules: the met test in floats far from the boundary, the cached local days, the lean
worst-day loop (compared with a sum per day done the plain way)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from slo_exporter import compliance
from slo_exporter.exclusions import excluded_spans
from slo_exporter.figures import WorstDay
from slo_exporter.model import SLO, MaintenanceWindow, ProbeSLI, RollingPeriod, TCPProbe
from slo_exporter.store import SQLiteStore

OBJECTIVES = st.sampled_from([0.9, 0.99, 0.995, 0.999, 0.9995, 0.99999, 0.95, 0.1])


def exact(good: float, total: float, objective: float) -> bool:
    """The plain rule: good / total >= objective, as exact fractions."""
    if not (math.isfinite(good) and math.isfinite(total)) or total <= 0:
        return False
    return Fraction(good) >= Fraction(total) * Fraction(repr(objective))


@given(total=st.integers(1, 10**12), objective=OBJECTIVES, offset=st.integers(-3, 3))
def test_met_on_the_boundary_is_exact(total: int, objective: float, offset: int) -> None:
    """Counts at and beside good = objective * total decide as exact fractions do."""
    good = float(Fraction(repr(objective)) * total // 1 + offset)
    assert compliance._at_least(good, float(total), objective) == exact(
        good, float(total), objective)


@given(good=st.floats(-1e15, 1e15), total=st.floats(-1.0, 1e15), objective=OBJECTIVES)
def test_met_anywhere_is_exact(good: float, total: float, objective: float) -> None:
    """Any counts (fractional, negative, out of range) decide as exact fractions do."""
    assert compliance._at_least(good, total, objective) == exact(good, total, objective)


def test_met_with_exactly_the_objective() -> None:
    """999 of 1000 meets 99.9 % (0.999 * 1000 is 999.0000000000001 in floats); 998 does not."""
    assert compliance._at_least(999.0, 1000.0, 0.999)
    assert not compliance._at_least(998.0, 1000.0, 0.999)


def test_cached_local_days_are_the_days() -> None:
    """Asked twice, the local days of a span are the same days, starting at local midnights
    (Berlin's 23-hour day of 2026-03-29 included)."""
    zone = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 27, 15, 0, tzinfo=zone).timestamp()
    end = datetime(2026, 3, 31, 1, 0, tzinfo=zone).timestamp()
    days = compliance._local_days(start, end, "Europe/Berlin")
    assert days == compliance._local_days(start, end, "Europe/Berlin")
    assert [d.isoformat() for d, _ in days] == [
        "2026-03-27", "2026-03-28", "2026-03-29", "2026-03-30", "2026-03-31"]
    assert days[3][1] - days[2][1] == 23 * 3600


def test_worst_day_equals_a_plain_sum_per_day(tmp_path: Path) -> None:
    """The worst day of a 3-day rolling SLO with a daily maintenance window is the day
    whose own events, maintenance buckets left out, give the lowest ratio; worked out
    here the plain way (a sum per local day, less each maintained bucket's events)."""
    res = 60.0
    slo = SLO(service="s", name="x", objective=0.99, period=RollingPeriod(3 * 86400.0),
              sli=ProbeSLI(TCPProbe("127.0.0.1:1")))
    zone = ZoneInfo("UTC")
    maintenance = (MaintenanceWindow(
        name="nightly", start=datetime(2026, 3, 1, 1, 0, tzinfo=zone), time_zone="UTC",
        duration=1800.0, rrule="FREQ=DAILY"),)
    at = datetime(2026, 3, 20, 12, 0, 30, tzinfo=zone).timestamp()
    with SQLiteStore(tmp_path / "e.db", res) as store:
        first = at - 4 * 86400.0
        deltas = {}
        for i in range(int(4 * 86400 / res) + 1):
            t = math.floor(first / res) * res + i * res
            n = int((t - first) // 86400)
            bad = (i % (7 + n)) * 0.5 + (40.0 if 3600 <= t % 86400 < 5400 else 0.0)
            deltas[t] = (100.0 - bad, 100.0)
        store.commit(slo.key, deltas, cursor=at, series={}, measured=(first, at))
        figures = compliance.current_figures(store, slo, at, maintenance)

        start, end = slo.period.bounds(at, res)
        plain: dict[str, float] = {}
        day = datetime.fromtimestamp(start, zone).date()
        midnight = datetime.min.time()
        while (lo := max(start, datetime.combine(day, midnight, zone).timestamp())) < end:
            hi = min(end, datetime.combine(day + timedelta(days=1), midnight, zone).timestamp())
            counts = store.sum(slo.key, lo, hi)
            good, total = counts.good, counts.total
            for x, y in compliance._bucket_ranges(
                    excluded_spans(maintenance, slo.id, start, end), res, lo, hi):
                hidden = store.sum(slo.key, x, y)
                good, total = good - hidden.good, total - hidden.total
            if total > 0:
                plain[day.isoformat()] = min(max(good / total, 0.0), 1.0)
            day += timedelta(days=1)
    assert figures.worst_day is not None
    worst = min(plain.values())
    assert (figures.worst_day.date, figures.worst_day.achieved) == (
        min(d for d, v in plain.items() if v == worst), worst)
    assert len(plain) == 4  # a partial first day, two whole ones, today so far


def test_settled_days_are_summed_once_and_open_days_every_time(tmp_path: Path) -> None:
    """Figures that carry settled days equal plain figures while the promise holds: a day
    ending after ``settled`` is summed afresh (events added to it count); a day ending by
    ``settled`` is summed once and then read from what is carried (events wrongly added
    to it later are not seen, which shows the store is not asked again)."""
    res = 60.0
    slo = SLO(service="s", name="x", objective=0.99, period=RollingPeriod(3 * 86400.0),
              sli=ProbeSLI(TCPProbe("127.0.0.1:1")))
    midnight = datetime(2026, 3, 20, tzinfo=ZoneInfo("UTC")).timestamp()
    with SQLiteStore(tmp_path / "e.db", res) as store:
        first = midnight - 3 * 86400.0
        store.commit(slo.key, {first + i * res: (99.0, 100.0) for i in range(4 * 1440)},
                     cursor=midnight + 3600.0, series={}, measured=(first, midnight + 3600.0))
        days = compliance.SettledDays()

        def both(at: float, settled: float) -> tuple[WorstDay | None, WorstDay | None]:
            carried = compliance.current_figures(store, slo, at, days=days, settled=settled)
            return carried.worst_day, compliance.current_figures(store, slo, at).worst_day

        carried, plain = both(midnight + 100.0, settled=midnight - 60.0)
        assert carried == plain
        store.commit(slo.key, {midnight - res: (0.0, 5000.0)})  # yesterday's last minute
        carried, plain = both(midnight + 200.0, settled=midnight - 60.0)
        assert carried == plain
        assert plain is not None
        assert plain.date == "2026-03-19"  # the late minute made yesterday the worst day
        carried, plain = both(midnight + 1200.0, settled=midnight)
        assert carried == plain
        store.commit(slo.key, {midnight - 2 * res: (0.0, 9000.0)})  # breaks the promise
        carried, plain = both(midnight + 1300.0, settled=midnight)
        assert carried != plain  # yesterday came from what was carried


def test_the_carried_run_of_settled_days_gives_the_plain_worst_day(tmp_path: Path) -> None:
    """A 10-day rolling SLO over 13 days of random minutes (some days all good, some with
    equal ratios, so ties by the earliest day matter), with nightly maintenance: figures
    carried hour after hour for three days (the run of settled days taken whole, the
    run growing by a day at each midnight and losing one as the period moves on, the
    settled maintenance spans summed once) equal plain figures at every hour, worst
    day included."""
    import random

    rng = random.Random(5)
    res = 3600.0  # hour buckets keep the store small
    slo = SLO(service="s", name="x", objective=0.99, period=RollingPeriod(10 * 86400.0),
              sli=ProbeSLI(TCPProbe("127.0.0.1:1")))
    nightly = MaintenanceWindow(name="n", start=datetime(2026, 3, 1, 2, tzinfo=ZoneInfo("UTC")),
                                duration=3600.0, rrule="FREQ=DAILY", slos=())
    midnight = datetime(2026, 3, 20, tzinfo=ZoneInfo("UTC")).timestamp()
    first = midnight - 10 * 86400.0
    with SQLiteStore(tmp_path / "e.db", res) as store:
        deltas = {}
        for i in range(13 * 24):
            shape = (i // 24) % 4
            bad = 0.0 if shape == 0 else (1.0 if shape == 1 else float(rng.randint(0, 3)))
            deltas[first + i * res] = (100.0 - bad, 100.0)
        store.commit(slo.key, deltas, cursor=first + 13 * 86400.0, series={},
                     measured=(first, first + 13 * 86400.0))
        for maintenance in ((), (nightly,)):
            days = compliance.SettledDays()
            for hour in range(3 * 24):
                at = midnight + hour * 3600.0 + 1800.0
                carried = compliance.current_figures(store, slo, at, maintenance, days=days,
                                                     settled=at - 7200.0)
                plain = compliance.current_figures(store, slo, at, maintenance)
                assert carried == plain, (maintenance, hour)
            assert days._run is not None
            assert days._run.days >= 7
        assert len(days._ranges) >= 10  # the settled nightly spans, summed once
