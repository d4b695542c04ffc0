"""Command line: ``slo-exporter run|check|convert|rules|report|demo`` with Prometheus-style flags.

User errors (bad config, unusable storage path, port in use) print a located
message and exit non-zero without a traceback; impossible shard flags (an
index not below ``--shard.count``, no ordinal in the hostname) exit 2, a
composite whose components are on another shard exits 1. Storage is opened before the
listen address is bound, and each failure is named for what failed:
``storage_unusable`` (also a full disk) or ``listen_failed``.

``report`` exits 2 for a bad period or time (like a bad flag), 1 when the
config or the store cannot be used or some SLO's Prometheus history could
not be read (the report is still written, saying so), else 0.

``convert`` exits 1 when the file is invalid, holds a value the native
format cannot (each named with file, field and reason) or the output cannot
be written, else 0.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import structlog

from slo_exporter import __version__, logs
from slo_exporter.config import ConfigWarning, load_config, parse_config
from slo_exporter.config.writer import carried_origins, convert
from slo_exporter.daemon import (
    Daemon,
    ListenError,
    Options,
    load_logging_warnings,
    log_config_warnings,
)
from slo_exporter.demo import serve
from slo_exporter.durations import parse_duration
from slo_exporter.errors import ConfigError, StoreError
from slo_exporter.model import SLO, Config
from slo_exporter.notify import AlertmanagerURL, NotifierSettings
from slo_exporter.prometheus import PrometheusClient
from slo_exporter.redact import remember_config, scrub
from slo_exporter.report import CHARTED, FORMATS, ReportArgumentError, Request, build_report, render
from slo_exporter.rules import render_rules
from slo_exporter.runtime import check_prometheus_settings, needs_prometheus
from slo_exporter.sharding import Shard, ShardMetrics, describe, select
from slo_exporter.store import FILENAME, EventStore, PostgresStore, SQLiteStore
from slo_exporter.store.postgres import describe_url
from slo_exporter.webconfig import load_web_config

#: Outside the 9100-9999 exporter block of Prometheus's default port
#: allocations, which is full; see README "Listen port".
DEFAULT_PORT = 10950
DEFAULT_LISTEN = f":{DEFAULT_PORT}"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="slo-exporter",
        description="Exact, restart-proof SLOs from Prometheus metrics and active probes.",
    )
    p.add_argument("--version", action="version", version=f"slo-exporter {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(cmd: argparse.ArgumentParser, *, config_required: bool = True) -> None:
        cmd.add_argument("--config.file", dest="config_file", required=config_required,
                         metavar="FILE", help="SLO configuration file (YAML)")
        cmd.add_argument("--log.level", dest="log_level", default="info",
                         choices=logs.LEVELS, help="minimum level logged (default: info)")
        cmd.add_argument("--log.format", dest="log_format", default="logfmt",
                         choices=("logfmt", "json"), help="log line format (default: logfmt)")

    def sharding(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument("--shard.count", dest="shard_count", type=_shard_number,
                         metavar="N", help="split the SLOs over N daemons by a stable hash "
                         "of service/slo (see README \"Sharding\"); default: one, unsharded")
        cmd.add_argument("--shard.index", dest="shard_index", type=_shard_number,
                         metavar="I", help="this daemon's shard, 0..N-1; default with "
                         "--shard.count: the -<ordinal> ending the hostname (StatefulSet pod)")

    run = sub.add_parser("run", help="run the daemon")
    common(run)
    sharding(run)
    run.add_argument("--web.listen-address", dest="listen_address", default=DEFAULT_LISTEN,
                     metavar="ADDR", help=f"address to serve HTTP on (default: {DEFAULT_LISTEN})")
    run.add_argument("--web.config.file", dest="web_config_file", default="", metavar="FILE",
                     help="TLS and basic auth settings (exporter-toolkit web config format)")
    run.add_argument("--storage.path", dest="storage_path", default="data",
                     metavar="DIR", help="directory of the event store (default: data)")
    run.add_argument("--storage.url", dest="storage_url", default=None, type=_storage_url,
                     metavar="URL",
                     help="keep the events in PostgreSQL instead (postgresql://user:password@"
                          "host:port/db), shared by replicas: one writes, the others stand by")

    run.add_argument("--alertmanager.url", dest="alertmanager_urls", action="append",
                     default=[], type=_alertmanager_url, metavar="URL",
                     help="post alerts to this Alertmanager's v2 API directly; repeat for "
                          "every member of a cluster (user:password@ in the URL is basic auth)")
    run.add_argument("--alertmanager.timeout", dest="alertmanager_timeout", default=10.0,
                     type=_positive_duration, metavar="DURATION",
                     help="deadline of one post to Alertmanager (default: 10s)")
    run.add_argument("--alertmanager.resend-interval", dest="alertmanager_resend",
                     default=60.0, type=_positive_duration, metavar="DURATION",
                     help="how often firing alerts are sent again (default: 1m)")
    run.add_argument("--alertmanager.label", dest="alertmanager_labels", action="append",
                     default=[], type=_label, metavar="NAME=VALUE",
                     help="add this label to every alert sent directly (repeatable), e.g. the "
                          "job, instance and external labels Prometheus' alerts carry")

    check = sub.add_parser("check", help="validate a configuration file and exit")
    common(check)
    sharding(check)
    check.add_argument("--storage.url", dest="storage_url", default=None, type=_storage_url,
                       metavar="URL",
                       help="check as for shards sharing this PostgreSQL store, where a "
                            "composite may read other shards' SLOs (nothing is connected)")

    convert = sub.add_parser(
        "convert", help="write a configuration of any dialect (Sloth, OpenSLO, ...) as native")
    common(convert)
    convert.add_argument("-o", "--output", metavar="FILE", default="-",
                         help="write here instead of standard output")

    report = sub.add_parser(
        "report", help="what every SLO achieved over a calendar period or a span of time")
    common(report)
    sharding(report)
    report.add_argument("--storage.path", dest="storage_path", default="data", metavar="DIR",
                        help="event store of the daemon, opened read-only (default: data); "
                             "where it does not reach back, Prometheus history is read")
    report.add_argument("--storage.url", dest="storage_url", default=None, type=_storage_url,
                        metavar="URL", help="the daemon's PostgreSQL store, opened read-only")
    report.add_argument("--period", metavar="LABEL",
                        help="a month (2026-03), quarter (2026-Q1) or ISO week (2026-W10), "
                             "in each SLO's calendar time zone (UTC for rolling windows)")
    report.add_argument("--from", dest="since", metavar="TIME",
                        help="start: a date (2026-03-01) or RFC 3339 time with offset")
    report.add_argument("--to", dest="until", metavar="TIME",
                        help="end, exclusive: a date or RFC 3339 time with offset")
    report.add_argument("--at", metavar="TIME",
                        help="report as of this past instant (default: now)")
    report.add_argument("--format", dest="format", default="markdown", choices=FORMATS,
                        help="output format (default: markdown)")
    report.add_argument("--output", metavar="FILE", default="-",
                        help="write here instead of standard output")

    rules = sub.add_parser("rules", help="print the Prometheus alerting rule file")
    rules.add_argument("--config.file", dest="config_file", metavar="FILE",
                       help="optional; adds the rules of SLOs with alerting of their own")

    demo = sub.add_parser("demo", help="serve a demo target whose failures can be injected")
    demo.add_argument("--listen-address", dest="listen_address", default="127.0.0.1:8080",
                      metavar="ADDR", help="address to serve on (default: 127.0.0.1:8080)")
    demo.add_argument("--failure-ratio", dest="failure_ratio", type=float, default=0.0,
                      help="share of requests answered with 500 at start (default: 0)")
    return p


def _alertmanager_url(text: str) -> AlertmanagerURL:
    try:
        return AlertmanagerURL.parse(text)
    except ValueError as exc:  # the message never repeats the URL: it may hold a password
        raise argparse.ArgumentTypeError(str(exc)) from None


def _storage_url(text: str) -> str:
    try:
        describe_url(text)
    except StoreError as exc:  # the message never repeats the URL: it may hold a password
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _positive_duration(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive duration, got {text!r}")
    return seconds


def _shard_number(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}")
    return int(text)


_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def _label(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not _LABEL_NAME.fullmatch(name) or name.startswith("__"):
        raise argparse.ArgumentTypeError(
            f"expected NAME=VALUE with a Prometheus label name, e.g. instance=host:10950; "
            f"got {text!r}")
    return name, value


def _notifier_settings(args: argparse.Namespace) -> NotifierSettings | None:
    if not args.alertmanager_urls:
        return None
    return NotifierSettings(
        urls=tuple(args.alertmanager_urls),
        timeout=args.alertmanager_timeout,
        resend_interval=args.alertmanager_resend,
        extra_labels=dict(args.alertmanager_labels),
    )


def _rules(config_file: str | None) -> int:
    """Print the rule file; with a config, plus its SLOs' own alerts."""
    slos: tuple[SLO, ...] = ()
    if config_file:
        try:
            slos = load_config(config_file).slos
        except ConfigError as exc:
            sys.stderr.write(f"{exc}\n")
            sys.stderr.write(
                f"{len(exc.problems)} problem(s) found; the configuration is invalid.\n")
            return 1
    sys.stdout.write(render_rules(slos=slos))
    return 0


