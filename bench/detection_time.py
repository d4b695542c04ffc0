"""Detection time: from failure onset to the page at Alertmanager's webhook.

Runs the real chain on loopback, as deployed: slo-exporter, Prometheus
scraping it and evaluating rules, Alertmanager posting to a local webhook.
Prometheus scrapes and evaluates every 15 s, the exporter evaluates every
15 s (all configurable); the exporter's ``query_delay`` is its default
unless ``--query-delay`` is given.

Scenarios:

* ``outage`` - a total outage, at the same instant, of two 99.9 % / 30d SLOs
  served by one exporter, and five paths to a page measured in the same run:

  - a ratio SLO (``api/requests``) over ``http_requests_total{job="api"}``
    that Prometheus scrapes every 15 s from a local counter target, with
    2 hours of healthy history backfilled into Prometheus (promtool) and
    read by the exporter's cold start. It pages through (a) the generated
    rules (``slo-exporter rules`` loaded into Prometheus), (b) direct
    notification (``--alertmanager.url``, alerts labelled ``path="direct"``)
    and (c) Sloth-style recording and alerting rules for the same SLO in the
    same Prometheus (alert ``SlothHighErrorRate``, see
    ``bench/outage_chain.py``);
  - a probe SLO (``shop/homepage``, one probe a second, three days of good
    probes in the exporter's store) paging through the generated rules and
    through direct notification.

  The 1h/5m pair pages once the 1h error ratio passes 14.4 x 0.1 %, i.e.
  after 14.4 x 0.1 % of an hour = 51.84 s of failures: the nominal floor.
  With only 2 h of history the ratio SLO's 6h window holds 2 h plus the
  outage, so its 6h/30m pair crosses first, after 43.5 s: its own floor
  (``outage_floor``). The rest is the chain. Alertmanager runs the shipped routing (pages: 5 s
  ``group_wait``) with ``path`` added to ``group_by``, so each path is a
  notification of its own.
* ``burn10`` - the probe SLO only, generated rules only: 1 % of probes fail,
  a 10x burn, so the 6h/30m pair (factor 6) pages after 3.6 h; the first
  3.6 h minus ``--lead`` seconds are written into the store before start.

Usage::

    .venv/bin/python -m bench.detection_time [--scenario outage|burn10|all] [--runs 3]

Prints every run, then a table with the median per path, its margin over
the floor and over the Sloth-style rules, and the issue's goals.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.outage_chain import (
    FAMILY,
    JOB,
    SLOTH_ALERT,
    OutageCounters,
    floor_seconds,
    median,
    outage_floor,
    sloth_rules,
)
from tests.support.alerting_chain import (
    AlertmanagerProcess,
    FlakyTarget,
    Notification,
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
    ExporterProcess,
    HarnessError,
    PrometheusServer,
    SLOSpec,
    exporter_argv,
    running,
    wait_until,
)

OBJECTIVE = 0.999
PERIOD = 30 * 86400.0
PROBE_HISTORY = 3 * 86400.0
RATIO_RPS = 10.0
DIRECT_LABEL = ("path", "direct")

#: The floor of a total outage: the 1h/5m pair at 14.4x on a 99.9 % SLO.
OUTAGE_FLOOR = floor_seconds(OBJECTIVE, 14.4, 3600.0)
#: Per SLO, the floor given its history: the ratio SLO has only 2 h, so its
#: 6h window holds 2 h + the outage and the 6h/30m pair crosses first.
def floors(ratio_history: float) -> dict[str, tuple[float, str]]:
    """Each SLO's own floor and first pair, given its healthy history."""
    return {"ratio": outage_floor(OBJECTIVE, ratio_history),
            "probe": outage_floor(OBJECTIVE, PROBE_HISTORY)}
#: The 10x slow burn (1 % failures): the 6h/30m pair at 6x.
BURN10_FLOOR = floor_seconds(OBJECTIVE, 6.0, 6 * 3600.0, 0.01)

#: The issue's goals (seconds, onset to webhook), by path.
GOALS: Mapping[str, float] = {
    "ratio/direct": 65.0,
    "ratio/rules": 75.0,
    "probe/direct": 60.0,
}


