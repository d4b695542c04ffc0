"""Specification of shards sharing one PostgreSQL store: a writer per shard, each keeping to
its own SLOs, and reading the others' from the database.

Of 2 shards (SHA-256 of service/slo, see tests/test_sharding.py): api/availability is
shard 0's, checkout/availability shard 1's.
"""

from __future__ import annotations

import psycopg
import pytest
from structlog.testing import capture_logs

from slo_exporter.config import parse_config
from slo_exporter.engine import Engine
from slo_exporter.errors import StoreError
from slo_exporter.sharding import Shard, select
from slo_exporter.slomath import Counts
from slo_exporter.store import PostgresStore
from tests.store.values import RES, T0
from tests.support.postgres import PostgresServer

ZERO, ONE = Shard(0, 2), Shard(1, 2)
MINE, THEIRS = "api/availability", "checkout/availability"  # shard 0's, shard 1's
WINDOWS = (5 * RES, 60 * RES)
END = T0 + RES


@pytest.fixture
def url(postgres: PostgresServer) -> str:
    return postgres.new_schema()


def test_each_shard_has_its_own_writer_role(url: str) -> None:
    """Writers of shards 0 and 1 share a schema; a second writer of shard 0 is refused, and a
    standby of shard 0 waits for shard 0's role, not shard 1's."""
    assert ZERO.owns_key(MINE)
    assert ONE.owns_key(THEIRS)
    with PostgresStore(url, RES, shard=ZERO) as zero, PostgresStore(url, RES, shard=ONE) as one:
        assert not zero.readonly
        assert not one.readonly
        with pytest.raises(StoreError, match="in use by another slo-exporter replica"):
            PostgresStore(url, RES, shard=ZERO)
        with PostgresStore(url, RES, shard=ZERO, standby=True) as standby:
            assert standby.readonly
            one.close()
            assert standby.try_promote() is False
            zero.close()
            assert standby.try_promote() is True


def test_a_shard_retires_and_prunes_only_its_own_slos(url: str) -> None:
    """Shard 0 configures only its SLO: retiring everything else and pruning leaves shard 1's
    SLO, its buckets and its retirement state alone."""
    with PostgresStore(url, RES, shard=ZERO) as zero, PostgresStore(url, RES, shard=ONE) as one:
        one.ensure_fingerprint(THEIRS, "f", keep_events=False)
        one.commit(THEIRS, {T0 - 10 * RES: (1, 1), T0: (1, 1)})
        zero.ensure_fingerprint(MINE, "f", keep_events=False)
        zero.commit(MINE, {T0 - 10 * RES: (1, 1), T0: (1, 1)})
        assert zero.retire([MINE], at=T0).retired == ()
        assert zero.prune(T0 - 5 * RES).buckets == 1  # shard 0's old bucket only
        assert one.retired() == {}
        assert one.sum(THEIRS, 0, 2 * T0) == Counts(2, 2)
        assert zero.sum(MINE, 0, 2 * T0) == Counts(1, 1)


def test_another_shards_slo_is_read_from_the_database(url: str) -> None:
    """Shard 0 reads shard 1's SLO as shard 1 commits it, never from a stale memory:
    1/1, then +0/2 after its window sums were asked (1 good of 3)."""
    with PostgresStore(url, RES, shard=ZERO) as zero, PostgresStore(url, RES, shard=ONE) as one:
        one.commit(THEIRS, {T0: (1, 1)})
        assert zero.sums(THEIRS, END, WINDOWS) == {w: Counts(1, 1) for w in WINDOWS}
        one.commit(THEIRS, {T0 - RES: (0, 2)})
        assert zero.sums(THEIRS, END, WINDOWS) == {w: Counts(1, 3) for w in WINDOWS}
        assert zero.sum(THEIRS, T0 - RES, T0) == Counts(0, 2)


def test_a_shards_standby_follows_its_own_writer_and_reads_the_others(url: str) -> None:
    """A standby of shard 0 replays shard 0's log and reads shard 1's SLO and source state
    from its snapshot: both move on at its refresh."""
    with PostgresStore(url, RES, shard=ZERO) as zero, PostgresStore(url, RES, shard=ONE) as one, \
            PostgresStore(url, RES, shard=ZERO, standby=True, max_staleness=3600.0) as standby:
        zero.commit(MINE, {T0: (1, 1)})
        one.commit(THEIRS, {T0: (2, 2)})
        one.publish_sources({THEIRS: (False, "HTTP 503")}, T0)
        standby.refresh()
        assert standby.sums(MINE, END, WINDOWS)[WINDOWS[0]] == Counts(1, 1)
        assert standby.sums(THEIRS, END, WINDOWS)[WINDOWS[0]] == Counts(2, 2)
        assert standby.source_state(THEIRS) == (False, "HTTP 503")
        assert standby.published_at(THEIRS) == T0
        zero.commit(MINE, {T0: (0, 1)})
        one.commit(THEIRS, {T0: (1, 1)})
        one.publish_sources({THEIRS: (True, None)}, T0 + RES)
        standby.refresh()
        assert standby.sums(MINE, END, WINDOWS)[WINDOWS[0]] == Counts(1, 2)
        assert standby.sums(THEIRS, END, WINDOWS)[WINDOWS[0]] == Counts(3, 3)
        assert standby.source_state(THEIRS) == (True, None)
        assert standby.published_at(THEIRS) == T0 + RES