def main(argv: Sequence[str] | None = None, *,
         started: Callable[[Daemon], None] | None = None, exiting: bool = False) -> int:
    """Run the command line; ``started`` sees the daemon once it serves (for tests).

    ``exiting``: the process ends when this returns, so ``run`` leaves the stop
    signals ignored instead of restoring their default actions.
    """
    args = _parser().parse_args(argv)
    if args.command == "rules":
        return _rules(args.config_file)
    if args.command == "demo":
        logs.configure("info", "logfmt")
        return serve(args.listen_address, args.failure_ratio)

    logs.configure(args.log_level, args.log_format)
    warnings: list[ConfigWarning] = []
    try:
        config = load_config(args.config_file, warnings)
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        sys.stderr.write(f"{len(exc.problems)} problem(s) found; the configuration is invalid.\n")
        return 1
    # valid but probably not meant: said, never fatal
    if args.command in ("check", "convert"):
        sys.stderr.writelines(f"{warning}\n" for warning in warnings)
    else:
        log_config_warnings(warnings)
    try:
        check_prometheus_settings(config)
    except ValueError as exc:
        sys.stderr.write(f"{args.config_file}: {scrub(str(exc))}\n")
        sys.stderr.write("1 problem(s) found; the configuration is invalid.\n")
        return 1
    if args.command == "convert":
        return _convert(args, config)
    shard: Shard | None
    try:
        if args.command == "check" and args.shard_index is None and args.shard_count is not None:
            shard = Shard(0, args.shard_count)  # check shows every shard: no index of its own
        else:
            shard = Shard.resolve(args.shard_index, args.shard_count, socket.gethostname())
        shared = bool(getattr(args, "storage_url", None))  # shards read each other's SLOs
        owned = config if shard is None else select(config, shard, shared=shared)
    except ValueError as exc:
        sys.stderr.write(f"slo-exporter {args.command}: error: {exc}\n")
        return 2
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        sys.stderr.write(f"{len(exc.problems)} problem(s) found; the configuration "
                         f"cannot be split over {args.shard_count} shards.\n")
        return 1
    if args.command == "report":  # a shard's report: the SLOs its store holds
        return _report(args, owned)
    if args.command == "check":
        slos = len(config.slos)
        sys.stdout.write(
            f"{args.config_file}: OK, {len(config.services)} service(s), {slos} SLO(s)\n")
        if shard is not None:
            sys.stdout.write(describe(config, shard.count))
        return 0
    return _run(args, owned, started, exiting, shard)


