"""Sharding: which of N daemons evaluates which SLO.

Owns the assignment of SLO definitions to shards, finding a shard's index
from a StatefulSet pod's hostname, narrowing a configuration to the SLOs one
shard owns, and refusing composites that would read another shard's store.

The assignment: the SHA-256 digest of ``service/slo`` (the service name, a
slash and the SLO name, UTF-8), its first 8 bytes read as a big-endian
unsigned integer, modulo the shard count. A cryptographic digest, never
Python's ``hash()`` (salted per process): every process, Python version and
restart agrees. Only the definition's names go in, so all groups of a grouped
definition (``group_by``) land on one shard, and changing an objective, a
query or labels never moves an SLO. Changing the shard count moves about
``1 - 1/N`` of the SLOs (modulo, not consistent hashing: a shard's history
stays in its own store, so resharding means each moved SLO is read again
from Prometheus, which ``storage`` does for any new SLO anyway).

Composites: a composite is computed from its components' stored events.
With SQLite each shard has its own event store, so a composite can only be
computed where all its components are: a composite whose components sit on
another shard is a configuration problem at start (all shards refuse the
same configuration, naming the composite and the shards), never a silently
missing SLO. Shards that share one PostgreSQL store (``shared``) read a
component owned by another shard from that store, as its shard stored it;
only a component that is itself a composite (its events are derived, never
stored) must still be on the composite's shard.

Also owns the two self-metrics that say which shard a process is:
``slo_exporter_shard_info{index,count}`` (always 1) and
``slo_exporter_shard_slos`` (SLO definitions owned), read from the current
configuration at each scrape.

Must not: read the clock, open the store, parse flags or YAML. The
functions take names, counts and configs; the caller supplies the hostname.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from slo_exporter.errors import ConfigError, ConfigProblem
from slo_exporter.model import SLO, CompositeSLI, Config, SLOId

#: the ``-<ordinal>`` a StatefulSet appends to its name for each pod's hostname
_ORDINAL = re.compile(r"-(0|[1-9][0-9]*)$")
#: bytes of the digest read as the shard number's source (64 bits: no visible bias)
_DIGEST_BYTES = 8


def shard_of(service: str, slo: str, count: int) -> int:
    """The shard (0..count-1) owning SLO ``service/slo``; see the module docstring."""
    if count < 1:
        raise ValueError(f"shard count must be at least 1, got {count}")
    digest = hashlib.sha256(f"{service}/{slo}".encode()).digest()
    return int.from_bytes(digest[:_DIGEST_BYTES], "big") % count


def ordinal_from_hostname(hostname: str) -> int:
    """The StatefulSet ordinal at the end of ``hostname`` (``slo-exporter-2`` gives 2).

    Raises ``ValueError`` saying what to pass instead when there is none.
    """
    short = hostname.split(".", 1)[0]  # a fully qualified name ends in the domain
    found = _ORDINAL.search(short)
    if found is None:
        raise ValueError(
            f"--shard.index is not given and the hostname {hostname!r} does not end in "
            f"-<ordinal> as a StatefulSet pod's does; pass --shard.index")
    return int(found.group(1))


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count``: the SLOs it owns are those ``shard_of`` gives it."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"--shard.count must be at least 1, got {self.count}")
        if not 0 <= self.index < self.count:
            raise ValueError(
                f"shard index {self.index} is outside 0..{self.count - 1} "
                f"(--shard.count={self.count})")

    @classmethod
    def resolve(cls, index: int | None, count: int | None, hostname: str) -> Shard | None:
        """The shard the flags name; None when unsharded (neither flag given).

        ``--shard.index`` without ``--shard.count`` is refused; ``--shard.count``
        alone takes the index from ``hostname`` (``ordinal_from_hostname``),
        except that one shard is shard 0 wherever it runs.
        """
        if count is None:
            if index is not None:
                raise ValueError("--shard.index needs --shard.count")
            return None
        if index is None:
            index = 0 if count <= 1 else ordinal_from_hostname(hostname)
        return cls(index, count)

    def owns(self, slo: SLO) -> bool:
        return shard_of(slo.service, slo.name, self.count) == self.index

    def owns_key(self, slo_key: str) -> bool:
        """Whether the SLO (or group instance) a store key names is this shard's."""
        ident = SLOId.parse(slo_key)
        return shard_of(ident.service, ident.name, self.count) == self.index


