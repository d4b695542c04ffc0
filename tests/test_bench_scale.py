"""The scale bench's pure parts: the SLO layout and config, figure parsing, the report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import requests
import yaml

from bench.scale import (
    Layout,
    Linear,
    ProbeTarget,
    Run,
    Sizing,
    api_filter,
    api_rows,
    cpu_seconds,
    fit,
    fit_linear,
    fit_sizing,
    fit_staged,
    grid_points,
    load_runs,
    logged_queries,
    millicores,
    native_config,
    own_figures,
    page_filter,
    probe_timeout,
    progress_events,
    quantity,
    render_report,
    render_sizing,
    round_up,
    sample_count,
    slo_counts,
    slope_per_hour,
    status_field,
    warm_up_seconds,
    write_history,
)
from slo_exporter.config import parse_config
from tests.support.harness import HarnessError

STAT = (
    "4242 (slo-exporter (py)) S 1 4242 4242 0 -1 4194304 9000 0 12 0 "
    "1234 567 0 0 20 0 17 0 100 200000000 30000 18446744073709551615"
)


def test_layout_spreads_slos_over_the_counters_and_tells_them_apart_by_labels() -> None:
    """45 SLOs over 20 counters: counter 0 holds SLOs 0, 20, 40, each with its own job/route."""
    layout = Layout(45, metrics=20)
    on_first = [s for s in layout.all() if s.metric == "bench_requests_00_total"]
    assert [s.labels for s in on_first] == [
        {"job": "svc-0000", "route": "/r0"},
        {"job": "svc-0002", "route": "/r0"},
        {"job": "svc-0004", "route": "/r0"},
    ]
    assert len({s.selector() for s in layout.all()}) == 45
    assert len({s.metric for s in layout.all()}) == 20


def test_layout_owners_cycle_over_services() -> None:
    """Service k is owned by team-(k mod 10): SLO 105 is in svc-0010, owned by team-0."""
    layout = Layout(120)
    assert (layout.slo(105).service, layout.slo(105).owner) == ("svc-0010", "team-0")
    assert layout.services_of("team-0") == {"svc-0000", "svc-0010"}


def test_generated_config_is_accepted_by_the_daemon_config_parser() -> None:
    """30 ratio SLOs and 3 probes make 33 SLOs in a config the daemon validates."""
    config = native_config(Layout(30, metrics=4), "http://127.0.0.1:9090",
                           evaluation_interval=30,
                           probe_urls=[f"http://127.0.0.1:8080/t/{n}" for n in range(3)])
    parsed = parse_config(yaml.safe_dump(config), "bench.yaml")
    assert len(parsed.slos) == 33
    assert config["services"][0]["labels"] == {"owner": "team-0"}
    ratio = config["services"][0]["slos"][1]["sli"]["ratio"]
    assert ratio == {"total": 'bench_requests_01_total{job="svc-0000",route="/r1"}',
                     "bad": 'bench_requests_01_total{job="svc-0000",route="/r1",code="500"}'}


def test_history_is_openmetrics_with_one_family_per_counter(tmp_path: Path) -> None:
    """3 SLOs x 2 series x (1 + 60 min / 1 min) samples = 366, in 2 families, ending in # EOF."""
    path = tmp_path / "h.om"
    last, count = write_history(path, Layout(3, metrics=2), end=1_800_000_000.0,
                                days=1 / 24, step=60)
    text = path.read_text()
    assert count == 366
    assert text.count("# TYPE bench_requests_00 counter") == 1
    assert text.count("# TYPE bench_requests_01 counter") == 1
    assert text.endswith("# EOF\n")
    assert set(last) == {s.selector() for s in Layout(3, metrics=2).all()}


def test_cpu_seconds_reads_utime_and_stime_after_the_command_name() -> None:
    """(1234 + 567) ticks / 100 per second = 18.01 s, even with ')' inside the name."""
    assert cpu_seconds(STAT, 100) == pytest.approx(18.01)


def test_status_fields_are_read_by_name() -> None:
    """VmRSS in kB and Threads come from their own lines."""
    status = "Name:\tpython\nVmRSS:\t  123456 kB\nThreads:\t17\n"
    assert status_field(status, "VmRSS") == 123456
    assert status_field(status, "Threads") == 17