@dataclass(frozen=True)
class PagePath:
    """One way a page reaches the webhook, told apart by its labels."""

    name: str
    alertname: str
    labels: Mapping[str, str]
    direct: bool | None  # True: must carry path="direct"; False: must not; None: not checked

    def matches(self, alert: Mapping[str, Any]) -> bool:
        labels = alert.get("labels", {})
        if alert.get("status") != "firing" or labels.get("alertname") != self.alertname:
            return False
        if any(labels.get(k) != v for k, v in self.labels.items()):
            return False
        if self.direct is None:
            return True
        return (labels.get(DIRECT_LABEL[0]) == DIRECT_LABEL[1]) is self.direct


PATHS = (
    PagePath("ratio/rules", "SLOBurnRatePage", {"service": "api", "slo": "requests"}, False),
    PagePath("ratio/direct", "SLOBurnRatePage", {"service": "api", "slo": "requests"}, True),
    PagePath("ratio/sloth", SLOTH_ALERT, {"sloth_slo": "requests", "sloth_severity": "page"},
             None),
    PagePath("probe/rules", "SLOBurnRatePage", {"service": "shop", "slo": "homepage"}, False),
    PagePath("probe/direct", "SLOBurnRatePage", {"service": "shop", "slo": "homepage"}, True),
)


@dataclass
class OutageRun:
    """One run of the outage scenario: seconds from onset to the page, per path."""

    detection_s: dict[str, float | None]
    window_pair: dict[str, str]
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    group_wait: str
    ratio_history_s: float
    settings: dict[str, str] = field(default_factory=dict)


def first_page(received: list[Notification], path: PagePath) -> tuple[Notification, Mapping[
        str, Any]] | None:
    """The first notification carrying a firing alert of ``path``, with that alert."""
    for n in received:
        for alert in n.alerts:
            if path.matches(alert):
                return n, alert
    return None


def bench_alertmanager_config(webhook_url: str) -> tuple[dict[str, Any], str]:
    """The shipped routing with ``path`` in ``group_by``; returns it and the pages' group_wait."""
    config = alertmanager_config(webhook_url)
    route = config["route"]
    route["group_by"] = [*route.get("group_by", []), DIRECT_LABEL[0]]
    page_route = next(r for r in route.get("routes", [])
                      if 'severity="page"' in r.get("matchers", []))
    return config, str(page_route.get("group_wait", route.get("group_wait")))


def generated_rules(config_path: Path, out: Path) -> None:
    """``slo-exporter rules`` written to ``out``, as a user deploys them."""
    try:
        done = subprocess.run([*exporter_argv(), "rules", f"--config.file={config_path}"],
                              capture_output=True, timeout=60, check=False)
    except subprocess.TimeoutExpired as exc:
        raise HarnessError("slo-exporter rules took over 60s") from exc
    if done.returncode != 0:
        raise HarnessError("slo-exporter rules failed:\n" + done.stderr.decode(errors="replace"))
    out.write_bytes(done.stdout)


def _present(prometheus: PrometheusServer, promql: str) -> Callable[[], bool | None]:
    """A wait_until probe: True once ``promql`` returns a series."""
    return lambda: True if prometheus.query(promql)["result"] else None


