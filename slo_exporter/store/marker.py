"""The ``store.id`` file beside the database: which store lives here, and whether it held events.

A deleted or emptied database file would otherwise open as a fresh, empty
store and the history would be gone without a word. The marker survives that:
it names the store (the same id is in the database) and says once the first
event was committed. Opening a database that is missing, empty or has another
id while the marker says events existed is a ``StoreError``.

Must not open the database or decide anything beyond reading and writing the
marker; the store compares.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from slo_exporter.errors import StoreError

MARKER = "store.id"


@dataclass(frozen=True)
class Marker:
    store_id: str
    has_data: bool


def read_marker(directory: Path) -> Marker | None:
    """The marker in ``directory``, or None when there is none."""
    path = directory / MARKER
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
        store_id, has_data = data["store_id"], data["has_data"]
        if not isinstance(store_id, str) or not isinstance(has_data, bool) or not store_id:
            raise ValueError("store_id must be a string and has_data a boolean")
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreError(
            f"{path} is damaged ({exc}); it records which event store lives in this "
            "directory. If the events.db beside it is the right one, delete the damaged "
            "file and start again"
        ) from exc
    return Marker(store_id, has_data)


def write_marker(directory: Path, marker: Marker) -> None:
    """Replace the marker atomically (temporary file, fsync, rename)."""
    path = directory / MARKER
    tmp = directory / f".{MARKER}.tmp"
    text = json.dumps({"store_id": marker.store_id, "has_data": marker.has_data}) + "\n"
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from exc
