"""Command line: ``slo-exporter run|check|rules|demo`` with Prometheus-style flags.

User errors (bad config, unusable storage path, port in use) print a located
message and exit non-zero without a traceback. Storage is opened before the
listen address is bound, and each failure is named for what failed:
``storage_unusable`` (also a full disk) or ``listen_failed``.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Callable, Sequence

import structlog

from slo_exporter import __version__, logs
from slo_exporter.config import ConfigWarning, load_config
from slo_exporter.daemon import Daemon, ListenError, Options, log_config_warnings
from slo_exporter.demo import serve
from slo_exporter.errors import ConfigError, StoreError
from slo_exporter.model import Config
from slo_exporter.redact import scrub
from slo_exporter.rules import render_rules
from slo_exporter.runtime import check_prometheus_settings
from slo_exporter.store import EventStore, SQLiteStore
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

    run = sub.add_parser("run", help="run the daemon")
    common(run)
    run.add_argument("--web.listen-address", dest="listen_address", default=DEFAULT_LISTEN,
                     metavar="ADDR", help=f"address to serve HTTP on (default: {DEFAULT_LISTEN})")
    run.add_argument("--web.config.file", dest="web_config_file", default="", metavar="FILE",
                     help="TLS and basic auth settings (exporter-toolkit web config format)")
    run.add_argument("--storage.path", dest="storage_path", default="data",
                     metavar="DIR", help="directory of the event store (default: data)")

    check = sub.add_parser("check", help="validate a configuration file and exit")
    common(check)

    rules = sub.add_parser("rules", help="print the Prometheus alerting rule file")
    rules.add_argument("--config.file", dest="config_file", metavar="FILE",
                       help="optional; the rules are generic over every SLO")

    demo = sub.add_parser("demo", help="serve a demo target whose failures can be injected")
    demo.add_argument("--listen-address", dest="listen_address", default="127.0.0.1:8080",
                      metavar="ADDR", help="address to serve on (default: 127.0.0.1:8080)")
    demo.add_argument("--failure-ratio", dest="failure_ratio", type=float, default=0.0,
                      help="share of requests answered with 500 at start (default: 0)")
    return p


def main(argv: Sequence[str] | None = None, *,
         started: Callable[[Daemon], None] | None = None, exiting: bool = False) -> int:
    """Run the command line; ``started`` sees the daemon once it serves (for tests).

    ``exiting``: the process ends when this returns, so ``run`` leaves the stop
    signals ignored instead of restoring their default actions.
    """
    args = _parser().parse_args(argv)
    if args.command == "rules":
        sys.stdout.write(render_rules())
        return 0
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
    if args.command == "check":
        sys.stderr.writelines(f"{warning}\n" for warning in warnings)
    else:
        log_config_warnings(warnings)
    try:
        check_prometheus_settings(config)
    except ValueError as exc:
        sys.stderr.write(f"{args.config_file}: {scrub(str(exc))}\n")
        sys.stderr.write("1 problem(s) found; the configuration is invalid.\n")
        return 1
    if args.command == "check":
        slos = len(config.slos)
        sys.stdout.write(
            f"{args.config_file}: OK, {len(config.services)} service(s), {slos} SLO(s)\n")
        return 0
    return _run(args, config, started, exiting)


def _run(args: argparse.Namespace, config: Config,
         started: Callable[[Daemon], None] | None, exiting: bool) -> int:
    log = structlog.get_logger("slo_exporter")
    if args.web_config_file:
        try:
            load_web_config(args.web_config_file)
        except ConfigError as exc:
            sys.stderr.write(f"{exc}\n")
            sys.stderr.write(f"{len(exc.problems)} problem(s) found; the web config is invalid.\n")
            return 1
    options = Options(args.listen_address, args.storage_path, args.config_file,
                      web_config_file=args.web_config_file)
    store = _open_store(options.storage_path, config.storage.resolution)
    if store is None:
        return 1
    try:
        daemon = Daemon(config, options, store)
    except ListenError as exc:
        store.close()
        log.error("listen_failed", address=args.listen_address, error=str(exc))
        return 1
    except StoreError as exc:
        store.close()
        log.error("storage_unusable", path=args.storage_path, error=str(exc))
        return 1
    log.info("starting", version=__version__, config=args.config_file,
             services=len(config.services), slos=len(config.slos))
    if started is None:
        return daemon.run(keep_handlers=exiting)
    daemon.start()
    started(daemon)
    return daemon.wait()


def _open_store(path: str, resolution: float) -> EventStore | None:
    """The event store, or None after logging why it cannot be used.

    A full disk or a path that cannot be written shows up as OSError or a
    SQLite error as well as StoreError, depending on which write fails first;
    each is a storage problem, never a listen problem.
    """
    try:
        return SQLiteStore(path, resolution)
    except (StoreError, OSError, sqlite3.Error) as exc:
        structlog.get_logger("slo_exporter").error("storage_unusable", path=path, error=str(exc))
        return None


def entry() -> None:
    """The ``slo-exporter`` command: ``main`` for a process that exits when it returns."""
    raise SystemExit(main(exiting=True))


if __name__ == "__main__":
    entry()
