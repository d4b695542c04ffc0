"""Same numbers as Sloth, where Sloth is right: one real Prometheus, Sloth's own rules.

One Prometheus holds 30 days of synthetic history for Sloth's
``getting-started`` (request counters) and ``home-wifi`` (per-client
satisfaction gauges) examples (``tests/support/sloth_history.py``), loaded
with ``promtool tsdb create-blocks-from openmetrics``. Sloth's generated
rules (``examples/_gen/``, unchanged) are then evaluated over it:

* the 5-minute SLI rules every minute of the 30 days, by the range queries
  promtool's rule backfill makes, loaded as one OpenMetrics backfill (so
  Sloth's 30d rule has its 30 days of 5-minute ratios to average);
* every ``slo:sli_error:ratio_rate<window>`` rule, 5m to 3d and 30d, once,
  in the last seconds of a minute, with ``promtool tsdb create-blocks-from
  rules``; its blocks are loaded by restarting Prometheus and the recorded
  values read back. Their timestamp is the evaluation instant ``t``.

The exporter loads the two Sloth spec files unchanged through the config
loader (what ``check`` and the daemon use); its engine, built on the real
Prometheus client and a SQLite store, evaluates once at the same ``t``
(a cold start: 30 days read from Prometheus).

Tolerance. For every window from 5m to 3d the two burn rates count the same
events except at the window's edge:

* counters: Sloth's ``rate()`` sees only the samples inside ``[t - w, t]``,
  so the increase into the first of them is lost (its extrapolation scales
  errors and totals alike and cancels in the ratio); the exporter counts
  that increase (from the sample before the window, as its buckets do);
* the home-wifi templates (``sum_over_time(count(..)[{{.window}}:])``): the
  exporter evaluates them per one-minute bucket end ``e`` over ``(e - 60 s,
  e]`` (``{{.window}}`` = ``59999ms``), which holds the one mark ``e``, so
  each mark counts once, as in Sloth's rule; but the exporter's window holds
  complete buckets only, not the one ``t`` is in, so the mark at ``t - w``'s
  minute (Sloth's oldest) is Sloth's alone.

With ``s`` the edge's share of the window's other events and ``p`` the
edge's own error share, the ratios then differ by ``s * |p - r|`` (``r``
Sloth's ratio), so the burn rates must agree within ``s * max(1, p / r)``
relative (plus float rounding: the bound is reached when ``p`` is 0). Both
sides are also checked against the oracle exactly (the exporter's
good/total, Sloth's recorded ratio), which shows the edge is the only
difference.

For the 30d window the exporter matches the exact event ratio within
0.1 %: to the event for the counters, to one client-minute of 30 days for
the templates. Sloth's 30d SLI, the mean of the 5-minute ratios, must be
that mean (checked against the oracle) and overweights the quiet hours
where the incidents are: the test reports how far off it is and asserts
that it overstates the error ratio by more than 20 %.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from slo_exporter.config import load_config
from slo_exporter.engine import Engine
from slo_exporter.ingest import TEMPLATE_SETTLE
from slo_exporter.prometheus import PrometheusClient
from slo_exporter.snapshot import SLOStatus
from slo_exporter.store import SQLiteStore
from tests.support.harness import HarnessError, PrometheusServer, run_tool
from tests.support.sloth_history import (
    DAY,
    RESOLUTION,
    ClientPoints,
    Edge,
    SlothHistory,
    generate,
    write_openmetrics,
)
from tests.support.synth import WindowSpec, expected_window

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).parents[1] / "fixtures" / "conformance" / "sloth" / "examples"
SPECS = ("getting-started.yml", "home-wifi.yml")
#: Sloth's windows up to 3d, by its rule names' suffix
WINDOWS: Mapping[str, float] = {
    "5m": 300.0, "30m": 1800.0, "1h": 3600.0, "2h": 7200.0,
    "6h": 6 * 3600.0, "1d": DAY, "3d": 3 * DAY,
}
PERIOD = 30.0 * DAY
#: (service, SLO) -> objective of the examples' SLOs
OBJECTIVES: Mapping[tuple[str, str], float] = {
    ("myservice", "requests-availability"): 0.999,
    ("home-wifi", "good-wifi-client-satisfaction"): 0.95,
    ("home-wifi", "risk-wifi-client-satisfaction"): 0.999,
}
RATIO_RULE = "slo:sli_error:ratio_rate"
#: float rounding allowed beyond an edge bound (reached exactly when the edge has no errors)
ROUNDING = 1e-9
#: the engine's evaluation grid in this test (seconds)
GRID = 0.001
#: the exporter's 30d error ratio against the exact one
EXACT_30D = 1e-3
#: the exporter reads a template's bucket this long after the bucket ends (no query_delay)
TEMPLATE_LAG = TEMPLATE_SETTLE


@dataclass(frozen=True)
class Parity:
    """Everything the tests compare, computed once for the module."""

    t: float
    history: SlothHistory
    points: ClientPoints
    sloth: Mapping[tuple[str, str], Mapping[str, float]]  # (service, slo) -> window -> ratio
    recorded_5m: tuple[int, int]  # first and last minute of Sloth's recorded 5m ratios
    exporter: Mapping[tuple[str, str], SLOStatus]
    seconds: Mapping[str, float]


def _generated_rules() -> dict[str, dict[str, Any]]:
    """Sloth's generated rule files of the two examples, by spec file name."""
    return {
        name: yaml.safe_load((EXAMPLES / "_gen" / name).read_text(encoding="utf-8"))
        for name in SPECS
    }


