"""Detection time: from failure onset to the page in Alertmanager's webhook.

Runs the real chain on loopback, as deployed: a probe target, slo-exporter
probing it (a 99.9% / 30d probe SLO), Prometheus scraping the exporter and
evaluating the generated rules, and Alertmanager with the shipped routing
posting to a local webhook. Prometheus scrapes and evaluates every 15 s and
the exporter evaluates every 15 s (all configurable).

Scenarios:

* ``outage`` - every request fails. The 1h/5m pair pages once the 1h burn
  rate passes 14.4, i.e. after 14.4 x 0.1% of an hour = 51.84 s of failures:
  the floor. The rest is the chain: exporter evaluation, scrape, rule
  evaluation and Alertmanager's group_wait.
* ``burn10`` - 1% of requests fail: a 10x burn, below the 1h factor (14.4),
  so the 6h/30m pair (factor 6) pages after 6 x 0.1% of 6 h / 1% = 3.6 h.
  The first 3.6 h minus ``--lead`` seconds of that burn are written into the
  exporter's store before it starts; the crossing and everything after it
  happens live, so the chain's delay is measured for real.

Both start from three days of good probes written into the exporter's store
(an exporter that has been running), so every window is full as in
production.

* ``ratio`` - the same total outage on a 99.9% / 30d ratio SLO over request
  counters that Prometheus scrapes every 15 s (``--scrape-interval``), with
  two hours of healthy history backfilled into Prometheus: the exporter
  reads each series up to its newest sample and its fast path re-evaluates
  the SLO within seconds of each scrape landing, so the chain adds the
  exporter scrape, the rule evaluation and Alertmanager's group_wait to the
  51.84 s floor (the goal: at most 75 s through the generated rules). With
  only two hours of history the 6h/30m pair's 6h window holds just those two
  hours, so that pair crosses first, after t = 6 x 0.1% x (7200 + t) s =
  43.5 s of outage (``history_floor``); the report shows which pair paged.

Usage::

    .venv/bin/python -m bench.detection_time [--scenario outage|burn10|ratio|all]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.alerting_chain import (
    AlertmanagerProcess,
    FlakyTarget,
    WebhookReceiver,
    alert_in,
    alertmanager_config,
    firing,
    probe_slo_config,
    prometheus_config,
    seed_probe_history,
)
from tests.support.harness import (
    HOST,
    CounterTarget,
    ExporterProcess,
    HarnessError,
    PrometheusServer,
    running,
    wait_until,
)

ROOT = Path(__file__).resolve().parent.parent

OBJECTIVE = 0.999
PERIOD = 30 * 86400.0
HISTORY = 3 * 86400.0


@dataclass(frozen=True)
class Scenario:
    name: str
    failure_share: float
    burn_rate: float
    budget_fraction: float  # of the window pair expected to page
    long_window: float
    window_pair: str

    @property
    def floor(self) -> float:
        """Seconds of this burn until the long window's burn rate passes its factor."""
        factor = self.budget_fraction * PERIOD / self.long_window
        return factor * (1 - OBJECTIVE) * self.long_window / self.failure_share


SCENARIOS = {
    "outage": Scenario("outage", 1.0, 1000.0, 0.02, 3600.0, "1h/5m"),
    "burn10": Scenario("burn10", 0.01, 10.0, 0.05, 6 * 3600.0, "6h/30m"),
    "ratio": Scenario("ratio", 1.0, 1000.0, 0.02, 3600.0, "1h/5m"),
}
#: the ratio scenario's healthy history in Prometheus, and its request rate
RATIO_HISTORY = 2 * 3600.0
RATIO_RPS = 10.0
RATIO_JOB = "api"


@dataclass(frozen=True)
class Result:
    scenario: str
    floor_s: float
    detection_s: float
    overhead_s: float
    window_pair: str
    receiver: str
    scrape_interval: str
    rule_interval: str
    exporter_interval: str


