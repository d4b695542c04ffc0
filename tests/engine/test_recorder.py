"""The probe recorder: results that are no event of the target are skipped, and a failed
write makes the probe SLO down with the reason until a write succeeds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

from slo_exporter.config import parse_config
from slo_exporter.engine import Engine
from slo_exporter.errors import StoreError
from slo_exporter.model import SLO, ProbeSLI
from slo_exporter.probes import ProbeMetrics, ProbeResult
from slo_exporter.recorder import ProbeRecorder
from slo_exporter.store import EventStore, SQLiteStore
from tests.engine.support import CONFIG, NOW, ScriptedSource

PROBE = "web/probe"
OK = ProbeResult(success=True, duration=0.01, reason="ok")
EMFILE = ProbeResult(success=False, duration=0.0, reason="other",
                     detail="[Errno 24] Too many open files")


class FillingDisk(SQLiteStore):
    """A real store whose writes fail while ``full`` is set, as on a full disk."""

    full = False

    def commit(self, slo_key: str, *args: Any, **kwargs: Any) -> None:
        if self.full:
            raise StoreError(f"event store {self.path}: database or disk is full")
        super().commit(slo_key, *args, **kwargs)


def _probe_slo() -> tuple[SLO, ProbeSLI]:
    slo = next(s for s in parse_config(CONFIG, "t.yaml").slos if s.key == PROBE)
    assert isinstance(slo.sli, ProbeSLI)
    return slo, slo.sli


def _not_the_targets_fault(sli: ProbeSLI, result: ProbeResult) -> bool | None:
    """A judge in the shape ``is_good`` takes: None for the exporter's own failures."""
    if "Too many open files" in result.detail:
        return None
    return result.success


def test_results_that_are_no_event_of_the_target_are_skipped(store: EventStore) -> None:
    """A result judged None is not stored, is counted, and is logged once per streak."""
    slo, sli = _probe_slo()
    errors: list[str] = []
    recorder = ProbeRecorder(store, {PROBE: slo}, ProbeMetrics(), errors.append,
                             judge=_not_the_targets_fault)
    with capture_logs() as logs:
        for i in range(5):
            recorder(PROBE, sli, EMFILE, NOW + i)
        recorder(PROBE, sli, OK, NOW + 10)
        recorder(PROBE, sli, EMFILE, NOW + 11)
    assert store.sum(PROBE, 0.0, NOW + 60).total == 1.0
    assert recorder.skipped(PROBE) == 6
    assert recorder.last_seen(PROBE) == NOW + 10
    assert errors == []
    skipped = [e for e in logs if e["event"] == "probe_result_skipped"]
    assert len(skipped) == 2
    assert (skipped[0]["service"], skipped[0]["slo"]) == ("web", "probe")


def test_a_failed_write_is_a_fault_until_a_write_succeeds(tmp_path: Path) -> None:
    """A full disk sets the SLO's fault, counts and logs it once; the next good write clears it."""
    slo, sli = _probe_slo()
    store = FillingDisk(tmp_path, 60.0)
    errors: list[str] = []
    recorder = ProbeRecorder(store, {PROBE: slo}, ProbeMetrics(), errors.append)
    try:
        with capture_logs() as logs:
            recorder(PROBE, sli, OK, NOW)
            store.full = True
            recorder(PROBE, sli, OK, NOW + 10)
            recorder(PROBE, sli, OK, NOW + 20)
            fault = recorder.fault(PROBE)
            store.full = False
            recorder(PROBE, sli, OK, NOW + 30)
    finally:
        store.close()
    assert fault is not None
    assert fault.startswith("store write failed: ")
    assert "disk is full" in fault
    assert recorder.fault(PROBE) is None
    assert errors == ["store", "store"]
    assert [e["event"] for e in logs] == ["store_failed", "store_recovered"]


def test_a_full_disk_turns_the_probe_slo_down_with_the_reason(tmp_path: Path) -> None:
    """The engine shows the recorder's write fault: the SLO is down, not silently up."""
    config = parse_config(CONFIG, "t.yaml")
    slo, sli = _probe_slo()
    store = FillingDisk(tmp_path, 60.0)
    clock = [NOW]
    recorder = ProbeRecorder(store, {PROBE: slo}, ProbeMetrics(), lambda reason: None)
    engine = Engine(config, store, ScriptedSource(), clock=lambda: clock[0],
                    probe_last_seen=recorder.last_seen, probe_fault=recorder.fault)
    try:
        recorder(PROBE, sli, OK, NOW)
        engine.evaluate()
        store.full = True
        for i in range(1, 4):  # results keep arriving; none can be written
            clock[0] = NOW + 5 * i
            recorder(PROBE, sli, OK, clock[0])
        down = next(s for s in engine.refresh_probes().slos if s.slo.key == PROBE)
        store.full = False
        clock[0] = NOW + 20
        recorder(PROBE, sli, OK, clock[0])
        up = next(s for s in engine.refresh_probes().slos if s.slo.key == PROBE)
    finally:
        store.close()
    assert not down.up
    assert (down.error or "").startswith("store write failed")
    assert up.up
    assert up.error is None


def test_last_seen_is_carried_over_for_kept_slos_only(store: EventStore) -> None:
    """A reload hands last-seen times to the new recorder for the SLOs it still has."""
    slo, _ = _probe_slo()
    recorder = ProbeRecorder(store, {PROBE: slo}, ProbeMetrics(), lambda reason: None,
                             {PROBE: NOW, "gone/slo": NOW})
    assert recorder.last_seen_all() == {PROBE: NOW}