def _sli_rules(record: str | None = None) -> list[dict[str, Any]]:
    """Sloth's SLI recording rules of both examples, unchanged: those named
    ``record``, or every ``slo:sli_error:ratio_rate<window>`` rule."""
    found: list[dict[str, Any]] = []
    for document in _generated_rules().values():
        for group in document["groups"]:
            for rule in group["rules"]:
                name = rule.get("record", "")
                if name == record or (record is None and name.startswith(RATIO_RULE)):
                    found.append(dict(rule))
    return found


def _record_5m_history(prometheus: PrometheusServer, work: Path, first: int, last: int) -> None:
    """Sloth's 5-minute rules evaluated every minute in ``[first, last]``, loaded as blocks.

    These are the range queries promtool's rule backfill makes, written as
    one OpenMetrics backfill: promtool would write a block per rule and two
    hours, over a thousand for these 30 days, which takes a busy two-core
    machine most of a minute.
    """
    lines: list[str] = []
    for rule in _sli_rules("slo:sli_error:ratio_rate5m"):
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(rule["labels"].items()))
        for lo in range(first, last + 1, 10_000 * 60):  # under Prometheus' 11,000 points
            data = prometheus.api("query_range", query=rule["expr"], start=lo,
                                  end=min(lo + 9_999 * 60, last), step=60)
            for series in data["result"]:
                lines.extend(f"{rule['record']}{{{labels}}} {value} {ts}\n"
                             for ts, value in series["values"])
    recorded = work / "sloth-5m.om"
    recorded.write_text("# TYPE slo:sli_error:ratio_rate5m gauge\n" + "".join(lines) + "# EOF\n")
    prometheus.stop()
    prometheus.backfill(recorded)
    prometheus.start()


def _backfill_rules_at(prometheus: PrometheusServer, work: Path, start: int) -> None:
    """Every Sloth SLI rule of both examples evaluated once in ``[start, start + 1]``
    by ``promtool tsdb create-blocks-from rules``, its blocks loaded by a restart.

    Evaluations fall at a sub-second phase of the rule group (promtool keeps
    Prometheus' per-group offset); the tests read the instant from the data.
    """
    rule_file = work / "sloth-sli-rules.yml"
    rule_file.write_text(yaml.safe_dump(
        {"groups": [{"name": "sloth-slo-sli-recordings", "rules": _sli_rules()}]},
        sort_keys=False))
    out = work / "rule-blocks"
    run_tool([
        prometheus.promtool, "tsdb", "create-blocks-from", "rules", "-q",
        f"--url={prometheus.url}", f"--start={start}", f"--end={start + 1}",
        f"--output-dir={out}", "--eval-interval=1s", str(rule_file),
    ], "promtool create-blocks-from rules", timeout=120)
    prometheus.stop()
    for block in out.iterdir():
        shutil.move(str(block), prometheus.data_dir / block.name)
    prometheus.start()


def _recorded(prometheus: PrometheusServer, before: float) -> tuple[float, dict[tuple[str, str],
                                                                            dict[str, float]]]:
    """The instant of the backfilled rule evaluation (the latest not after
    ``before``) and every SLO's recorded ratio per window at that instant."""
    selector = f'{{__name__=~"{RATIO_RULE}.+"}}'
    stamps = {float(item["value"][1])
              for item in prometheus.query(f"timestamp({selector})", before)["result"]}
    if len(stamps) != 1:
        raise HarnessError(f"the recorded ratios have timestamps {sorted(stamps)}, expected one")
    t = stamps.pop()
    out: dict[tuple[str, str], dict[str, float]] = {}
    for item in prometheus.query(selector, t)["result"]:
        labels = item["metric"]
        key = (labels["sloth_service"], labels["sloth_slo"])
        out.setdefault(key, {})[labels["sloth_window"]] = float(item["value"][1])
    return t, out