def run(scenario: Scenario, args: argparse.Namespace, workdir: Path) -> Result:
    webhook = WebhookReceiver()
    target = FlakyTarget()
    webhook.start()
    target.start()
    am = AlertmanagerProcess(workdir / "alertmanager", alertmanager_config(webhook.url))
    prom_interval = args.scrape_interval
    config = probe_slo_config(
        target_url=f"{target.url}/", prometheus_url="http://127.0.0.1:9",
        objective=OBJECTIVE * 100, evaluation_interval=args.exporter_interval,
        probe_interval=f"{args.probe_interval:g}s", resolution=args.resolution,
    )
    exporter = ExporterProcess(workdir / "exporter", config)
    prometheus = PrometheusServer(workdir / "prometheus", scrape_interval=prom_interval)
    prometheus.config_path.write_text(yaml.safe_dump(prometheus_config(
        exporter_address=f"{HOST}:{exporter.port}",
        alertmanager_address=f"{HOST}:{am.port}",
        scrape_interval=args.scrape_interval,
        evaluation_interval=args.rule_interval,
    )))

    now = time.time()
    per_second = 1.0 / args.probe_interval
    if scenario.failure_share >= 1.0:
        seed = [(now - HISTORY, now, 0.0)]
        onset_in_past = 0.0
    else:
        # Fast-forward the slow part of the burn; leave `lead` seconds to live.
        onset_in_past = max(scenario.floor - args.lead, 0.0)
        seed = [(now - HISTORY, now - onset_in_past, 0.0),
                (now - onset_in_past, now, scenario.failure_share)]
    seed_probe_history(exporter.storage, config, seed, probes_per_second=per_second)

    try:
        am.start()
        with running(prometheus), running(exporter):
            if scenario.failure_share < 1.0:
                target.set_failure_share(scenario.failure_share)
            exporter.start()
            prometheus.start()
            wait_until(
                lambda: True if prometheus.query(
                    'slo_burn_rate{service="shop",slo="homepage",window="1h"}')["result"]
                else None,
                timeout=120, what="the exporter's burn rates in Prometheus",
                on_timeout=exporter.log_tail)
            if scenario.failure_share >= 1.0:
                onset = target.set_failure_share(1.0)
            else:
                onset = now - onset_in_past
            page = webhook.wait_for(
                firing("SLOBurnRatePage", service="shop", slo="homepage"),
                timeout=scenario.floor - onset_in_past + args.timeout,
                what=f"the page ({scenario.name})",
                on_timeout=lambda: exporter.log_tail() + "\n" + am.log_tail())
            alert = alert_in(page, "SLOBurnRatePage", "firing")
            detection = page.received_at - onset
            return Result(
                scenario=scenario.name,
                floor_s=round(scenario.floor, 1),
                detection_s=round(detection, 1),
                overhead_s=round(detection - scenario.floor, 1),
                window_pair=str(alert["annotations"].get("window_pair")),
                receiver=page.receiver_path,
                scrape_interval=args.scrape_interval,
                rule_interval=args.rule_interval,
                exporter_interval=args.exporter_interval,
            )
    finally:
        am.stop()
        target.stop()
        webhook.stop()


class SwitchableCounters(CounterTarget):
    """The harness' live request counters, whose rates can change on the fly."""

    def switch(self, good_rps: float, bad_rps: float) -> float:
        """From now on count ``good_rps``/``bad_rps``; returns the instant of the change."""
        with self._lock:
            now = self._clock()
            elapsed = now - self._since
            self._base = {
                job: (int(good) + math.floor(self.good_rps * elapsed),
                      int(bad) + math.floor(self.bad_rps * elapsed))
                for job, (good, bad) in self._base.items()
            }
            self._since = now
            self.good_rps, self.bad_rps = good_rps, bad_rps
        return now


def history_floor(history: float) -> tuple[float, str]:
    """Seconds of total outage after ``history`` seconds of healthy traffic until the
    first page pair crosses, and that pair: t / min(long, history + t) > factor x 0.1%."""
    best = (math.inf, "")
    for pair, budget, long_window in (("1h/5m", 0.02, 3600.0), ("6h/30m", 0.05, 21600.0)):
        threshold = budget * PERIOD / long_window * (1 - OBJECTIVE)
        t = threshold * long_window  # the long window full of history
        if history + t < long_window:  # the window holds only the history and the outage
            t = threshold * history / (1 - threshold)
        best = min(best, (t, pair))
    return best


def write_ratio_history(path: Path, end: float, step: float) -> tuple[float, float]:
    """Two hours of healthy counters (good and bad) every ``step`` s up to ``end``,
    as OpenMetrics for promtool; returns the last (good, bad) values."""
    first = end - RATIO_HISTORY
    good = 0.0
    with path.open("w", encoding="ascii") as out:
        out.write("# TYPE http_requests counter\n")
        ts = first
        while ts <= end:
            out.write(f'http_requests_total{{job="{RATIO_JOB}",code="200"}} {good:.0f} '
                      f"{ts:.0f}\n")
            out.write(f'http_requests_total{{job="{RATIO_JOB}",code="500"}} 0 {ts:.0f}\n')
            good += RATIO_RPS * step
            ts += step
        out.write("# EOF\n")
    return good - RATIO_RPS * step, 0.0


def ratio_slo_config(prometheus_url: str, evaluation_interval: str) -> dict[str, Any]:
    """An exporter config with one 30d ratio SLO, shop/checkout, over the live counters."""
    return {
        "prometheus": {"url": prometheus_url, "timeout": "2s", "retries": 1},
        "evaluation_interval": evaluation_interval,
        "services": [{
            "name": "shop",
            "labels": {"owner": "platform", "tier": "critical"},
            "slos": [{
                "name": "checkout",
                "objective": OBJECTIVE * 100,
                "window": "30d",
                "sli": {"ratio": {
                    "bad": f'http_requests_total{{job="{RATIO_JOB}",code="500"}}',
                    "total": f'http_requests_total{{job="{RATIO_JOB}"}}',
                }},
            }],
        }],
    }