def run_outage(args: argparse.Namespace, workdir: Path) -> OutageRun:
    load_before = os.getloadavg()
    webhook = WebhookReceiver()
    probe_target = FlakyTarget()
    now = time.time()
    counters = OutageCounters(rps=RATIO_RPS, since=now - args.ratio_history * 3600.0)
    am_config, group_wait = bench_alertmanager_config(webhook.url)
    am = AlertmanagerProcess(workdir / "alertmanager", am_config)
    prometheus = PrometheusServer(workdir / "prometheus", scrape_interval=args.scrape_interval)

    config = probe_slo_config(
        target_url=f"{probe_target.url}/", prometheus_url=prometheus.url,
        objective=OBJECTIVE * 100, evaluation_interval=args.exporter_interval,
        probe_interval=f"{args.probe_interval:g}s", resolution=args.resolution,
    )
    probe_only = json.loads(json.dumps(config))
    ratio = SLOSpec("api", "requests", total=f'{FAMILY}_total{{job="{JOB}"}}',
                    bad=f'{FAMILY}_total{{job="{JOB}",code=~"5.."}}', objective=OBJECTIVE * 100)
    config["services"].append({"name": "api", "labels": {"owner": "platform", "tier": "critical"},
                               "slos": [ratio.config_entry()]})
    config["prometheus"]["timeout"] = "10s"
    if args.query_delay is not None:
        config["prometheus"]["query_delay"] = args.query_delay
    exporter = ExporterProcess(workdir / "exporter", config, extra_args=[
        f"--alertmanager.url={am.url}",
        f"--alertmanager.label={DIRECT_LABEL[0]}={DIRECT_LABEL[1]}",
    ])
    seed_probe_history(exporter.storage, probe_only, [(now - PROBE_HISTORY, now, 0.0)],
                       probes_per_second=1.0 / args.probe_interval)

    rules = workdir / "slo-exporter-rules.yml"
    generated_rules(exporter.config_path, rules)
    sloth = workdir / "sloth-rules.yml"
    sloth.write_text(yaml.safe_dump(
        sloth_rules(service="api", slo="requests", objective=OBJECTIVE, owner="platform"),
        sort_keys=False))
    prom_config = prometheus_config(
        exporter_address=f"{HOST}:{exporter.port}", alertmanager_address=f"{HOST}:{am.port}",
        scrape_interval=args.scrape_interval, evaluation_interval=args.rule_interval,
        rule_files=(rules, sloth))
    prom_config["scrape_configs"].append(counters.scrape_config(args.scrape_interval))
    prometheus.config_path.write_text(yaml.safe_dump(prom_config))
    history = workdir / "history.om"
    history.write_text(counters.history(end=time.time(), step=15.0))
    prometheus.backfill(history, timeout=120)

    webhook.start()
    probe_target.start()
    counters.start()
    try:
        am.start()
        with running(prometheus), running(exporter):
            prometheus.start()
            started = time.time()
            exporter.start(ready_timeout=180)
            for what, promql in (
                ("the ratio SLO's 1h burn rate",
                 'slo_burn_rate{service="api",slo="requests",window="1h"}'),
                ("the probe SLO's 1h burn rate",
                 'slo_burn_rate{service="shop",slo="homepage",window="1h"}'),
                ("the Sloth-style 1h error ratio",
                 'slo:sli_error:ratio_rate1h{sloth_slo="requests"}'),
            ):
                wait_until(_present(prometheus, promql), timeout=120,
                           what=f"{what} in Prometheus",
                           on_timeout=lambda: exporter.log_tail() + prometheus.log_tail())
            prometheus.wait_for_sample_after(f'{FAMILY}_total{{job="{JOB}"}}', started,
                                             timeout=60)
            early = [p.name for p in PATHS if first_page(webhook.received, p)]
            if early:
                raise HarnessError(f"paged before the outage: {early}")

            probe_onset = probe_target.set_failure_share(1.0)
            onset = counters.outage()
            onsets = {p.name: probe_onset if p.name.startswith("probe") else onset
                      for p in PATHS}
            deadline = onset + OUTAGE_FLOOR + args.timeout
            found: dict[str, tuple[Notification, Mapping[str, Any]]] = {}
            while time.time() < deadline and len(found) < len(PATHS):
                received = webhook.received
                for p in PATHS:
                    if p.name not in found and (hit := first_page(received, p)):
                        found[p.name] = hit
                time.sleep(0.2)
            detection: dict[str, float | None] = {}
            pairs: dict[str, str] = {}
            for p in PATHS:
                if p.name in found:
                    n, alert = found[p.name]
                    detection[p.name] = round(n.received_at - onsets[p.name], 1)
                    labels = alert.get("labels", {})
                    pairs[p.name] = (f"{labels.get('long_window')}/{labels.get('short_window')}"
                                     if "long_window" in labels else "1h/5m or 6h/30m")
                else:
                    detection[p.name] = None
                    pairs[p.name] = "-"
            if len(found) < len(PATHS):
                print("  missing pages; chain logs:\n" + exporter.log_tail(20) + "\n"
                      + am.log_tail(10), file=sys.stderr)
    finally:
        am.stop()
        counters.stop()
        probe_target.stop()
        webhook.stop()
    return OutageRun(
        detection_s=detection, window_pair=pairs, load_before=load_before,
        load_after=os.getloadavg(), group_wait=group_wait,
        ratio_history_s=args.ratio_history * 3600.0,
        settings={"scrape_interval": args.scrape_interval, "rule_interval": args.rule_interval,
                  "exporter_interval": args.exporter_interval,
                  "query_delay": args.query_delay or "default"},
    )


