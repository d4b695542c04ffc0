"""The daemon's own failures (out of descriptors, threads, memory) are never the target's."""

from __future__ import annotations

import errno
import json
import os
import socket
import ssl
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from structlog.testing import capture_logs

import slo_exporter
from slo_exporter import model
from slo_exporter.probes import SELF_REASONS, Prober, ProbeResult, is_good
from slo_exporter.probes.env import ProbeEnv
from slo_exporter.probes.result import classify_os_error, self_error
from tests.support.probe_servers import Response, TCPServer, http_app

ROOT = Path(slo_exporter.__file__).resolve().parent.parent

# Runs in a child process: the limits it lowers must never touch the test
# process. It probes every kind against a healthy target once with room to
# spare (the control), then again after exhausting a resource.
CHILD = textwrap.dedent(
    """
    import json, resource, socket, sys, threading
    from slo_exporter import model
    from slo_exporter.probes import is_good, run_probe

    port, limit = int(sys.argv[1]), sys.argv[2]
    targets = {
        "http": model.HTTPProbe(url=f"http://127.0.0.1:{port}/"),
        "http_by_name": model.HTTPProbe(url=f"http://localhost:{port}/"),
        "tcp": model.TCPProbe(address=f"127.0.0.1:{port}"),
        "tls": model.TLSProbe(address=f"127.0.0.1:{port}"),
        "dns": model.DNSProbe(query_name="example.com", server=f"127.0.0.1:{port}"),
    }
    slis = {name: model.ProbeSLI(t, timeout=2.0) for name, t in targets.items()}
    control = run_probe(slis["http"]).reason
    if limit == "descriptors":
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
        hog = []
        try:
            while True:
                hog.append(socket.socket())
        except OSError:
            pass
    else:  # threads: no address space left for another thread's stack
        with open("/proc/self/status") as f:
            vm = next(int(l.split()[1]) for l in f if l.startswith("VmSize")) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (vm + (4 << 20), resource.RLIM_INFINITY))
    out = {"control": control}
    for name in ("http_by_name",) if limit == "threads" else targets:
        result = run_probe(slis[name])
        out[name] = [result.reason, is_good(slis[name], result)]
    print(json.dumps(out))
    """
)


def run_exhausted(limit: str, port: int) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(port), limit],
        capture_output=True, text=True, timeout=30, env=env, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out: dict[str, object] = json.loads(proc.stdout.splitlines()[-1])
    return out


def test_out_of_descriptors_is_a_self_error_for_every_probe_kind() -> None:
    """With the fd limit reached (EMFILE), every kind reports resource_exhausted, not an event."""
    with TCPServer(http_app(lambda r: Response())) as srv:
        out = run_exhausted("descriptors", srv.port)
    assert out.pop("control") == "ok"  # the target itself is healthy
    assert out == {
        "http": ["resource_exhausted", None],
        "http_by_name": ["resource_exhausted", None],  # not "name unknown"
        "tcp": ["resource_exhausted", None],
        "tls": ["resource_exhausted", None],
        "dns": ["resource_exhausted", None],
    }


def test_no_thread_for_the_resolver_is_a_self_error() -> None:
    """When no thread can start ("can't start new thread"), the probe is a self error."""
    with TCPServer(http_app(lambda r: Response())) as srv:
        out = run_exhausted("threads", srv.port)
    assert out == {"control": "ok", "http_by_name": ["resource_exhausted", None]}


@pytest.mark.parametrize("code", [errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS])
def test_local_resource_errnos_are_self_errors(code: int) -> None:
    """EMFILE, ENFILE, ENOMEM and ENOBUFS from a socket call say the daemon is exhausted."""
    assert classify_os_error(OSError(code, os.strerror(code))).reason == "resource_exhausted"