def assignment(config: Config, count: int) -> dict[int, tuple[SLO, ...]]:
    """Every shard's SLO definitions, in configuration order (empty shards included)."""
    owned: dict[int, list[SLO]] = {i: [] for i in range(count)}
    for slo in config.slos:
        owned[shard_of(slo.service, slo.name, count)].append(slo)
    return {i: tuple(slos) for i, slos in owned.items()}


def cross_shard_problems(config: Config, count: int, *,
                         shared: bool = False) -> list[ConfigProblem]:
    """One problem per composite whose components are owned by another shard (with a
    ``shared`` store: only components that are themselves composites)."""
    problems: list[ConfigProblem] = []
    derived = {slo.key for slo in config.slos if slo.composite}
    for i, service in enumerate(config.services):
        for j, slo in enumerate(service.slos):
            if not isinstance(slo.sli, CompositeSLI):
                continue
            home = shard_of(slo.service, slo.name, count)
            away = sorted({
                (shard_of(c.slo.service, c.slo.name, count), c.slo.definition.key)
                for c in slo.sli.components
                if shard_of(c.slo.service, c.slo.name, count) != home
                and (not shared or c.slo.definition.key in derived)
            })
            if not away:
                continue
            parts = ", ".join(f"{key} (shard {shard})" for shard, key in away)
            reason = (
                "a composite's events are derived, never stored, so a composite component "
                "must be on its shard even with a shared PostgreSQL store" if shared else
                "each shard has its own SQLite event store, so a composite needs all its "
                "components on its shard: share one PostgreSQL store (--storage.url) "
                "between the shards, rename so they hash together, or run unsharded")
            problems.append(ConfigProblem(
                config.source_file, f"services[{i}].slos[{j}]",
                f"composite {slo.service}/{slo.name} is on shard {home} of {count} but reads "
                f"{parts}; {reason}"))
    return problems


def select(config: Config, shard: Shard, *, shared: bool = False) -> Config:
    """``config`` narrowed to the SLOs ``shard`` owns.

    Services keep their order, labels and dependencies; a service left
    without SLOs on this shard is dropped (its series come from the shards
    that own its SLOs). The definitions of other shards' SLOs that this
    shard's composites read become ``followed`` (read from the store,
    never evaluated or exported here). Raises ``ConfigError`` naming every composite that would read
    another shard's store (``shared``: one store for all shards).
    """
    problems = cross_shard_problems(config, shard.count, shared=shared)
    if problems:
        raise ConfigError(problems)
    services = tuple(
        dataclasses.replace(svc, slos=owned)
        for svc in config.services
        if (owned := tuple(s for s in svc.slos if shard.owns(s)))
    )
    definitions = {slo.key: slo for slo in config.slos}
    followed = {  # ordered, each once
        key: definitions[key]
        for svc in services for slo in svc.slos if isinstance(slo.sli, CompositeSLI)
        for c in slo.sli.components
        if (key := c.slo.definition.key) in definitions and not shard.owns(definitions[key])
    }
    return dataclasses.replace(config, services=services, followed=tuple(followed.values()))


def describe(config: Config, count: int) -> str:
    """The assignment as text for ``check``: one line per shard, then its SLOs."""
    lines: list[str] = []
    for index, slos in assignment(config, count).items():
        lines.append(f"shard {index} of {count}: {len(slos)} SLO(s)")
        lines.extend(f"  {slo.service}/{slo.name}" for slo in slos)
    return "\n".join(lines) + "\n"


class ShardMetrics(Collector):
    """``slo_exporter_shard_info`` and ``slo_exporter_shard_slos`` of one shard.

    ``config`` gives the running (already narrowed) configuration, so the
    count follows reloads.
    """

    def __init__(self, shard: Shard, config: Callable[[], Config]) -> None:
        self._shard = shard
        self._config = config

    def collect(self) -> Iterator[GaugeMetricFamily]:
        info = GaugeMetricFamily(
            "slo_exporter_shard_info",
            "The shard this process is: index of count (--shard.index, --shard.count).",
            labels=("index", "count"))
        info.add_metric((str(self._shard.index), str(self._shard.count)), 1.0)
        yield info
        yield GaugeMetricFamily(
            "slo_exporter_shard_slos",
            "SLO definitions this shard owns (a grouped definition counts once).",
            value=float(len(self._config().slos)))
