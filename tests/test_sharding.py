"""Sharding: a stable assignment of SLO definitions to shards, and the flags that choose one."""

from __future__ import annotations

import dataclasses
import re
import socket
import threading
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from slo_exporter import cli
from slo_exporter.config import parse_config
from slo_exporter.daemon import Daemon
from slo_exporter.errors import ConfigError
from slo_exporter.sharding import (
    Shard,
    ShardMetrics,
    assignment,
    describe,
    ordinal_from_hostname,
    select,
    shard_of,
)

#: ``service/slo`` → its shard of 3: the first 8 bytes of SHA-256("service/slo"),
#: big-endian, modulo 3. Since 16 ≡ 1 (mod 3), that is the sum of the 16 hex
#: digits modulo 3; e.g. api/availability: 87fbbf42a20ac8ea, digits
#: 8+7+15+11+11+15+4+2+10+2+0+10+12+8+14+10 = 139, and 139 mod 3 = 1.
TABLE_OF_3 = {
    ("api", "availability"): 1,        # 87fbbf42a20ac8ea
    ("api", "latency"): 2,             # d87c99fddfebba97
    ("checkout", "availability"): 0,   # c519c9a80c7b73bf
    ("checkout", "journey"): 1,        # db8673169e813b8c
    ("payments-vendor", "api"): 0,     # 6079186780be3079
    ("shop", "homepage"): 0,           # c45dffd4c7eb0748
    ("billing", "invoices"): 2,        # 24ef62b1d7184eaa
    ("auth", "login"): 1,              # 0d2f2671e84cc27a
}


def _probe(name: str) -> str:
    return f"""\
      - name: {name}
        objective: 99
        window: 1d
        sli:
          probe:
            http: {{url: "http://127.0.0.1:9/"}}
            interval: 1s
            timeout: 500ms
"""


#: api/availability (1), api/latency (2), checkout/availability (0) and
#: payments-vendor/api (0): every shard of 3 owns at least one
FOUR = (
    "evaluation_interval: 1s\nservices:\n"
    "  - name: api\n    slos:\n" + _probe("availability") + _probe("latency")
    + "  - name: checkout\n    slos:\n" + _probe("availability")
    + "  - name: payments-vendor\n    slos:\n" + _probe("api")
)


def _composite(service: str, name: str, *parts: str) -> str:
    components = "".join(f"              - {{slo: {p}}}\n" for p in parts)
    return (f"  - name: {service}\n    slos:\n      - name: {name}\n        objective: 99\n"
            f"        window: 1d\n        sli:\n          composite:\n            mode: all_good\n"
            f"            components:\n{components}")


def test_the_hash_is_the_documented_one() -> None:
    """Every key of a fixed table lands on the shard SHA-256 gives it: a new hash fails here."""
    assert {key: shard_of(*key, 3) for key in TABLE_OF_3} == TABLE_OF_3


def test_one_shard_owns_everything() -> None:
    """With one shard every SLO is on shard 0."""
    assert {shard_of(*key, 1) for key in TABLE_OF_3} == {0}


def test_balance_over_many_keys() -> None:
    """3,000 SLO names over 3 shards: each gets 1,000 ± 100 (fair: sd = sqrt(3000·2/9) ≈ 26)."""
    counts = Counter(shard_of(f"service-{i % 37}", f"slo-{i}", 3) for i in range(3000))
    assert set(counts) == {0, 1, 2}
    assert all(900 <= n <= 1100 for n in counts.values()), counts


def test_every_slo_is_on_exactly_one_shard() -> None:
    """The shards' selections are disjoint and together are the whole configuration."""
    config = parse_config(FOUR, "four.yaml")
    owned = [select(config, Shard(i, 3)).slos for i in range(3)]
    keys = [slo.key for slos in owned for slo in slos]
    assert sorted(keys) == sorted(slo.key for slo in config.slos)
    assert len(keys) == len(set(keys))
    assert all(owned), "each shard owns one of these four"


def test_select_keeps_services_with_owned_slos_only() -> None:
    """Shard 0 of 3 owns checkout/availability and payments-vendor/api; api is not there."""
    config = parse_config(FOUR, "four.yaml")
    selected = select(config, Shard(0, 3))
    assert [s.name for s in selected.services] == ["checkout", "payments-vendor"]
    assert [s.key for s in selected.slos] == ["checkout/availability", "payments-vendor/api"]
    assert selected.evaluation_interval == config.evaluation_interval