def run_ratio(scenario: Scenario, args: argparse.Namespace, workdir: Path) -> Result:
    """A total outage on a ratio SLO, through Prometheus' scrapes and the generated rules."""
    step = float(args.scrape_interval.rstrip("s"))
    webhook = WebhookReceiver()
    webhook.start()
    am = AlertmanagerProcess(workdir / "alertmanager", alertmanager_config(webhook.url))
    history = workdir / "history.om"
    end = math.floor(time.time() / step) * step - step
    last = write_ratio_history(history, end, step)
    target = SwitchableCounters({RATIO_JOB: last}, good_rps=RATIO_RPS, bad_rps=0.0)
    prometheus = PrometheusServer(workdir / "prometheus", scrape_interval=args.scrape_interval)
    exporter = ExporterProcess(workdir / "exporter", ratio_slo_config(
        prometheus.url, args.exporter_interval))
    config = prometheus_config(
        exporter_address=f"{HOST}:{exporter.port}",
        alertmanager_address=f"{HOST}:{am.port}",
        scrape_interval=args.scrape_interval,
        evaluation_interval=args.rule_interval,
    )
    config["scrape_configs"].append(target.scrape_config(args.scrape_interval))
    prometheus.config_path.write_text(yaml.safe_dump(config))
    prometheus.backfill(history)
    try:
        am.start()
        with target, running(prometheus), running(exporter):
            prometheus.start()
            exporter.start()
            wait_until(
                lambda: True if prometheus.query(
                    'slo_burn_rate{service="shop",slo="checkout",window="1h"}')["result"]
                else None,
                timeout=120, what="the exporter's burn rates in Prometheus",
                on_timeout=exporter.log_tail)
            onset = target.switch(0.0, RATIO_RPS)
            page = webhook.wait_for(
                firing("SLOBurnRatePage", service="shop", slo="checkout"),
                timeout=scenario.floor + args.timeout,
                what="the page (ratio)",
                on_timeout=lambda: exporter.log_tail() + "\n" + am.log_tail())
            alert = alert_in(page, "SLOBurnRatePage", "firing")
            detection = page.received_at - onset
            return Result(
                scenario=scenario.name,
                floor_s=round(scenario.floor, 1),
                detection_s=round(detection, 1),
                overhead_s=round(detection - scenario.floor, 1),
                window_pair=str(alert["annotations"].get("window_pair")),
                receiver=page.receiver_path,
                scrape_interval=args.scrape_interval,
                rule_interval=args.rule_interval,
                exporter_interval=args.exporter_interval,
            )
    finally:
        am.stop()
        webhook.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    p.add_argument("--repeat", type=int, default=1, help="runs per scenario (default 1)")
    p.add_argument("--scrape-interval", default="15s")
    p.add_argument("--rule-interval", default="15s")
    p.add_argument("--exporter-interval", default="15s", help="exporter evaluation_interval")
    p.add_argument("--probe-interval", type=float, default=1.0, help="seconds between probes")
    p.add_argument("--resolution", default="60s", help="exporter storage.resolution")
    p.add_argument("--lead", type=float, default=150.0,
                   help="seconds of a slow burn left to run live before its crossing")
    p.add_argument("--timeout", type=float, default=300.0,
                   help="seconds allowed beyond the floor before giving up")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)

    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    results: list[Result] = []
    for name in names:
        for i in range(args.repeat):
            with tempfile.TemporaryDirectory(prefix=f"detect-{name}-") as tmp:
                print(f"running {name} #{i + 1} ...", flush=True)
                try:
                    runner = run_ratio if name == "ratio" else run
                    results.append(runner(SCENARIOS[name], args, Path(tmp)))
                except HarnessError as exc:
                    print(f"{name} failed: {exc}", file=sys.stderr)
                    return 1
                print(f"  {results[-1]}", flush=True)

    print()
    print(f"{'scenario':<9} {'floor s':>9} {'detected s':>11} {'over floor s':>13}  pair    "
          f"receiver")
    for r in results:
        print(f"{r.scenario:<9} {r.floor_s:>9.1f} {r.detection_s:>11.1f} {r.overhead_s:>13.1f}  "
              f"{r.window_pair:<7} {r.receiver}")
    outage = [r.detection_s for r in results if r.scenario == "outage"]
    if outage:
        print(f"\ntotal outage: worst {max(outage):.1f}s against the 90s goal "
              f"({'met' if max(outage) <= 90 else 'missed'}); floor "
              f"{SCENARIOS['outage'].floor:.1f}s")
    ratio = [r.detection_s for r in results if r.scenario == "ratio"]
    if ratio:
        median = statistics.median(ratio)
        first, pair = history_floor(RATIO_HISTORY)
        print(f"\nratio SLO outage through the generated rules: median {median:.1f}s of "
              f"{len(ratio)} run(s) (worst {max(ratio):.1f}s) against the 75s goal "
              f"({'met' if median <= 75 else 'missed'}); floor "
              f"{SCENARIOS['ratio'].floor:.1f}s for 1h/5m, {first:.1f}s for {pair} with "
              f"{RATIO_HISTORY / 3600:g} h of history")
    if args.json:
        payload: dict[str, Any] = {"results": [asdict(r) for r in results]}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