# ------------------------------------------------------------------ burn10


@dataclass(frozen=True)
class SlowBurnRun:
    floor_s: float
    detection_s: float
    window_pair: str
    receiver: str


def run_slow_burn(args: argparse.Namespace, workdir: Path) -> SlowBurnRun:
    """The probe SLO's 10x burn through the generated rules (see the module docstring)."""
    share = 0.01
    webhook = WebhookReceiver()
    target = FlakyTarget()
    webhook.start()
    target.start()
    am = AlertmanagerProcess(workdir / "alertmanager", alertmanager_config(webhook.url))
    config = probe_slo_config(
        target_url=f"{target.url}/", prometheus_url="http://127.0.0.1:9",
        objective=OBJECTIVE * 100, evaluation_interval=args.exporter_interval,
        probe_interval=f"{args.probe_interval:g}s", resolution=args.resolution,
    )
    exporter = ExporterProcess(workdir / "exporter", config)
    prometheus = PrometheusServer(workdir / "prometheus", scrape_interval=args.scrape_interval)
    prometheus.config_path.write_text(yaml.safe_dump(prometheus_config(
        exporter_address=f"{HOST}:{exporter.port}", alertmanager_address=f"{HOST}:{am.port}",
        scrape_interval=args.scrape_interval, evaluation_interval=args.rule_interval,
    )))
    now = time.time()
    # Fast-forward the slow part of the burn; leave `lead` seconds to live.
    onset_in_past = max(BURN10_FLOOR - args.lead, 0.0)
    seed_probe_history(exporter.storage, config, [
        (now - PROBE_HISTORY, now - onset_in_past, 0.0), (now - onset_in_past, now, share)],
        probes_per_second=1.0 / args.probe_interval)
    try:
        am.start()
        with running(prometheus), running(exporter):
            target.set_failure_share(share)
            exporter.start()
            prometheus.start()
            onset = now - onset_in_past
            page = webhook.wait_for(
                firing("SLOBurnRatePage", service="shop", slo="homepage"),
                timeout=BURN10_FLOOR - onset_in_past + args.timeout, what="the page (burn10)",
                on_timeout=lambda: exporter.log_tail() + "\n" + am.log_tail())
            alert = alert_in(page, "SLOBurnRatePage", "firing")
            return SlowBurnRun(
                floor_s=round(BURN10_FLOOR, 1), detection_s=round(page.received_at - onset, 1),
                window_pair=str(alert["annotations"].get("window_pair")),
                receiver=page.receiver_path)
    finally:
        am.stop()
        target.stop()
        webhook.stop()


# ------------------------------------------------------------------ report


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}"


