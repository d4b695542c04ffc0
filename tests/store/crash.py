"""A store opened in a child process that is killed when a given SQL statement starts."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

CRASH = """
import os, sqlite3, sys
real = sqlite3.connect
def connect(*args, **kwargs):
    conn = real(*args, **kwargs)
    def trace(statement):
        if statement.startswith(sys.argv[2]):
            os._exit(9)
    conn.set_trace_callback(trace)
    return conn
sqlite3.connect = connect
from slo_exporter.store import SQLiteStore
s = SQLiteStore(sys.argv[1], 60.0)
{action}
os._exit(0)
"""


def run_until(statement: str, directory: Path, action: str = "") -> int:
    """Open the store in ``directory`` and run ``action`` (Python using the store ``s``)
    in a child process killed with exit code 9 when ``statement`` starts; its exit code."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CRASH).replace("{action}", action),
         str(directory), statement],
        capture_output=True, text=True, timeout=60, check=False,
    )
    return proc.returncode
