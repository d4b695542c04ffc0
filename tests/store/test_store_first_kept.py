"""``StoreBase.first_kept``: the oldest bucket's start, kept in an SLO's window memory.

A real SQLite store in a temp dir; every answer is checked against the
database's own ``first_bucket``.
"""

from __future__ import annotations

from pathlib import Path

from slo_exporter.store import SQLiteStore

RES = 60.0
T0 = 1_800_000_000.0


def test_first_kept_follows_commits_and_prunes(tmp_path: Path) -> None:
    """Read once (the SLO's windows are kept), then a commit into an older bucket lowers
    it at once and a prune (buckets ending by T0 + 10 min deleted) raises it to the
    oldest bucket left, T0 + 10 min, each equal to a read of the database."""
    with SQLiteStore(tmp_path / "events.db", RES) as store:
        store.commit("a/b", {T0 + 5 * RES: (1.0, 1.0), T0 + 20 * RES: (1.0, 2.0)})
        store.sums("a/b", T0 + 30 * RES, [10 * RES])  # the SLO's windows are now kept
        assert store.first_kept("a/b") == T0 + 5 * RES
        store.commit("a/b", {T0 + 2 * RES: (1.0, 1.0)})
        assert store.first_kept("a/b") == T0 + 2 * RES == store.first_bucket("a/b")
        store.commit("a/b", {T0 + 10 * RES: (1.0, 1.0)})
        store.prune(T0 + 10 * RES)
        assert store.first_kept("a/b") == T0 + 10 * RES == store.first_bucket("a/b")


def test_first_kept_of_an_slo_without_buckets_is_none_until_its_first_commit(
    tmp_path: Path,
) -> None:
    """An SLO with kept windows but no bucket has no first bucket; its first commit
    (at T0 + 3 min) is its first at once."""
    with SQLiteStore(tmp_path / "events.db", RES) as store:
        store.sums("a/b", T0 + 30 * RES, [10 * RES])
        assert store.first_kept("a/b") is None
        store.commit("a/b", {T0 + 3 * RES: (1.0, 1.0)})
        assert store.first_kept("a/b") == T0 + 3 * RES


def test_a_read_only_store_sees_the_writers_older_bucket(tmp_path: Path) -> None:
    """A follower keeps the first bucket while the file is unchanged and reads it again
    once the writer committed an older bucket (T0 + 1 min)."""
    path = tmp_path / "events.db"
    with SQLiteStore(path, RES) as writer:
        writer.commit("a/b", {T0 + 5 * RES: (1.0, 1.0)})
        with SQLiteStore(path, RES, readonly=True) as reader:
            reader.sums("a/b", T0 + 30 * RES, [10 * RES])
            assert reader.first_kept("a/b") == T0 + 5 * RES
            writer.commit("a/b", {T0 + RES: (1.0, 1.0)})
            assert reader.first_kept("a/b") == T0 + RES