def test_own_figures_find_counters_and_progress_by_pattern() -> None:
    """Queries sum over labels (3 + 4 = 7); errors and histogram buckets are not progress."""
    text = (
        "# TYPE slo_exporter_evaluations counter\nslo_exporter_evaluations_total 12\n"
        "# TYPE slo_exporter_evaluation_duration_seconds histogram\n"
        'slo_exporter_evaluation_duration_seconds_bucket{le="+Inf"} 12\n'
        "slo_exporter_evaluation_duration_seconds_sum 6.5\n"
        "slo_exporter_evaluation_duration_seconds_count 12\n"
        "# TYPE slo_exporter_prometheus_queries counter\n"
        'slo_exporter_prometheus_queries_total{kind="range"} 3\n'
        'slo_exporter_prometheus_queries_total{kind="instant"} 4\n'
        "# TYPE slo_exporter_query_errors counter\n"
        'slo_exporter_query_errors_total{reason="timeout"} 9\n'
        "# TYPE slo_exporter_backfill_progress_ratio gauge\n"
        "slo_exporter_backfill_progress_ratio 0.25\n"
    )
    own = own_figures(text)
    assert (own.evaluations, own.duration_sum, own.duration_count) == (12, 6.5, 12)
    assert own.queries == 7
    assert own.query_metric == "slo_exporter_prometheus_queries_total"
    assert own.progress == {"slo_exporter_backfill_progress_ratio": 0.25}


def test_own_figures_without_a_query_counter_say_none() -> None:
    """A build without a query counter reports None, not zero."""
    own = own_figures("# TYPE slo_exporter_evaluations counter\nslo_exporter_evaluations_total 1\n")
    assert own.queries is None
    assert own.query_metric is None
    assert own.progress == {}


def test_own_figures_accept_a_prometheus_requests_counter() -> None:
    """A counter named for Prometheus requests counts as the query counter too."""
    own = own_figures("# TYPE slo_exporter_prometheus_requests counter\n"
                      "slo_exporter_prometheus_requests_total 5\n")
    assert own.queries == 5


def test_api_rows_count_the_slos_of_an_answer() -> None:
    """A paged answer with 2 SLOs says 2; a body that is not the document says None."""
    paged = requests.Response()
    paged._content = b'{"slos": [{"service": "a"}, {"service": "b"}], "total": 9}'
    other = requests.Response()
    other._content = b"<html></html>"
    assert api_rows(paged) == 2
    assert api_rows(other) is None


def test_sample_count_skips_comments_and_blank_lines() -> None:
    """Two samples among HELP/TYPE lines and a blank line."""
    assert sample_count("# HELP a x\n# TYPE a gauge\na 1\n\na{b=\"c\"} 2\n") == 2


def test_logged_queries_counts_entries_between_two_instants(tmp_path: Path) -> None:
    """Of entries at t = 10, 20, 30 s after 2026-01-01T00:00:00Z, [15, 30] holds two."""
    base = 1_767_225_600  # 2026-01-01T00:00:00Z
    log = tmp_path / "query.log"
    log.write_text("".join(
        json.dumps({"ts": f"2026-01-01T00:00:{s:02d}.000Z", "params": {"query": "up"}}) + "\n"
        for s in (10, 20, 30)))
    assert logged_queries(log, base + 15, base + 30) == 2
    assert logged_queries(tmp_path / "missing.log", 0, 2e9) == 0


def test_progress_events_count_backfill_log_lines() -> None:
    """Two backfill_done lines and one progress line; other events and non-JSON are ignored."""
    text = "\n".join([
        '{"event": "backfill_done"}', '{"event": "backfill_done"}',
        '{"event": "cold_start_progress", "done": 3}', '{"event": "evaluated"}', "garbage",
    ])
    assert progress_events(text) == {"backfill_done": 2, "cold_start_progress": 1}