def _exporter(prometheus_url: str, work: Path, t: float) -> dict[tuple[str, str], SLOStatus]:
    """The exporter's statuses at ``t``: the Sloth files through the config loader, one cycle."""
    config_path = work / "slo-exporter.yml"
    config_path.write_text(yaml.safe_dump({
        "prometheus": {"url": prometheus_url, "timeout": "30s"},
        "include": [str(EXAMPLES / name) for name in SPECS],
    }))
    config = load_config(str(config_path))
    if config.storage.resolution != RESOLUTION:  # the oracle's bucket width
        raise HarnessError(f"storage resolution {config.storage.resolution}, expected {RESOLUTION}")
    # The engine evaluates at the last instant of its evaluation grid (whole
    # intervals since the epoch, so HA pairs agree); Sloth's instant t has a
    # sub-second phase. A millisecond grid, which no config may set but the
    # engine takes as given, puts the evaluation within 1 ms of t, with no
    # sample in between.
    config = replace(config, evaluation_interval=GRID)
    store = SQLiteStore(work / "store", config.storage.resolution)
    engine = Engine(config, store, PrometheusClient(config.prometheus), clock=lambda: t)
    try:
        snapshot = engine.evaluate()
    finally:
        engine.close()
        store.close()
    return {(s.slo.service, s.slo.name): s for s in snapshot.slos}


@pytest.fixture(scope="module")
def parity(tmp_path_factory: pytest.TempPathFactory) -> Parity:
    """History, Prometheus, Sloth's rules and the exporter, all at one instant ``t``."""
    work = tmp_path_factory.mktemp("sloth-parity")
    seconds: dict[str, float] = {}
    mark = time.monotonic()
    # The rules are evaluated in the last 10 s of a minute, after the last
    # counter sample: the exporter's bucketed window (t - w, t] and Sloth's
    # range [t - w, t] then hold the same counter samples.
    minute = math.floor((time.time() - 120) / 60) * 60
    history = generate(minute - 10)
    openmetrics = work / "history.om"
    write_openmetrics(openmetrics, history)
    seconds["generate"] = time.monotonic() - mark
    # Sloth's 5m rule every minute over the 30d before the evaluation, and a little more
    recorded_5m = (minute - int(PERIOD) - 600, minute - 60)

    # home-wifi's subqueries step at the evaluation interval: 1m, as usual
    prometheus = PrometheusServer(work / "prometheus", scrape_interval="1m")
    try:
        mark = time.monotonic()
        prometheus.backfill(openmetrics)
        prometheus.start()
        seconds["load history"] = time.monotonic() - mark
        mark = time.monotonic()
        _record_5m_history(prometheus, work, *recorded_5m)
        _backfill_rules_at(prometheus, work, minute - 6)
        t, sloth = _recorded(prometheus, minute - 5)
        seconds["Sloth rules"] = time.monotonic() - mark
        mark = time.monotonic()
        statuses = _exporter(prometheus.url, work, t)
        seconds["exporter"] = time.monotonic() - mark
    except HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)
    finally:
        try:
            prometheus.stop()
        except HarnessError as exc:
            print(f"prometheus teardown: {exc}")
    mark = time.monotonic()
    points = ClientPoints.of(history)
    seconds["oracle"] = time.monotonic() - mark
    return Parity(t, history, points, sloth, recorded_5m, statuses, seconds)


def _expected(parity: Parity, key: tuple[str, str], window: float) -> tuple[float, float, Edge]:
    """(bad, total) of the exporter's window, and its edge, from the generated data."""
    service, slo = key
    if service == "myservice":
        bad, total = parity.history.counter_exporter(parity.t, window)
        return bad, total, parity.history.counter_edge(parity.t, window)
    bad_points, all_points = parity.points.exporter(slo, parity.t, window, lag=TEMPLATE_LAG)
    return bad_points, all_points, parity.points.edge(slo, parity.t, window, lag=TEMPLATE_LAG)


def _sloth_expected(parity: Parity, key: tuple[str, str], at: float, window: float) -> float | None:
    """Sloth's ``slo:sli_error:ratio_rate<window>`` at ``at``, from the generated data."""
    service, slo = key
    if service == "myservice":
        return parity.history.counter_sloth(at, window)
    return parity.points.sloth(slo, at, window)


def _sloth_average(parity: Parity, key: tuple[str, str]) -> float:
    """Sloth's 30d SLI at t from the generated data: the mean of the recorded 5m ratios in
    ``[t - 30d, t]`` (the rule's range is closed on Prometheus 2)."""
    first = max(parity.recorded_5m[0], math.ceil((parity.t - PERIOD) / 60) * 60)
    ratios = [_sloth_expected(parity, key, at, 300.0)
              for at in range(first, parity.recorded_5m[1] + 1, 60)]
    known = [r for r in ratios if r is not None]
    return sum(known) / len(known)