def _run(args: argparse.Namespace, config: Config,
         started: Callable[[Daemon], None] | None, exiting: bool,
         shard: Shard | None = None) -> int:
    """Run the daemon on ``config`` (already narrowed to ``shard``'s SLOs)."""
    log = structlog.get_logger("slo_exporter")
    if args.web_config_file:
        try:
            load_web_config(args.web_config_file)
        except ConfigError as exc:
            sys.stderr.write(f"{exc}\n")
            sys.stderr.write(f"{len(exc.problems)} problem(s) found; the web config is invalid.\n")
            return 1
    options = Options(args.listen_address, args.storage_path, args.config_file,
                      web_config_file=args.web_config_file,
                      alertmanager=_notifier_settings(args))
    store = _open_store(options.storage_path, config.storage.resolution,
                        args.storage_url or "", shard)
    if store is None:
        return 1
    load = load_logging_warnings
    if shard is not None:
        def load(path: str) -> Config:  # a reload keeps to this shard's SLOs
            return select(load_logging_warnings(path), shard, shared=bool(args.storage_url))
    try:
        daemon = Daemon(config, options, store, load=load)
    except ListenError as exc:
        store.close()
        log.error("listen_failed", address=args.listen_address, error=str(exc))
        return 1
    except StoreError as exc:
        store.close()
        log.error("storage_unusable", **_where(args), error=str(exc))
        return 1
    if shard is not None:
        daemon.registry.register(ShardMetrics(shard, lambda: daemon.config))
        log.info("shard_selected", index=shard.index, count=shard.count,
                 slos=len(config.slos))
    log.info("starting", version=__version__, config=args.config_file,
             services=len(config.services), slos=len(config.slos))
    if started is None:
        return daemon.run(keep_handlers=exiting)
    daemon.start()
    started(daemon)
    return daemon.wait()