def test_groups_of_a_definition_stay_together() -> None:
    """A grouped definition is placed by service/slo alone: every group instance follows it."""
    config = parse_config(FOUR, "four.yaml")
    definition = config.slos[0]  # api/availability: shard 1
    for route in ("/a", "/b", "/c", "/checkout", "/x"):
        instance = dataclasses.replace(definition, group={"route": route})
        assert instance.key != definition.key
        assert Shard(1, 3).owns(instance)


def test_a_composite_reading_another_shard_is_refused_by_every_shard() -> None:
    """auth/login (shard 1) reads checkout/availability and payments-vendor/api (both 0):
    each shard refuses, naming the composite and the shards."""
    config = parse_config(
        FOUR + _composite("auth", "login", "payments-vendor/api", "checkout/availability"),
        "login.yaml")
    for index in range(3):
        with pytest.raises(ConfigError) as caught:
            select(config, Shard(index, 3))
        (problem,) = caught.value.problems
        assert problem.path == "services[3].slos[0]"
        assert ("composite auth/login is on shard 1 of 3 but reads "
                "checkout/availability (shard 0), payments-vendor/api (shard 0)") in str(problem)


def test_a_composite_with_its_components_on_its_shard_is_kept() -> None:
    """shop/homepage (shard 0) over checkout/availability and payments-vendor/api (both 0)."""
    config = parse_config(
        FOUR + _composite("shop", "homepage", "checkout/availability", "payments-vendor/api"),
        "shop.yaml")
    assert "shop/homepage" in {s.key for s in select(config, Shard(0, 3)).slos}
    assert "shop/homepage" not in {s.key for s in select(config, Shard(1, 3)).slos}


def test_with_a_shared_store_a_composite_reads_other_shards() -> None:
    """Shards sharing a PostgreSQL store keep auth/login (shard 1) over checkout/availability
    and payments-vendor/api (both shard 0): shard 1 follows those two, evaluates neither."""
    config = parse_config(
        FOUR + _composite("auth", "login", "payments-vendor/api", "checkout/availability"),
        "login.yaml")
    one = select(config, Shard(1, 3), shared=True)
    assert [s.key for s in one.slos] == ["api/availability", "auth/login"]
    assert [s.key for s in one.followed] == ["payments-vendor/api", "checkout/availability"]
    zero = select(config, Shard(0, 3), shared=True)
    assert [s.key for s in zero.slos] == ["checkout/availability", "payments-vendor/api"]
    assert zero.followed == ()


def test_a_composite_of_another_shards_composite_is_refused_even_when_shared() -> None:
    """auth/login (shard 1) reads shop/homepage (shard 0), itself a composite: derived
    events are never stored, so even a shared store cannot give them; every shard says so."""
    config = parse_config(
        FOUR + _composite("shop", "homepage", "checkout/availability")
        + _composite("auth", "login", "shop/homepage"), "login.yaml")
    for index in range(3):
        with pytest.raises(ConfigError, match=r"composite auth/login is on shard 1 of 3 "
                           r"but reads shop/homepage \(shard 0\); a composite's events are "
                           "derived, never stored"):
            select(config, Shard(index, 3), shared=True)


def test_without_a_shared_store_the_refusal_says_how_to_share_one() -> None:
    """The SQLite refusal names the way out: one PostgreSQL store for all shards."""
    config = parse_config(FOUR + _composite("billing", "invoices", "checkout/availability"),
                          "b.yaml")
    with pytest.raises(ConfigError, match=r"share one PostgreSQL store \(--storage.url\)"):
        select(config, Shard(0, 3))


def test_a_shard_owns_the_store_keys_of_its_slos_and_their_groups() -> None:
    """owns_key places a store key (group instances too) where its definition is."""
    assert Shard(1, 3).owns_key("api/availability")
    assert Shard(1, 3).owns_key('api/availability{route="/a"}')
    assert not Shard(0, 3).owns_key("api/availability")
    assert Shard(0, 3).owns_key("checkout/availability")


@pytest.mark.parametrize(("hostname", "ordinal"), [
    ("slo-exporter-0", 0), ("slo-exporter-2", 2), ("slo-exporter-12.slo-exporter.monitoring"
                                                   ".svc.cluster.local", 12)])
def test_ordinal_from_a_statefulset_hostname(hostname: str, ordinal: int) -> None:
    """A StatefulSet pod's hostname ends in -<ordinal>, also when fully qualified."""
    assert ordinal_from_hostname(hostname) == ordinal


