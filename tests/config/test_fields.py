"""The schema-agnostic readers are enough for another dialect's loader."""

from __future__ import annotations

from slo_exporter.config.fields import Reader
from slo_exporter.config.nodes import compose_single
from slo_exporter.config.problems import Problems


def _toy(text: str) -> tuple[dict[str, object] | None, Problems]:
    """A tiny dialect (``kind`` and ``every``) read with the shared readers only."""
    problems = Problems("toy.yaml")
    root = compose_single(text, problems)
    if root is None:
        return None, problems
    reader = Reader(problems)
    fields = reader.mapping(root, "", ("kind", "every"), required=("kind",))
    if fields is None:
        return None, problems
    every = fields.duration("every", minimum=1.0, maximum=60.0)
    if every is not None and every > 30:
        reader.warn(fields.at("every"), fields.key_path("every"), "slower than usual")
    return {"kind": fields.string("kind"), "every": every}, problems


def test_a_toy_dialect_reads_and_reports_with_shared_readers() -> None:
    """Allowed keys, bounds, did-you-mean and warnings work without the native schema."""
    value, problems = _toy("kind: SLO\nevry: 5s\n")
    assert value == {"kind": "SLO", "every": None}
    assert [str(p) for p in problems.errors] == [
        "toy.yaml:2: evry: unknown key (did you mean 'every'?); allowed keys: every, kind"
    ]
    _, problems = _toy("kind: SLO\nevery: 2m\n")
    assert [p.reason for p in problems.errors] == ["must be at most 1m, got '2m'"]
    _, problems = _toy("kind: SLO\nevery: 45s\n")
    assert problems.errors == []
    assert [str(w) for w in problems.warnings] == ["toy.yaml:2: warning: every: slower than usual"]