def _report(args: argparse.Namespace, config: Config) -> int:
    log = structlog.get_logger("slo_exporter")
    remember_config(config)  # masked in the report and its log, as in the daemon's
    try:
        request = Request.parse(args.period, args.since, args.until, args.at)
    except ReportArgumentError as exc:
        sys.stderr.write(f"slo-exporter report: error: {exc}\n")
        return 2
    store: EventStore | None = None
    clients: list[PrometheusClient] = []

    def prometheus() -> PrometheusClient:
        clients.append(PrometheusClient(config.prometheus))
        return clients[-1]

    try:
        if args.storage_url:
            store = PostgresStore(args.storage_url, config.storage.resolution, readonly=True)
        elif (Path(args.storage_path) / FILENAME).exists():
            # read-only: no lock, so it runs beside the daemon that writes
            store = SQLiteStore(args.storage_path, config.storage.resolution, readonly=True)
        else:
            log.info("report_without_store", path=args.storage_path)
        report = build_report(
            config, request, store=store,
            prometheus=prometheus if needs_prometheus(config) else None,
            now=time.time(), log=log, days=args.format in CHARTED,
        )
    except ReportArgumentError as exc:
        sys.stderr.write(f"slo-exporter report: error: {exc}\n")
        return 2
    except (StoreError, sqlite3.Error, OSError) as exc:
        log.error("storage_unusable", **_where(args), error=str(exc))
        return 1
    except ValueError as exc:  # data the figures cannot use: said, never a traceback
        log.error("report_failed", error=scrub(str(exc)))
        return 1
    finally:
        for client in clients:
            client.close()
        if store is not None:
            store.close()
    try:
        _write(args.output, render(report, args.format))
    except OSError as exc:
        log.error("report_write_failed", output=args.output, error=str(exc))
        return 1
    return 1 if report.failures else 0


def _convert(args: argparse.Namespace, config: Config) -> int:
    """Write ``config`` as native YAML, checked by reading it back; 1 if it cannot be."""
    # origin comments of a file convert wrote before are kept
    try:
        source = Path(args.config_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        source = ""  # it was read a moment ago; without its comments it still converts
    origins = carried_origins(source)
    remember_config(config)  # a problem's text never shows a configured secret
    name = "converted.yaml" if args.output == "-" else args.output
    try:
        text = convert(config, lambda written: parse_config(written, name), origins)
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        sys.stderr.write(
            f"{len(exc.problems)} problem(s) found; the configuration cannot be converted.\n")
        return 1
    try:
        _write(args.output, text)
    except OSError as exc:
        sys.stderr.write(f"slo-exporter convert: cannot write {args.output}: {exc.strerror}\n")
        return 1
    return 0


def _write(output: str, content: str) -> None:
    """To stdout for ``-``; else whole or not at all (a temp file renamed over ``output``)."""
    if output == "-":
        sys.stdout.write(content)
        return
    target = Path(output)
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(content)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _where(args: argparse.Namespace) -> dict[str, str]:
    """Log fields naming the store: its directory, or its database without the password."""
    if args.storage_url:
        return {"url": describe_url(args.storage_url)}
    return {"path": args.storage_path}


def _open_store(path: str, resolution: float, url: str = "",
                shard: Shard | None = None) -> EventStore | None:
    """The event store, or None after logging why it cannot be used.

    A full disk or a path that cannot be written shows up as OSError or a
    SQLite error as well as StoreError, depending on which write fails first;
    each is a storage problem, never a listen problem. A PostgreSQL store
    opens as the writer when the role is free, else as a standby (of its
    shard's writer role, when sharded).
    """
    log = structlog.get_logger("slo_exporter")
    try:
        if url:
            store = PostgresStore(url, resolution, standby=True, shard=shard)
            log.info("store_opened", url=store.name,
                     role="standby" if store.readonly else "writer")
            return store
        return SQLiteStore(path, resolution)
    except (StoreError, OSError, sqlite3.Error) as exc:
        log.error("storage_unusable", **({"url": describe_url(url)} if url else {"path": path}),
                  error=str(exc))
        return None


def entry() -> None:
    """The ``slo-exporter`` command: ``main`` for a process that exits when it returns."""
    raise SystemExit(main(exiting=True))


if __name__ == "__main__":
    entry()