@pytest.mark.parametrize("hostname", ["slo-exporter", "slo-exporter-7f9c6-x2bq", "host-01", ""])
def test_a_hostname_without_an_ordinal_is_a_clear_error(hostname: str) -> None:
    """A Deployment's pod name or a plain host has no ordinal: the error says to pass the index."""
    with pytest.raises(ValueError, match=re.escape("pass --shard.index")):
        ordinal_from_hostname(hostname)


def test_resolve_reads_the_flags_then_the_hostname() -> None:
    """No flags: unsharded; count alone: the hostname's ordinal (0 of 1 needs none); both: the
    flags."""
    assert Shard.resolve(None, None, "anything") is None
    assert Shard.resolve(None, 3, "slo-exporter-2") == Shard(2, 3)
    assert Shard.resolve(1, 3, "slo-exporter-2") == Shard(1, 3)
    assert Shard.resolve(None, 1, "no-ordinal-here") == Shard(0, 1)


@pytest.mark.parametrize(("index", "count", "hostname", "message"), [
    (1, None, "h", "--shard.index needs --shard.count"),
    (3, 3, "h", "shard index 3 is outside 0..2"),
    (None, 3, "slo-exporter-5", "shard index 5 is outside 0..2"),
    (0, 0, "h", "--shard.count must be at least 1"),
    (None, 0, "h", "--shard.count must be at least 1"),
])
def test_resolve_refuses_impossible_shards(index: int | None, count: int | None, hostname: str,
                                           message: str) -> None:
    """An index without a count, past the count, or a count of 0 is refused with the reason."""
    with pytest.raises(ValueError, match=re.escape(message)):
        Shard.resolve(index, count, hostname)


def test_shard_metrics() -> None:
    """slo_exporter_shard_info{index,count} is 1 and slo_exporter_shard_slos counts the owned."""
    config = select(parse_config(FOUR, "four.yaml"), Shard(0, 3))
    registry = CollectorRegistry()
    registry.register(ShardMetrics(Shard(0, 3), lambda: config))
    assert registry.get_sample_value(
        "slo_exporter_shard_info", {"index": "0", "count": "3"}) == 1.0
    assert registry.get_sample_value("slo_exporter_shard_slos") == 2.0


def test_describe_lists_every_shard() -> None:
    """The assignment text names each shard, its count of SLOs and their keys."""
    config = parse_config(FOUR, "four.yaml")
    assert describe(config, 3) == (
        "shard 0 of 3: 2 SLO(s)\n  checkout/availability\n  payments-vendor/api\n"
        "shard 1 of 3: 1 SLO(s)\n  api/availability\n"
        "shard 2 of 3: 1 SLO(s)\n  api/latency\n")
    assert [len(v) for v in assignment(config, 5).values()] == [
        sum(1 for s in config.slos if shard_of(s.service, s.name, 5) == i) for i in range(5)]


# ------------------------------------------------------------------ command line


@pytest.fixture
def four(tmp_path: Path) -> Path:
    path = tmp_path / "four.yaml"
    path.write_text(FOUR)
    return path