def _log_rows(url: str, stream: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM change_log WHERE stream = %s",
                           (stream,)).fetchone()
    assert row is not None
    return int(row[0])


def test_a_stream_left_behind_by_a_reshard_is_trimmed_by_the_writers_that_remain(
        url: str) -> None:
    """After 2 shards become 3, nobody writes stream 0/2 again: a writer of the new layout
    (log_keep 0) trims its entries too and sets its floor, so a standby still on 0/2 reads
    the tables instead of following a log with a hole."""
    with PostgresStore(url, RES, shard=ZERO) as old:
        old.commit(MINE, {T0: (1, 1)})
        old.commit(MINE, {T0 + RES: (1, 1)})
    assert _log_rows(url, "0/2") == 2
    with PostgresStore(url, RES, shard=Shard(0, 3), log_keep=0.0) as new:
        new.commit(MINE, {T0: (2, 2)})
        new.commit(MINE, {T0: (3, 3)})  # trims what is older than now
    assert _log_rows(url, "0/2") == 0
    with psycopg.connect(url) as conn:
        floor = conn.execute("SELECT value FROM meta WHERE key = 'log_floor 0/2'").fetchone()
    assert floor is not None


def test_a_log_floor_never_moves_back(url: str) -> None:
    """A floor already past what a trim deletes (another writer trimmed further meanwhile)
    stays where it is: 10**12 is kept over the few sequence numbers deleted now."""
    with PostgresStore(url, RES, shard=ZERO) as zero:
        zero.commit(MINE, {T0: (1, 1)})
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO meta (key, value) VALUES ('log_floor 0/2', '1000000000000') "
                     "ON CONFLICT (key) DO UPDATE SET value = excluded.value")
    with PostgresStore(url, RES, shard=ONE, log_keep=0.0) as one:
        one.commit(THEIRS, {T0: (1, 1)})
        one.commit(THEIRS, {T0: (1, 1)})
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = 'log_floor 0/2'").fetchone()
    assert row == ("1000000000000",)
    assert _log_rows(url, "0/2") == 0


CONFIG = """\
prometheus: {url: "http://127.0.0.1:9", query_delay: 0s}
evaluation_interval: 60s
services:
  - name: checkout
    slos:
      - name: availability
        objective: 99
        window: 1h
        sli: {ratio: {total: 'http_requests_total', bad: 'http_requests_total{code="500"}'}}
  - name: shop
    slos:
      - name: journey
        objective: 99
        window: 1h
        sli:
          composite:
            mode: weighted
            components: [{slo: checkout/availability}]
"""


def test_a_composite_follows_its_other_shard_components_published_state(url: str) -> None:
    """shop/journey (shard 0) over checkout/availability (shard 1): shard 0's engine never
    reads the component's source; the composite describes the instant shard 1's writer
    published, is down while shard 1 published its source down, and up (with the stored
    events: 90 good of 100 -> 0.9) once shard 1 publishes it up again."""
    config = select(parse_config(CONFIG, "shop.yaml"), ZERO, shared=True)
    assert [s.key for s in config.slos] == ["shop/journey"]
    assert [s.key for s in config.followed] == [THEIRS]
    now = [T0 + 10 * RES]
    with PostgresStore(url, RES, shard=ZERO) as zero, PostgresStore(url, RES, shard=ONE) as one:
        one.commit(THEIRS, {T0 - RES: (90.0, 100.0)}, measured=(T0 - 30 * RES, T0 + 5 * RES))
        one.publish_sources({THEIRS: (False, "HTTP 503")}, T0 + 5 * RES)
        engine = Engine(config, zero, None, max_workers=1, clock=lambda: now[0])
        try:
            (journey,) = engine.evaluate().slos
            assert not journey.up
            assert journey.error == f"component {THEIRS} is down"
            assert journey.evaluated_at == T0 + 5 * RES
            one.publish_sources({THEIRS: (True, None)}, T0 + 6 * RES)
            (journey,) = engine.refresh_probes().slos  # within a second, not a cycle
            assert journey.up
            assert journey.evaluated_at == T0 + 6 * RES
            assert journey.windows[-1].sli == pytest.approx(0.9)
        finally:
            engine.close()


def test_a_failed_read_of_another_shards_state_keeps_the_composites_last_status(
    postgres: PostgresServer, url: str
) -> None:
    """When the other shard's published state cannot be read (here its table is renamed away),
    the composite keeps its last status and the cycle goes on, logging followed_read_failed."""
    config = select(parse_config(CONFIG, "shop.yaml"), ZERO, shared=True)
    schema = url.rsplit("%3D", 1)[1]
    with PostgresStore(url, RES, shard=ZERO) as zero, PostgresStore(url, RES, shard=ONE) as one:
        one.commit(THEIRS, {T0 - RES: (90.0, 100.0)}, measured=(T0 - 30 * RES, T0 + 5 * RES))
        one.publish_sources({THEIRS: (True, None)}, T0 + 5 * RES)
        engine = Engine(config, zero, None, max_workers=1, clock=lambda: T0 + 10 * RES)
        try:
            (before,) = engine.evaluate().slos
            assert before.up
            postgres.sql(f"ALTER TABLE {schema}.source RENAME TO gone")
            with capture_logs() as logs:
                (after,) = engine.evaluate().slos
            assert after == before
            assert [e["slo"] for e in logs if e["event"] == "followed_read_failed"] == [THEIRS]
        finally:
            postgres.sql(f"ALTER TABLE {schema}.gone RENAME TO source")
            engine.close()
