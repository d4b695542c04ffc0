"""Shards together export exactly what one unsharded daemon exports.

Four daemons read the same Prometheus (the session's 32 days of history)
with the same configuration and their own event stores: shards 0, 1 and 2
of 3 (``--shard.index``/``--shard.count``) and one without shard flags.
Cycles fire on the epoch grid, so once all four have evaluated the same grid
instant, the shards' SLO samples put together are the unsharded daemon's,
sample for sample, and no SLO appears on two shards. ``slo_exporter_*``
series and the prober's own (``slo_probe_skipped_total``,
``slo_probe_in_flight``: no ``slo`` label) describe each process (cycle
counts and durations, the shard) and are left out of the comparison.

With one PostgreSQL store shared by the shards, a composite may read a
component another shard owns; its values are still the unsharded daemon's.
"""

from __future__ import annotations

from typing import Any

import pytest

from slo_exporter.sharding import shard_of
from tests.support.harness import (
    API_BAD,
    API_GOOD,
    API_TOTAL,
    ExporterFactory,
    ExporterProcess,
    PrometheusFactory,
    Scrape,
    SLOSpec,
    exporter_config,
    scrapes_at_one_instant,
)
from tests.support.postgres import private_postgres

pytestmark = pytest.mark.integration

#: shards of 3 (see tests/test_sharding.py TABLE_OF_3): 0, 0, 1, 1, 2, 2
SLOS = (
    SLOSpec("checkout", "availability", total=API_TOTAL, bad=API_BAD, objective=99.9, window="14d"),
    SLOSpec("payments-vendor", "api", total=API_TOTAL, good=API_GOOD, objective=99.5, window="7d"),
    SLOSpec("api", "availability", total=API_TOTAL, bad=API_BAD, objective=99.9, window="14d"),
    SLOSpec("auth", "login", total=API_TOTAL, good=API_GOOD, objective=99, window="7d"),
    SLOSpec("api", "latency", total=API_TOTAL, good=API_GOOD, objective=99.9, window="14d"),
    SLOSpec("billing", "invoices", total=API_TOTAL, bad=API_BAD, objective=99.5, window="7d"),
)
SHARDS = 3
INTERVAL = 4.0
DELAY = 1.0
#: series that describe the process, not the SLOs
PER_PROCESS = ("slo_exporter_",)


def _slo_series(scrape: Scrape) -> list[str]:
    """Every sample of one SLO as text lines; per-process series left out."""
    return [
        f"{s.name}{sorted(s.labels.items())} {s.value!r}" for s in scrape.samples
        if not s.name.startswith(PER_PROCESS) and "slo" in s.labels
    ]


def test_three_shards_export_what_one_daemon_exports(
    make_prometheus: PrometheusFactory, make_exporter: ExporterFactory
) -> None:
    """At a grid instant all four evaluated, the union of shards 0-2 of 3 is the unsharded
    daemon's SLO series exactly, each SLO on one shard only (2 SLOs per shard here)."""
    assert sorted(shard_of(s.service, s.name, SHARDS) for s in SLOS) == [0, 0, 1, 1, 2, 2]
    prometheus = make_prometheus()
    config = exporter_config(prometheus.url, SLOS, evaluation_interval=f"{INTERVAL:g}s",
                             query_delay=f"{DELAY:g}s", timeout="3s")
    shards = [make_exporter(config, name=f"shard-{i}",
                            extra_args=(f"--shard.index={i}", f"--shard.count={SHARDS}"))
              for i in range(SHARDS)]
    whole = make_exporter(config, name="unsharded")
    everyone: list[ExporterProcess] = [*shards, whole]
    for exporter in everyone:  # started together: four backfills share the two cores
        exporter.launch()
    for exporter in everyone:
        exporter.wait_ready(60)

    scrapes = scrapes_at_one_instant(everyone, timeout=6 * INTERVAL,
                                     what="all four daemons describing the same instant")
    *parts, unsharded = scrapes
    union = [line for part in parts for line in _slo_series(part)]
    assert len(union) == len(set(union)), "a series came from two shards"
    assert sorted(union) == sorted(_slo_series(unsharded))
    assert len(union) > 100, "the comparison must cover the windows, not a handful"
    for index, part in enumerate(parts):
        assert part.value("slo_exporter_shard_info", index=str(index), count="3") == 1.0
        assert part.value("slo_exporter_shard_slos") == 2.0
        owners = {s.labels["service"] + "/" + s.labels["slo"]
                  for s in part.find("slo_sli_up")}
        assert owners == {f"{s.service}/{s.name}" for s in SLOS
                          if shard_of(s.service, s.name, SHARDS) == index}
    assert unsharded.get("slo_exporter_shard_info", index="0", count="1") is None


def _composite(config: dict[str, Any], service: str, name: str, *parts: str) -> dict[str, Any]:
    """``config`` with an all_good composite SLO over ``parts`` (``service/slo`` each)."""
    entry = {"name": name, "objective": 99.0, "window": "1d", "sli": {"composite": {
        "mode": "all_good", "components": [{"slo": p} for p in parts]}}}
    return {**config, "services": [*config["services"], {"name": service, "slos": [entry]}]}


def test_a_composite_reads_another_shards_component_through_postgresql(
    make_prometheus: PrometheusFactory, make_exporter: ExporterFactory
) -> None:
    """Two shards share one PostgreSQL store; shop/journey (shard 0) is built on
    api/availability (shard 0) and checkout/availability (shard 1). At a grid instant both
    and an unsharded daemon (SQLite) evaluated, the shards' series together, the composite's
    included, are the unsharded daemon's exactly."""
    # one-day windows: each daemon backfills a day, not two weeks
    ratios = (SLOSpec("checkout", "availability", total=API_TOTAL, bad=API_BAD, window="1d"),
              SLOSpec("api", "availability", total=API_TOTAL, good=API_GOOD, window="1d"))
    assert [shard_of(s.service, s.name, 2) for s in ratios] == [1, 0]
    assert shard_of("shop", "journey", 2) == 0
    prometheus = make_prometheus()
    config = _composite(
        exporter_config(prometheus.url, ratios, evaluation_interval=f"{INTERVAL:g}s",
                        query_delay=f"{DELAY:g}s", timeout="3s"),
        "shop", "journey", "api/availability", "checkout/availability")
    with private_postgres() as postgres:
        url = postgres.new_schema()
        shards = [make_exporter(config, name=f"shard-{i}", extra_args=(
            f"--shard.index={i}", "--shard.count=2", f"--storage.url={url}")) for i in range(2)]
        whole = make_exporter(config, name="unsharded")
        everyone: list[ExporterProcess] = [*shards, whole]
        for exporter in everyone:
            exporter.launch()
        for exporter in everyone:
            exporter.wait_ready(60)
        scrapes = scrapes_at_one_instant(everyone, timeout=8 * INTERVAL,
                                         what="both shards and the unsharded daemon describing "
                                              "the same instant")
        for exporter in everyone:
            exporter.terminate()
    *parts, unsharded = scrapes
    union = [line for part in parts for line in _slo_series(part)]
    assert len(union) == len(set(union)), "a series came from two shards"
    assert sorted(union) == sorted(_slo_series(unsharded))
    journey = [line for line in _slo_series(parts[0]) if "'journey'" in line]
    assert len(journey) > 20, "the composite's windows are compared"
    assert parts[0].value("slo_sli_up", service="shop", slo="journey") == 1.0
    assert parts[1].get("slo_sli_up", service="shop", slo="journey") is None