def test_check_shows_the_assignment(four: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`check --shard.count=3` validates and prints every shard's SLOs; no index needed."""
    assert cli.main(["check", f"--config.file={four}", "--shard.count=3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{four}: OK, 3 service(s), 4 SLO(s)\nshard 0 of 3: 2 SLO(s)\n")
    assert "shard 2 of 3: 1 SLO(s)\n  api/latency\n" in out


@pytest.mark.parametrize(("flags", "message"), [
    (["--shard.index=1"], "--shard.index needs --shard.count"),
    (["--shard.count=0"], "--shard.count must be at least 1"),
    (["--shard.count=3", "--shard.index=4"], "shard index 4 is outside 0..2"),
])
def test_check_refuses_bad_shard_flags(four: Path, capsys: pytest.CaptureFixture[str],
                                       flags: list[str], message: str) -> None:
    """Impossible shard flags exit 2 with the reason, like any bad flag."""
    assert cli.main(["check", f"--config.file={four}", *flags]) == 2
    assert message in capsys.readouterr().err


def test_check_refuses_a_non_number(four: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--shard.count=three is a usage error."""
    with pytest.raises(SystemExit) as caught:
        cli.main(["check", f"--config.file={four}", "--shard.count=three"])
    assert caught.value.code == 2
    assert "must be a whole number" in capsys.readouterr().err


def test_check_refuses_a_cross_shard_composite(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A composite on shard 2 (billing/invoices) reading shard 0 fails check with exit 1."""
    path = tmp_path / "c.yaml"
    path.write_text(FOUR + _composite("billing", "invoices", "checkout/availability"))
    assert cli.main(["check", f"--config.file={path}", "--shard.count=3"]) == 1
    err = capsys.readouterr().err
    assert "composite billing/invoices is on shard 2 of 3" in err
    assert "cannot be split over 3 shards" in err


def test_check_with_a_shared_store_accepts_a_cross_shard_composite(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With the shards' PostgreSQL URL, check accepts what the daemons will run (a composite
    reading another shard through the shared store), connects nowhere, and never prints the
    URL's password."""
    path = tmp_path / "c.yaml"
    path.write_text(FOUR + _composite("billing", "invoices", "checkout/availability"))
    url = "--storage.url=postgresql://slo:s3cr3t-pw@192.0.2.1:1/slo?connect_timeout=1"
    assert cli.main(["check", f"--config.file={path}", "--shard.count=3", url]) == 0
    out, err = capsys.readouterr()
    assert "OK, " in out
    assert "shard 2 of 3:" in out
    assert "s3cr3t-pw" not in out + err


def test_check_refuses_a_malformed_storage_url(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A storage URL that is not postgresql:// is refused with exit 2, without echoing it."""
    path = tmp_path / "c.yaml"
    path.write_text(FOUR)
    with pytest.raises(SystemExit) as caught:
        cli.main(["check", f"--config.file={path}", "--storage.url=mysql://u:pw-9x@h/db"])
    assert caught.value.code == 2
    assert "pw-9x" not in capsys.readouterr().err


def _free_address() -> str:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def test_run_evaluates_its_shard_only_and_keeps_to_it_on_reload(
        four: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`run --shard.index=2 --shard.count=3` runs api/latency only, says so in its metrics,
    and a reload that adds billing/invoices (shard 2) and auth/login (1) adds only the first."""
    seen: dict[str, object] = {}

    def started(daemon: Daemon) -> None:
        seen["before"] = [s.key for s in daemon.config.slos]
        four.write_text(FOUR.replace("  - name: checkout\n", "  - name: billing\n    slos:\n"
                                     + _probe("invoices") + "  - name: auth\n    slos:\n"
                                     + _probe("login") + "  - name: checkout\n"))
        seen["reloaded"] = daemon.reload()
        seen["after"] = [s.key for s in daemon.config.slos]
        seen["info"] = daemon.registry.get_sample_value(
            "slo_exporter_shard_info", {"index": "2", "count": "3"})
        seen["owned"] = daemon.registry.get_sample_value("slo_exporter_shard_slos")
        threading.Timer(0.1, daemon.request_stop, args=("test",)).start()

    code = cli.main(["run", f"--config.file={four}", f"--storage.path={tmp_path / 'data'}",
                     f"--web.listen-address={_free_address()}", "--shard.count=3",
                     "--shard.index=2"], started=started)

    assert code == 0
    assert seen == {"before": ["api/latency"], "reloaded": True,
                    "after": ["api/latency", "billing/invoices"], "info": 1.0, "owned": 2.0}
    assert "event=shard_selected index=2 count=3 slos=1" in capsys.readouterr().err


def test_a_shard_that_owns_nothing_still_runs(four: Path, tmp_path: Path) -> None:
    """Shard 3 of 5 owns none of the four SLOs (they are on 4, 1, 2 and 1): it starts, evaluates
    and says it owns 0."""
    assert sorted(shard_of(s.service, s.name, 5) for s in parse_config(FOUR, "f").slos) == [
        1, 1, 2, 4]
    seen: list[float | None] = []

    def started(daemon: Daemon) -> None:
        daemon.evaluate()
        seen.append(daemon.registry.get_sample_value("slo_exporter_shard_slos"))
        threading.Timer(0.1, daemon.request_stop, args=("test",)).start()

    code = cli.main(["run", f"--config.file={four}", f"--storage.path={tmp_path / 'data'}",
                     f"--web.listen-address={_free_address()}", "--shard.count=5",
                     "--shard.index=3"], started=started)
    assert code == 0
    assert seen == [0.0]


def test_run_refuses_a_cross_shard_composite_before_opening_anything(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`run` as shard 0 of 3 with billing/invoices (2) reading checkout/availability (0): exit 1,
    the composite named, no store created."""
    path = tmp_path / "c.yaml"
    path.write_text(FOUR + _composite("billing", "invoices", "checkout/availability"))
    code = cli.main(["run", f"--config.file={path}", f"--storage.path={tmp_path / 'data'}",
                     f"--web.listen-address={_free_address()}", "--shard.count=3",
                     "--shard.index=0"])
    assert code == 1
    assert "composite billing/invoices is on shard 2 of 3" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()
