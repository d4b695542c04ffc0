"""``--format=markdown``: a summary table, then the details of every SLO.

For pasting into a ticket, a wiki or an e-mail. Levels are cut down to four
places as the SLA compares them (``text``). Every string from the
configuration is escaped, so a name cannot break the table or add markup.

Must not compute figures or read a clock.
"""

from __future__ import annotations

import re

from slo_exporter.figures import PeriodFigures
from slo_exporter.report import text
from slo_exporter.report.build import Entry, Report

_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~&])")


def escape(value: str) -> str:
    """Configured text as literal markdown: specials backslashed, line breaks as spaces."""
    return _SPECIAL.sub(r"\\\1", " ".join(value.split()))


def render(report: Report) -> str:
    """The whole report as markdown."""
    lines = [f"# Service-level report: {escape(_labels(report))}", ""]
    lines += [_as_of(report), ""]
    lines += _summary(report)
    for entry in report.entries:
        lines += ["", *_details(entry)]
    if report.failures:
        lines += ["", "## Incomplete", ""]
        lines += [f"- Prometheus history could not be read for {escape(f)}"
                  for f in report.failures]
    return "\n".join(lines) + "\n"


def _labels(report: Report) -> str:
    labels = sorted({e.figures.label for e in report.entries})
    return ", ".join(labels) or "no SLOs"


def _as_of(report: Report) -> str:
    running = [e for e in report.entries if e.figures.at < e.figures.end]
    if not report.entries:
        return "No SLO is configured."
    first = report.entries[0].figures
    if running:
        return (f"Periods still running are reported to date, as of "
                f"{text.when(running[0].figures.at, running[0].figures.time_zone)}.")
    return f"Whole periods, generated {text.when(report.generated_at, first.time_zone)}."


def _summary(report: Report) -> list[str]:
    rows = [
        "| Service | SLO | Objective | Achieved | Verdict | Coverage | Budget spent "
        "| SLA credit due | Source |",
        "|---|---|---:|---:|---|---:|---:|---:|---|",
    ]
    for entry in report.entries:
        f = entry.figures
        verdict = text.status(f)
        shown = f"**{verdict}**" if f.met is False else verdict
        credit = text.credit(f.sla.credit_percent) if f.sla is not None else "no SLA"
        rows.append(
            f"| {escape(entry.slo.service)} | {escape(text.slo_name(entry.slo))} "
            f"| {text.objective(f.objective)} | {text.percent(f.achieved)} | {shown} "
            f"| {text.coverage(f)} | {text.budget(f.budget_spent_ratio)} | {credit} "
            f"| {f.source} |"
        )
    return rows


def _achieved(f: PeriodFigures) -> str:
    if f.achieved is None:
        return text.NO_DATA
    return f"{text.percent(f.achieved)}, {text.status(f).lower()}"


def _details(entry: Entry) -> list[str]:
    f = entry.figures
    slo = entry.slo
    title = f"## {escape(slo.service)} / {escape(text.slo_name(slo))}"
    lines = [title, ""]
    if slo.description:
        lines += [escape(slo.description), ""]
    budgeting = "events (occurrences)"
    timeslices = slo.budgeting.timeslices
    if f.budgeting == "timeslices" and timeslices is not None:
        budgeting = (f"timeslices of {text.duration(timeslices.slice)}, good at "
                     f"{text.objective(float(timeslices.target))} good events or more")
    ratio = slo.budgeting.ratio_timeslices
    if f.budgeting == "ratio_timeslices" and ratio is not None:
        budgeting = f"ratio timeslices (the mean ratio of {text.duration(ratio.slice)} slices)"
    lines += [
        f"- Period: {escape(f.label)}, {text.when(f.start, f.time_zone)} to "
        f"{text.when(f.end, f.time_zone)} ({escape(f.time_zone)})",
        f"- Commitment: {slo.commitment.upper()}, objective {text.objective(f.objective)}, "
        f"budgeting by {budgeting}",
        f"- Achieved: {_achieved(f)}",
    ]
    slices = text.slices_line(f)
    if slices:
        lines.append(f"- Slices: {slices}")
    lines += [
        f"- Events: {text.events_line(f)}",
        f"- Coverage: {text.coverage(f)} of the time outside maintenance was measured",
        f"- Excluded (maintenance): {text.duration(f.excluded_seconds)}",
        f"- Error budget spent: {text.budget(f.budget_spent_ratio)}; "
        f"runs out: {text.exhaustion(f)}",
        f"- Worst day: {text.worst_day(f)}",
        f"- Under alert conditions: {text.alerts_line(entry.alert_seconds)}",
        f"- Evidence: {text.evidence_line(f)}",
        f"- SLA: {text.sla_line(f)}",
        f"- Source: {f.source}",
    ]
    return lines