def test_every_slo_is_up_at_the_instant(parity: Parity) -> None:
    """The exporter read every SLO of the two unchanged Sloth files and evaluated it at t."""
    assert set(parity.exporter) == set(OBJECTIVES)
    for key, status in parity.exporter.items():
        assert status.up, f"{key}: {status.error}"
        assert status.evaluated_at is not None
        assert parity.t - GRID <= status.evaluated_at <= parity.t


def test_burn_rates_match_sloths_rules_from_5m_to_3d(
    parity: Parity, record_property: Callable[[str, object], None]
) -> None:
    """Per window 5m..3d the exporter's burn rate matches Sloth's rule within the edge's share."""
    lines, problems = [], []
    for key, objective in OBJECTIVES.items():
        status = parity.exporter[key]
        budget = 1.0 - objective
        for label, window in WINDOWS.items():
            where = f"{key[0]}/{key[1]} {label}"
            values = status.window(window)
            assert values is not None, f"{where}: no window"
            bad, total, edge = _expected(parity, key, window)
            # exact on both sides: the exporter's own counts, Sloth's own rule
            if (values.bad, values.total) != (bad, total):
                problems.append(f"{where}: exporter bad/total {values.bad}/{values.total}, "
                                f"expected {bad}/{total}")
            sloth_ratio = parity.sloth[key][label]
            oracle = _sloth_expected(parity, key, parity.t, window)
            if oracle is None or not math.isclose(sloth_ratio, oracle, rel_tol=1e-9):
                problems.append(f"{where}: Sloth's rule gives {sloth_ratio!r}, expected {oracle!r}")
            assert values.burn_rate is not None, where
            sloth_burn = sloth_ratio / budget
            diff = values.burn_rate / sloth_burn - 1.0
            tolerance = edge.tolerance(sloth_ratio)
            lines.append(f"{where}: Sloth {sloth_burn:.4f} exporter {values.burn_rate:.4f} "
                         f"diff {diff:+.3%} (tolerance {tolerance:.3%})")
            if not abs(diff) <= tolerance + ROUNDING:
                problems.append(f"{where}: burn rates differ by {diff:+.3%}, "
                                f"tolerance {tolerance:.3%}")
    report = "\n".join(lines)
    print(report)
    record_property("sloth_parity", report)
    assert not problems, "\n".join(problems) + "\n" + report


def test_30d_exporter_is_exact_and_sloths_average_is_not(
    parity: Parity, record_property: Callable[[str, object], None]
) -> None:
    """The exporter's 30d ratio is the exact one; Sloth's average of 5m ratios overstates it."""
    lines, problems = [], []
    for key in OBJECTIVES:
        service, slo = key
        where = f"{service}/{slo} 30d"
        bad, total, _ = _expected(parity, key, PERIOD)
        if service == "myservice":
            exact_window = expected_window(
                parity.history.counter_samples(), WindowSpec(parity.t, PERIOD),
                bad=parity.history.counter_samples(errors=True))
            assert exact_window.error_ratio is not None
            exact = exact_window.error_ratio
        else:
            exact_bad, exact_total = parity.points.exact(slo, parity.t, PERIOD)
            exact = exact_bad / exact_total
        values = parity.exporter[key].window(PERIOD)
        assert values is not None, where
        if (values.bad, values.total) != (bad, total):
            problems.append(f"{where}: exporter bad/total {values.bad}/{values.total}, "
                            f"expected {bad}/{total}")
        exporter = values.bad / values.total
        sloth = parity.sloth[key]["30d"]
        miss = sloth / exact - 1.0
        lines.append(f"{where}: exact error ratio {exact:.6f}, exporter {exporter:.6f} "
                     f"({exporter / exact - 1:+.3%}), Sloth's average of 5m ratios "
                     f"{sloth:.6f} ({miss:+.1%})")
        if not abs(exporter / exact - 1.0) <= EXACT_30D:
            problems.append(f"{where}: exporter {exporter!r} is not within {EXACT_30D:.1%} "
                            f"of the exact {exact!r}")
        # Sloth's 30d SLI is the mean of one recorded 5-minute ratio per minute
        average = _sloth_average(parity, key)
        if not math.isclose(sloth, average, rel_tol=1e-9):
            problems.append(f"{where}: Sloth's rule gives {sloth!r}, the mean of its 5m "
                            f"ratios is {average!r}")
        # the incidents fall in quiet hours, whose 5m ratios weigh as much as busy ones'
        if not miss > 0.2:
            problems.append(f"{where}: Sloth's average is {miss:+.1%} off, expected > +20%")
    lines.append("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in parity.seconds.items()))
    report = "\n".join(lines)
    print(report)
    record_property("sloth_parity_30d", report)
    assert not problems, "\n".join(problems) + "\n" + report