def test_slope_per_hour_of_a_straight_line() -> None:
    """+1 MiB every 60 s is 60 MiB per hour; one point has no slope."""
    assert slope_per_hour([(0, 100.0), (60, 101.0), (120, 102.0)]) == pytest.approx(60.0)
    assert slope_per_hour([(0, 100.0)]) is None


def test_fit_through_two_runs_and_through_the_origin_for_one() -> None:
    """(300, 110) and (1000, 250): slope 140 / 700 = 0.2, intercept 110 - 60 = 50; one run: v/n."""
    assert fit([(300, 110.0), (1000, 250.0)]) == pytest.approx((50.0, 0.2))
    assert fit([(1000, 250.0)]) == pytest.approx((0.0, 0.25))


def test_filters_are_judged_by_what_comes_back() -> None:
    """A filtered answer keeps only the allowed services and fewer than all SLOs."""
    both = {"slos": [{"service": "a"}, {"service": "b"}]}
    assert api_filter({"slos": [{"service": "a"}]}, {"a"}, total=2)
    assert not api_filter(both, {"a"}, total=2)
    assert page_filter("<td>a</td>", "a", "b")
    assert not page_filter("<td>a</td><td>b</td>", "a", "b")


def test_slo_counts_parse_a_sorted_list_and_refuse_nonsense() -> None:
    """'1000,300' runs 300 first; 0 and words are clear argument errors."""
    assert slo_counts("1000,300") == [300, 1000]
    for bad in ("0", "many", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            slo_counts(bad)


def _run(slos: int, rss_mib: float, queries: float) -> Run:
    return Run(slos=slos, probes=0, metrics=20, days=3, load_before=(1.0, 2.0, 3.0),
               load_after=(1.5, 2.0, 3.0), cold_start_s=60.0, rss_cold=rss_mib * 2**20,
               rss_steady=rss_mib * 2**20, store_bytes=100 * 2**20, cycles=6,
               queries_per_cycle=queries, cpu_per_cycle=0.5, core_share=0.02,
               metrics_s=0.2, metrics_bytes=2**20, metrics_samples=1000, status_s=0.1,
               api_s=0.1, filters={"/?service=": "not supported (ignored)"}, fds=20, threads=9)


def test_report_extrapolates_from_two_runs_and_states_goals_and_load() -> None:
    """Memory 110 MiB at 300, 250 at 1,000: 50 + 0.2 x 10,000 = 2,050 MiB, over 500: missed.

    Scaled from 3 to 30 days of buckets, the per-SLO part is 0.2 x 10 = 2 MiB: 50 + 20,000.
    Queries 40 at 1,000 SLOs over 20 counters: flat, 40 at 10,000 within 2 x 20: met.
    """
    report = render_report([_run(300, 110.0, 40.0), _run(1000, 250.0, 40.0)])
    memory = next(line for line in report.splitlines()
                  if line.startswith("| resident memory after the cold start"))
    assert memory == ("| resident memory after the cold start | 110 MiB | 250 MiB | "
                      "200 MiB per 1,000 | 2,050 MiB | ≤ 500 MiB | missed |")
    scaled = next(line for line in report.splitlines()
                  if line.startswith("| resident memory, per-SLO part scaled"))
    assert "| 2,000 MiB per 1,000 | 20,050 MiB |" in scaled
    queries = next(line for line in report.splitlines()
                   if line.startswith("| Prometheus queries per cycle (query log)"))
    assert queries.endswith("| 40 | ≤ 40 | met |")
    assert "| `/?service=` | not supported (ignored) |" in report
    assert "1.00, 2.00, 3.00 → 1.50, 2.00, 3.00" in report


def test_probe_timeouts_are_whole_seconds_the_config_accepts() -> None:
    """A 5 s probe interval gives a 2 s timeout (5 // 2), not '2.5s', which the parser refuses."""
    assert [probe_timeout(i) for i in (1, 5, 15, 60)] == [1, 2, 5, 5]
    config = native_config(Layout(1), "http://127.0.0.1:9090", evaluation_interval=30,
                           probe_urls=["http://127.0.0.1:8080/t/0"], probe_interval=5)
    assert len(parse_config(yaml.safe_dump(config), "bench.yaml").slos) == 2


def test_probe_target_counts_every_get() -> None:
    """Three GETs on any path are three hits: the soak's proof that the probes run."""
    with ProbeTarget() as target:
        for n in range(3):
            assert requests.get(f"http://{target.address}/t/{n}", timeout=5).text == "ok\n"
        assert target.hits == 3


def test_soak_warm_up_is_a_quarter_of_the_soak_at_most_15_minutes() -> None:
    """60 min: 15 min left out; 8 min: 2 min."""
    assert warm_up_seconds(60) == 900
    assert warm_up_seconds(8) == 120


def test_grid_points_parse_and_refuse_nonsense() -> None:
    """'100:0:1,300:1000:3' is two points; missing parts, 0 SLOs and 0 days are clear errors."""
    assert grid_points("100:0:1, 300:1000:3") == [(100, 0, 1.0), (300, 1000, 3.0)]
    for bad in ("100:0", "x:0:1", "0:0:1", "100:0:0", "100:-1:1", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            grid_points(bad)


def test_least_squares_recovers_an_exact_plane() -> None:
    """v = 50 + 0.1 S + 0.02 P + 0.03 S·D on four independent points gives those coefficients."""
    points = [(100, 0, 1.0), (1000, 0, 1.0), (1000, 1000, 1.0), (300, 0, 3.0)]
    values = [50 + 0.1 * s + 0.02 * p + 0.03 * s * d for s, p, d in points]
    fitted = fit_linear([(s, p, d, v) for (s, p, d), v in zip(points, values, strict=True)],
                        with_days=True)
    assert (fitted.base, fitted.per_slo, fitted.per_probe, fitted.per_slo_day) == \
        pytest.approx((50, 0.1, 0.02, 0.03))


def test_a_negative_slope_counts_as_zero() -> None:
    """Probes 'saving' 10 MiB is noise: the per-probe term is dropped and the rest refitted.

    Without it the points (100, 0) → 60 and (1000, 0) → 150 give 0.1 per SLO over 50;
    (1000, 1000) → 140 is then 10 above the line's 150 below it, and per_probe stays 0.
    """
    fitted = fit_linear([(100, 0, 1, 60.0), (1000, 0, 1, 150.0), (1000, 1000, 1, 140.0)],
                        with_days=False)
    assert fitted.per_probe == 0
    assert fitted.per_slo > 0


def test_fit_names_the_runs_missing_when_terms_cannot_be_told_apart() -> None:
    """All runs at one history length cannot separate per-SLO from per-SLO-day memory."""
    with pytest.raises(ValueError, match="second history length"):
        fit_linear([(100, 0, 1, 60.0), (1000, 0, 1, 150.0), (1000, 1000, 1, 170.0)],
                   with_days=True)


def test_cpu_takes_the_slo_terms_from_the_runs_without_probes() -> None:
    """The runs without probes lie on 0.01 + 0.0004 S; the probe runs add 0.0015 per probe
    and noise of +0.05 at 100 SLOs + 1,000 probes and -0.05 at 1,000 + 1,000:

    100 + 1,000: 0.01 + 0.04 + 1.5 + 0.05 = 1.60; 1,000 + 1,000: 0.01 + 0.4 + 1.5 - 0.05 = 1.86.
    The added CPU over the line is 1.55 and 1.45, so per probe (1,000·1.55 + 1,000·1.45) /
    (2·1,000²) = 0.0015. A joint fit of the same points would give the SLOs a slope of
    about 0.00035 instead: the probe runs' noise would move it.
    """
    points = [(100, 0, 1.0, 0.05), (300, 0, 1.0, 0.13), (1000, 0, 1.0, 0.41),
              (100, 1000, 1.0, 1.60), (1000, 1000, 1.0, 1.86)]
    staged = fit_staged(points)
    assert (staged.base, staged.per_slo, staged.per_probe) == pytest.approx((0.01, 0.0004, 0.0015))
    assert fit_linear(points, with_days=False).per_slo != pytest.approx(0.0004)


def test_cpu_needs_two_slo_counts_without_probes_and_a_run_with_probes() -> None:
    """Without a probe run, or with one SLO count only, the terms cannot be told apart."""
    with pytest.raises(ValueError, match="two SLO counts"):
        fit_staged([(100, 0, 1.0, 0.05), (300, 0, 1.0, 0.13)])
    with pytest.raises(ValueError, match="two SLO counts"):
        fit_staged([(100, 0, 1.0, 0.05), (100, 1000, 1.0, 1.6)])


def test_sizing_row_derives_requests_limits_and_volume() -> None:
    """At 1,000 SLOs + 1,000 probes over 30 days:

    memory 60 + 0.1·1000 + 0.02·1000 + 0.01·2000·30 = 780 MiB → request 832 Mi (13 x 64),
    limit 780 x 1.5 = 1,170 → 1,216 Mi (19 x 64); disk 1 + 0.05·2000·30 = 3,001 MiB,
    x 1.5 = 4,501.5 → 5 Gi; CPU 0.01 + 0.0001·1000 + 0.00005·1000 = 0.16 cores → 200m.
    """
    sizing = Sizing(memory=Linear(60, 0.1, 0.02, 0.01), disk=Linear(1, 0, 0, 0.05),
                    cores=Linear(0.01, 0.0001, 0.00005), cycle_cpu=Linear(0, 0.001, 0),
                    runs=())
    row = sizing.row(1000, 1000)
    assert row["memory_mib"] == pytest.approx(780)
    assert (row["memory_request_mib"], row["memory_limit_mib"]) == (832, 1216)
    assert row["volume_mib"] == 5 * 1024
    assert row["cpu_request"] == pytest.approx(0.2)
    assert (quantity(1216), quantity(5120), millicores(0.2)) == ("1216Mi", "5Gi", "200m")


def test_round_up_goes_to_the_next_step_and_never_to_zero() -> None:
    """0.16 → 0.2 in steps of 0.05 (0.15 < 0.16); 0 → one step; 128 stays 128."""
    assert round_up(0.16, 0.05) == pytest.approx(0.2)
    assert round_up(0, 64) == 64
    assert round_up(128, 64) == 128


def _sized(slos: int, probes: int, days: float, rss: float, disk: float) -> Run:
    run = _run(slos, rss, 20.0)
    run.probes, run.days, run.store_bytes = probes, days, disk * 2**20
    run.core_share, run.cpu_per_cycle = 0.001 * slos + 0.0001 * probes, 0.002 * slos
    return run


def test_sizing_from_saved_runs_marks_the_default_row(tmp_path: Path) -> None:
    """Runs saved as --json load back and fit; the 1,000 + 1,000 row says (default).

    Memory 50 + 0.1 S + 0.02 P + 0.01 S·D, so at 1,000 + 1,000 over 30 days:
    50 + 100 + 20 + 0.01 · 2000 · 30 = 770 MiB.
    """
    grid = [(100, 0, 1.0), (300, 0, 1.0), (1000, 0, 1.0), (1000, 1000, 1.0), (300, 0, 3.0)]
    runs = [_sized(s, p, d, 50 + 0.1 * s + 0.02 * p + 0.01 * s * d, 0.05 * s * d)
            for s, p, d in grid]
    saved = tmp_path / "runs.json"
    saved.write_text(json.dumps([r.__dict__ for r in runs]))
    loaded = load_runs([saved])
    assert [(r.slos, r.probes, r.days) for r in loaded] == grid
    assert loaded[0].load_before == (1.0, 2.0, 3.0)
    table = render_sizing(fit_sizing(loaded), rows=[(100, 0), (1000, 1000)])
    default = next(line for line in table.splitlines() if "(default)" in line)
    assert default.startswith("| 1,000 (default) | 1,000 | ")
    assert "| 770 MiB |" in default


def test_sizing_from_a_file_that_is_not_runs_is_a_clear_error(tmp_path: Path) -> None:
    """A JSON object instead of the list of runs is refused, naming the file."""
    bad = tmp_path / "bad.json"
    bad.write_text('{"slos": 3}')
    with pytest.raises(HarnessError, match=r"bad\.json: not runs saved by --json"):
        load_runs([bad])
