"""The native ``group_by`` and ``max_groups`` keys of an SLO, and what can be grouped.

``group_by: [route]`` makes one SLO per value set of the listed labels;
``max_groups`` (default 100) caps how many groups one definition keeps.
Owns reading both keys with located errors and the rule of what can be
grouped (``sli_problem``, ``label_problem``, ``group_labels``), which other dialects' loaders
reuse: only ratio SLIs over plain selectors, latency SLIs and bool gauges,
whose raw samples carry the labels; group labels are valid label names
other than ``le``, which the SLO's own labels do not already hold (a label the
exporter sets itself, such as ``service``, is exported as
``exported_service``). A grouped SLO cannot be a composite's component
(``check_components``): a component is one SLO.

Must not read files or build anything but the two values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from yaml.nodes import Node

from slo_exporter import model
from slo_exporter.config.fields import Fields, Reader
from slo_exporter.config.text import LABEL_NAME, shorten
from slo_exporter.grouping import NOT_GROUPABLE, exported_name

#: the most groups one definition may keep; a cap keeps a high-cardinality
#: label from making thousands of SLOs
MAX_GROUPS = 10_000
DEFAULT_MAX_GROUPS = model.SLO.max_groups


def sli_problem(sli: model.SLI) -> str | None:
    """Why ``sli`` cannot be grouped, or None when it can."""
    if isinstance(sli, model.LatencySLI | model.BoolGaugeSLI):
        return None
    if isinstance(sli, model.RatioSLI):
        if any(isinstance(q, model.Template) for q in (sli.good, sli.bad, sli.total)):
            return ("a {{.window}} template is evaluated by Prometheus as one figure per "
                    "window, so its events cannot be split by group; use plain selectors")
        return None
    if isinstance(sli, model.RawRatioSLI):
        return ("a raw ratio is one figure Prometheus computes, so it cannot be split by "
                "group; use plain selectors")
    if isinstance(sli, model.ProbeSLI):
        return "a probe SLI measures one target: there is nothing to group"
    if isinstance(sli, model.CompositeSLI):
        return "a composite SLO is built from other SLOs and cannot be grouped"
    kind = type(sli).__name__.removesuffix("SLI")
    return (f"only ratio SLIs of plain selectors, latency SLIs and bool gauges can be grouped, "
            f"not {kind}")


def group_labels(
    r: Reader, items: Sequence[tuple[Node, str]], own_labels: Mapping[str, str]
) -> tuple[str, ...] | None:
    """The group label names of a list's ``items`` (with their paths), or None
    after reporting every bad one at its item (``label_problem``)."""
    names: list[str] = []
    ok = True
    for item, item_path in items:
        name = r.string(item, item_path)
        if name is None:
            ok = False
            continue
        problem = label_problem(name, own_labels, names)
        if problem is not None:
            r.report(item, item_path, problem)
            ok = False
            continue
        names.append(name)
    return tuple(names) if ok else None


def label_problem(
    name: str, own_labels: Mapping[str, str], listed: Sequence[str] = ()
) -> str | None:
    """Why ``name`` cannot be a group label, or None when it can.

    A label the exporter sets itself (``service``) can be one: it is exported
    as ``exported_service``. ``listed`` are the group labels before it, which
    it must not repeat, nor be exported under the same name as.
    """
    if not LABEL_NAME.fullmatch(name):
        shown = shorten(name)
        return f"invalid label name {shown!r}: must match [a-zA-Z_][a-zA-Z0-9_]*"
    if name in NOT_GROUPABLE or name.startswith("__"):
        return (f"label {name!r} cannot be a group label: 'le' splits a histogram's buckets "
                "and names starting with __ belong to Prometheus")
    exported = exported_name(name)
    if exported in own_labels:
        shown = name if exported == name else f"{name!r} (exported as {exported!r})"
        return (f"label {shown!r} is one of the SLO's own labels (value "
                f"{own_labels[exported]!r}): a group label would give it a second value")
    same = [n for n in listed if exported_name(n) == exported]
    if same:
        return (f"label {name!r} is listed twice" if name in same else
                f"labels {same[0]!r} and {name!r} would both be exported as {exported!r}")
    return None


class GroupingReader:
    """Reads ``group_by`` and ``max_groups`` of each SLO; remembers where grouped SLOs are."""

    def __init__(self, reader: Reader) -> None:
        self.r = reader
        self._grouped: dict[model.SLOId, tuple[Node, str]] = {}

    def read(
        self, fields: Fields, owner: model.SLOId | None, sli: model.SLI | None,
        labels: Mapping[str, str],
    ) -> tuple[tuple[str, ...], int] | None:
        """The SLO's ``group_by`` and ``max_groups`` (``()`` and the default when
        ungrouped), or None after reporting a problem."""
        max_groups = fields.integer("max_groups", minimum=1, maximum=MAX_GROUPS)
        node = fields.get("group_by")
        if node is None:
            if fields.get("max_groups") is not None:
                fields.report("max_groups", "caps the groups of group_by, which is not given")
                return None
            return (), DEFAULT_MAX_GROUPS
        group_by = self._labels(node, fields.key_path("group_by"), labels)
        problem = None if sli is None else sli_problem(sli)
        if problem is not None:
            fields.report("group_by", f"this SLI cannot be grouped: {problem}")
        if (group_by is None or problem is not None
                or (max_groups is None and fields.get("max_groups") is not None)):
            return None
        if owner is not None:
            self._grouped[owner] = (node, fields.key_path("group_by"))
        return group_by, DEFAULT_MAX_GROUPS if max_groups is None else max_groups

    def _labels(self, node: Node, path: str, own: Mapping[str, str]) -> tuple[str, ...] | None:
        items = self.r.sequence(node, path, "label names")
        if items is None:
            return None
        if not items:
            self.r.report(node, path, "must list at least one label (leave group_by out for "
                          "one SLO)")
            return None
        return group_labels(self.r, items, own)

    def check_components(self, services: Sequence[model.Service]) -> None:
        """Report every grouped SLO a composite includes, at its ``group_by``."""
        grouped = {slo.id: slo for service in services for slo in service.slos
                   if slo.group_by}
        for service in services:
            for slo in service.slos:
                if not isinstance(slo.sli, model.CompositeSLI):
                    continue
                for component in slo.sli.components:
                    if component.slo not in grouped:
                        continue
                    node, path = self._grouped.get(component.slo, (None, "group_by"))
                    self.r.report(
                        node, path,
                        f"composite SLO {slo.key!r} includes {component.slo.key!r}, which is "
                        "grouped: a component must be one SLO; include an ungrouped SLO")