def outage_table(runs: list[OutageRun]) -> str:
    """Per path: every run, the median, its margin over the floor and the Sloth rules, the goal."""
    medians = {p.name: median([v for r in runs if (v := r.detection_s[p.name]) is not None])
               for p in PATHS}
    sloth = medians["ratio/sloth"]
    head = (f"{'path':<13} {'runs (s)':<22} {'median s':>8} {'over 51.8':>9} "
            f"{'own floor':>13} {'over it':>7} {'vs Sloth':>8}  goal")
    lines = [head]
    for p in PATHS:
        values = [r.detection_s[p.name] for r in runs]
        m = medians[p.name]
        floor, pair = floors(runs[0].ratio_history_s)[p.name.split("/")[0]]
        nominal = None if m is None else m - OUTAGE_FLOOR
        over = None if m is None else m - floor
        vs = None if m is None or sloth is None or p.name.startswith("probe") else m - sloth
        goal = GOALS.get(p.name)
        verdict = "" if goal is None else (
            f"<= {goal:g} s " + ("met" if m is not None and m <= goal else "MISSED"))
        cells = [
            f"{p.name:<13}", f"{', '.join(_fmt(v) for v in values):<22}", f"{_fmt(m):>8}",
            f"{_signed(nominal):>9}", f"{f'{floor:.1f} {pair}':>13}", f"{_signed(over):>7}",
            f"{_signed(vs):>8}", f" {verdict}",
        ]
        lines.append(" ".join(cells).rstrip())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--scenario", choices=["outage", "burn10", "all"], default="outage")
    p.add_argument("--runs", type=int, default=3, help="runs per scenario (default 3)")
    p.add_argument("--scrape-interval", default="15s")
    p.add_argument("--rule-interval", default="15s")
    p.add_argument("--exporter-interval", default="15s", help="exporter evaluation_interval")
    p.add_argument("--query-delay", default=None,
                   help="exporter prometheus.query_delay (default: the exporter's default)")
    p.add_argument("--ratio-history", type=float, default=2.0,
                   help="hours of healthy ratio-SLO history backfilled (default 2; 6 or more "
                        "fill the 6h window, so the 1h/5m pair pages first)")
    p.add_argument("--probe-interval", type=float, default=1.0, help="seconds between probes")
    p.add_argument("--resolution", default="60s", help="exporter storage.resolution")
    p.add_argument("--lead", type=float, default=150.0,
                   help="burn10: seconds of the slow burn left to run live before its crossing")
    p.add_argument("--timeout", type=float, default=180.0,
                   help="seconds allowed beyond the floor before a path counts as not paged")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--keep", action="store_true",
                   help="keep each run's directory (configs, rule files, process logs)")
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error("--runs must be at least 1")

    names = ["outage", "burn10"] if args.scenario == "all" else [args.scenario]
    outage: list[OutageRun] = []
    slow: list[SlowBurnRun] = []
    for name in names:
        for i in range(args.runs):
            tmp = tempfile.mkdtemp(prefix=f"detect-{name}-")
            print(f"running {name} #{i + 1} in {tmp} ...", flush=True)
            try:
                if name == "outage":
                    outage.append(run_outage(args, Path(tmp)))
                    r = outage[-1]
                    print(f"  {r.detection_s}  load {r.load_before[0]:.2f} -> "
                          f"{r.load_after[0]:.2f}", flush=True)
                else:
                    slow.append(run_slow_burn(args, Path(tmp)))
                    print(f"  {slow[-1]}", flush=True)
            except HarnessError as exc:
                print(f"{name} failed: {exc}", file=sys.stderr)
                return 1
            finally:
                if not args.keep:
                    shutil.rmtree(tmp, ignore_errors=True)

    if outage:
        s = outage[0].settings
        ratio_floor, ratio_pair = floors(args.ratio_history * 3600.0)["ratio"]
        print(f"\ntotal outage, 99.9 % / 30d, nominal floor {OUTAGE_FLOOR:.1f} s (1h/5m at "
              f"14.4x); the ratio SLO's {args.ratio_history:g} h of history: first pair "
              f"{ratio_pair} at {ratio_floor:.1f} s; "
              f"scrape {s['scrape_interval']}, rules {s['rule_interval']}, exporter "
              f"{s['exporter_interval']}, query_delay {s['query_delay']}, Alertmanager "
              f"group_wait {outage[0].group_wait} for pages; {len(outage)} run(s)")
        print(outage_table(outage))
        loads = [x for r in outage for x in (r.load_before[0], r.load_after[0])]
        print(f"1-minute load average during the runs: {min(loads):.2f} to {max(loads):.2f} "
              f"({os.cpu_count()} CPUs)")
    if slow:
        print(f"\n10x burn (probe, generated rules), floor {BURN10_FLOOR:.1f} s: "
              + ", ".join(f"{r.detection_s:.1f} s ({r.window_pair})" for r in slow))
    if args.json:
        payload: dict[str, Any] = {"outage": [asdict(r) for r in outage],
                                   "burn10": [asdict(r) for r in slow],
                                   "floor_s": {"outage": OUTAGE_FLOOR, "burn10": BURN10_FLOOR}}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    missing = any(v is None for r in outage for v in r.detection_s.values())
    return 2 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
