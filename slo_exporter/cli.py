"""Command line: ``slo-exporter run|check|rules|demo`` with Prometheus-style flags.

User errors (bad config, unusable storage path, port in use) print a located
message and exit non-zero without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import structlog

from slo_exporter import __version__, logs
from slo_exporter.config import ConfigWarning, load_config
from slo_exporter.daemon import Daemon, Options
from slo_exporter.demo import serve
from slo_exporter.errors import ConfigError, StoreError
from slo_exporter.rules import render_rules
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


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "rules":
        sys.stdout.write(render_rules())
        return 0
    if args.command == "demo":
        logs.configure("info", "logfmt")
        return serve(args.listen_address, args.failure_ratio)

    logs.configure(args.log_level, args.log_format)
    log = structlog.get_logger("slo_exporter")
    warnings: list[ConfigWarning] = []
    try:
        config = load_config(args.config_file, warnings)
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        sys.stderr.write(f"{len(exc.problems)} problem(s) found; the configuration is invalid.\n")
        return 1
    for warning in warnings:  # valid but probably not meant: said, never fatal
        if args.command == "check":
            sys.stderr.write(f"{warning}\n")
        else:
            log.warning("config_warning", file=warning.file, line=warning.line,
                        path=warning.path, reason=warning.reason)
    if args.command == "check":
        slos = len(config.slos)
        sys.stdout.write(
            f"{args.config_file}: OK, {len(config.services)} service(s), {slos} SLO(s)\n")
        return 0

    if args.web_config_file:
        try:
            load_web_config(args.web_config_file)
        except ConfigError as exc:
            sys.stderr.write(f"{exc}\n")
            sys.stderr.write(f"{len(exc.problems)} problem(s) found; the web config is invalid.\n")
            return 1
    try:
        daemon = Daemon(config, Options(args.listen_address, args.storage_path, args.config_file,
                                        web_config_file=args.web_config_file))
    except StoreError as exc:
        log.error("storage_unusable", path=args.storage_path, error=str(exc))
        return 1
    except (OSError, ValueError) as exc:
        log.error("listen_failed", address=args.listen_address, error=str(exc))
        return 1
    log.info("starting", version=__version__, config=args.config_file,
             services=len(config.services), slos=len(config.slos))
    return daemon.run()


if __name__ == "__main__":
    raise SystemExit(main())
