"""The repository's code layout: shared test support is imported, never found via sys.path."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: runnable benchmarks; other modules under bench/ are pieces they share
BENCH_SCRIPTS = sorted(
    p.stem for p in (ROOT / "bench").glob("*.py")
    if 'if __name__ == "__main__":' in p.read_text()
)
PATH_EDIT = re.compile(r"sys\.path\.(insert|append|extend)")


def test_no_test_or_benchmark_edits_sys_path() -> None:
    """Tests and benchmarks import shared code as tests.support.*, never by editing sys.path."""
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("tests", "bench")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path.name != "test_layout.py" and PATH_EDIT.search(path.read_text())
    ]
    assert offenders == []


@pytest.mark.parametrize("script", BENCH_SCRIPTS)
def test_benchmarks_import_as_modules(script: str) -> None:
    """Each benchmark imports as bench.<script>, as `python -m bench.<script>` runs it."""
    module = importlib.import_module(f"bench.{script}")
    assert callable(getattr(module, "main", None))