def test_target_errors_are_not_self_errors() -> None:
    """Refused, reset and unknown names stay failures of the target."""
    assert classify_os_error(ConnectionRefusedError(errno.ECONNREFUSED, "refused")).reason == (
        "connection_refused"
    )
    assert self_error(ConnectionResetError(errno.ECONNRESET, "reset")) is None
    assert self_error(socket.gaierror(socket.EAI_NONAME, "unknown")) is None
    assert self_error(RuntimeError("something else")) is None


def test_memory_and_thread_exceptions_are_self_errors() -> None:
    """MemoryError, "can't start new thread" and EAI_MEMORY map to resource_exhausted."""
    for exc in (
        MemoryError(),
        RuntimeError("can't start new thread"),
        socket.gaierror(socket.EAI_MEMORY, "Memory allocation failure"),
    ):
        failure = self_error(exc)
        assert failure is not None, exc
        assert failure.reason == "resource_exhausted"


def test_is_good_is_none_only_for_self_errors() -> None:
    """is_good says None (not an event) for each self error, True/False otherwise."""
    sli = model.ProbeSLI(model.TCPProbe(address="127.0.0.1:1"))
    assert {"resource_exhausted", "probe_late"} == SELF_REASONS
    for reason in SELF_REASONS:
        result = ProbeResult(False, 0.0, reason)
        assert result.self_error
        assert is_good(sli, result) is None
    assert is_good(sli, ProbeResult(False, 0.1, "connection_refused")) is False
    assert is_good(sli, ProbeResult(True, 0.1, "ok")) is True


class BrokenEnv(ProbeEnv):
    """An environment with a bug: building a TLS context raises."""

    def tls_context(self, cfg: model.TLSConfig) -> ssl.SSLContext:
        raise KeyError("a bug")


def test_unexpected_exception_is_one_failed_result_logged_with_traceback() -> None:
    """A bug becomes reason "other" and one probe_crashed event with its traceback."""
    with TCPServer(http_app(lambda r: Response())) as srv:
        sli = model.ProbeSLI(model.TLSProbe(address=srv.address), timeout=1.0)
        with capture_logs() as logs:
            result = Prober(BrokenEnv()).run(sli, "shop/cert")
    assert (result.success, result.reason) == (False, "other")
    assert "a bug" in result.detail
    assert is_good(sli, result) is False
    [event] = logs
    assert event["event"] == "probe_crashed"
    assert (event["service"], event["slo"], event["module"]) == ("shop", "cert", "tls")
    assert event["exc_info"] is True


SCHEDULER_CHILD = textwrap.dedent(
    """
    import json, resource, threading, time
    from slo_exporter import model
    from slo_exporter.probes import ProbeResult, ProbeScheduler

    reasons = []
    sli = model.ProbeSLI(model.TCPProbe(address="127.0.0.1:1"), interval=0.02, timeout=0.01)
    sched = ProbeScheduler(
        [("svc/slo", sli)], lambda key, s, result, at: reasons.append(result.reason),
        runner=lambda s: ProbeResult(True, 0.0, "ok"),
    )
    with open("/proc/self/status") as f:
        vm = next(int(l.split()[1]) for l in f if l.startswith("VmSize")) * 1024
    sched.start()  # the timer thread runs; the pool starts its workers lazily
    resource.setrlimit(resource.RLIMIT_AS, (vm + (4 << 20), resource.RLIM_INFINITY))
    time.sleep(0.3)
    resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    time.sleep(0.3)
    alive = sched._thread.is_alive()
    sched.stop(1)
    print(json.dumps({"reasons": sorted(set(reasons)), "timer_alive": alive,
                      "after": reasons[-1] if reasons else None}))
    """
)


def test_pool_that_cannot_start_a_worker_reports_self_errors_and_recovers() -> None:
    """No thread for a worker: the run is a resource_exhausted self error; the timer lives on."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", SCHEDULER_CHILD],
        capture_output=True, text=True, timeout=30, env=env, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.splitlines()[-1])  # after the child's log lines
    assert out == {"reasons": ["ok", "resource_exhausted"], "timer_alive": True, "after": "ok"}
