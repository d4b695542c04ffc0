"""Reading typed values out of located YAML nodes, reporting what is wrong.

Owns the schema-agnostic readers every config dialect needs: mappings
checked against their allowed keys (with ``<<`` merges and duplicate keys),
lists, strings, booleans, bounded numbers and durations, byte sizes, URLs and
regular expressions. Each reader returns the value, or None after reporting
one located problem; nothing here raises on bad input.

Must not know the native schema (no key names of ours live here), so that
the Sloth, OpenSLO and Pyrra loaders can reuse it.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Callable, Iterable
from typing import TypeVar

from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from slo_exporter.config.nodes import BOOL, FLOAT, INT, MERGE, STR, TAG, describe, is_null, line
from slo_exporter.config.problems import Problems
from slo_exporter.config.text import shorten, url_problem
from slo_exporter.durations import DurationTooLong, format_duration, parse_duration
from slo_exporter.redact import redact_url

T = TypeVar("T")

_SIZE = re.compile(r"(\d{1,20})\s*([kmgt]i?b|b)?", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
#: what a key of a schema section looks like; anything else is not quoted back
_KEY_LIKE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_SIZE_EXPECTED = "a size in bytes, such as 1048576 or '10MB' (KB = 1024 bytes)"


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def choices(options: Iterable[str]) -> str:
    return ", ".join(sorted(options))


def number_text(value: float) -> str:
    """``0.25`` -> ``'0.25'``, ``1.0`` -> ``'1'``: numbers as a user would write them."""
    return str(int(value)) if value.is_integer() else repr(value)


def size_text(size: int) -> str:
    """``67108864`` -> ``'64MiB'``: a byte size in its largest exact unit."""
    for unit, factor in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}B"


class Fields:
    """The entries of one YAML mapping, already checked against the allowed keys."""

    def __init__(
        self,
        reader: Reader,
        node: MappingNode,
        path: str,
        entries: dict[str, Node],
        required: tuple[str, ...],
    ) -> None:
        self.reader = reader
        self.node = node
        self.path = path
        self.entries = entries
        self.required = required

    def has(self, key: str) -> bool:
        return key in self.entries

    def get(self, key: str) -> Node | None:
        """The value node of ``key``; None when absent or, for optional keys, null."""
        value = self.entries.get(key)
        if value is None or (is_null(value) and key not in self.required):
            return None
        return value

    def at(self, key: str) -> Node:
        """The node a problem about ``key`` is reported at: its value, else the mapping."""
        return self.entries.get(key) or self.node

    def key_path(self, key: str) -> str:
        return join(self.path, key)

    def report(self, key: str, reason: str) -> None:
        self.reader.report(self.at(key), self.key_path(key), reason)

    def read(self, key: str, reader: Callable[[Node, str], T]) -> T | None:
        value = self.get(key)
        return None if value is None else reader(value, self.key_path(key))

    def string(self, key: str, *, non_empty: bool = False) -> str | None:
        value = self.read(key, self.reader.string)
        if value is not None and non_empty and not value.strip():
            self.report(key, "must not be empty")
            return None
        return value

    def file_path(self, key: str) -> str | None:
        value = self.string(key, non_empty=True)
        if value is None:
            return None
        if any(not char.isprintable() for char in value):
            # the OS refuses a NUL byte only when the file is opened, in the daemon
            self.report(key, "must be a file path without control characters")
            return None
        return self.reader.resolve_path(value)

    def boolean(self, key: str) -> bool | None:
        return self.read(key, self.reader.boolean)

    def integer(self, key: str, *, minimum: int, maximum: int | None = None) -> int | None:
        value = self.read(key, self.reader.integer)
        if value is None:
            return None
        if value < minimum:
            self.report(key, f"must be at least {minimum}, got {describe(self.at(key))}")
            return None
        if maximum is not None and value > maximum:
            self.report(key, f"must be at most {maximum}, got {describe(self.at(key))}")
            return None
        return value

    def duration(
        self,
        key: str,
        *,
        above_zero: bool = False,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> float | None:
        value = self.read(key, lambda node, path: self.reader.duration(node, path, maximum=maximum))
        if value is None:
            return None
        node = self.at(key)
        if above_zero and value <= 0:
            self.report(key, f"must be longer than 0, got {describe(node)}")
            return None
        if minimum is not None and value < minimum:
            self.report(key, f"must be at least {format_duration(minimum)}, got {describe(node)}")
            return None
        if maximum is not None and value > maximum:
            self.report(key, f"must be at most {format_duration(maximum)}, got {describe(node)}")
            return None
        return value

    def byte_size(self, key: str, *, minimum: int = 1, maximum: int) -> int | None:
        value = self.read(key, self.reader.byte_size)
        if value is None:
            return None
        if not minimum <= value <= maximum:
            self.report(
                key,
                f"must be from {size_text(minimum)} to {size_text(maximum)}, "
                f"got {describe(self.at(key))}",
            )
            return None
        return value

    def url(self, key: str) -> str | None:
        return self.read(key, self.reader.url)

    def regexps(self, key: str) -> tuple[str, ...] | None:
        return self.read(key, self.reader.regexp_list)


class Reader:
    """Typed readers over nodes; every problem goes to ``problems``."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        self.file = problems.file
        self.base_dir = os.path.dirname(problems.file)
        self._constructor = SafeConstructor()
        #: mappings being merged with "<<" right now, to stop a mapping merging itself
        self._merging: set[int] = set()

    # ----------------------------------------------------------- reporting

    def report(self, node: Node | None, path: str, reason: str) -> None:
        self.problems.error(None if node is None else line(node), path, reason)

    def warn(self, node: Node | None, path: str, reason: str) -> None:
        self.problems.warn(None if node is None else line(node), path, reason)

    def resolve_path(self, value: str) -> str:
        if os.path.isabs(value) or not self.base_dir:
            return value
        return os.path.join(self.base_dir, value)

    def construct(self, node: ScalarNode) -> object | None:
        """The Python value of a scalar; None when YAML cannot represent it (a
        5,000-digit int, a bad timestamp)."""
        try:
            value: object = self._constructor.construct_object(node)
        except (ConstructorError, ValueError, OverflowError):
            return None
        return value

    # ------------------------------------------------------ YAML structure

    def entries(self, node: MappingNode, path: str) -> dict[str, tuple[Node, Node]]:
        """Key -> (key node, value node), with ``<<`` merges applied and duplicates reported."""
        explicit: dict[str, tuple[Node, Node]] = {}
        merged: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE:
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                for source in sources:
                    if not isinstance(source, MappingNode):
                        self.report(source, path, "'<<' can only merge mappings")
                        continue
                    if id(source) in self._merging or source is node:
                        self.report(source, path, "'<<' merges a mapping into itself")
                        continue
                    self._merging.add(id(source))
                    try:
                        for key, pair in self.entries(source, path).items():
                            merged.setdefault(key, pair)
                    finally:
                        self._merging.discard(id(source))
                continue
            if not isinstance(key_node, ScalarNode) or is_null(key_node):
                self.report(key_node, path, f"keys must be names, got {describe(key_node)}")
                continue
            key = str(key_node.value)
            if key in explicit:
                first = line(explicit[key][0])
                self.report(
                    key_node, join(path, key), f"duplicate key (first given on line {first})"
                )
                continue
            explicit[key] = (key_node, value_node)
        return {**merged, **explicit}

    def mapping(
        self,
        node: Node,
        path: str,
        allowed: Iterable[str],
        required: tuple[str, ...] = (),
        *,
        ignore: Callable[[str], bool] = lambda key: False,
    ) -> Fields | None:
        """Check that ``node`` is a mapping with only ``allowed`` keys and all ``required`` ones.

        Keys for which ``ignore`` is true are dropped without a problem.
        """
        allowed = tuple(allowed)
        if not isinstance(node, MappingNode):
            self.report(
                node, path, f"must be a mapping with keys {choices(allowed)}, got {describe(node)}"
            )
            return None
        known: dict[str, Node] = {}
        for key, (key_node, value_node) in self.entries(node, path).items():
            if key in allowed:
                known[key] = value_node
                continue
            if ignore(key):
                continue
            if not _KEY_LIKE.fullmatch(key):
                # a line of some other file (a token, a password file) is not echoed
                self.report(
                    key_node,
                    path,
                    "unknown key (not shown: it does not look like a key name); "
                    f"allowed keys: {choices(allowed)}",
                )
                continue
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            self.report(
                key_node, join(path, key), f"unknown key{hint}; allowed keys: {choices(allowed)}"
            )
        for key in required:
            if key not in known:
                self.report(node, path, f"missing required key {key!r}")
        return Fields(self, node, path, known, required)

    def sequence(self, node: Node, path: str, what: str) -> list[tuple[Node, str]] | None:
        """The items of a list with their paths; ``what`` names an item in messages."""
        if not isinstance(node, SequenceNode):
            self.report(node, path, f"must be a list of {what}, got {describe(node)}")
            return None
        return [(item, f"{path}[{index}]") for index, item in enumerate(node.value)]

    def free_mapping(self, node: Node, path: str, what: str) -> dict[str, tuple[Node, Node]] | None:
        """A mapping whose keys are user-chosen (labels, headers)."""
        if not isinstance(node, MappingNode):
            self.report(node, path, f"must be a mapping of {what}, got {describe(node)}")
            return None
        return self.entries(node, path)

    def string_map(
        self,
        node: Node,
        path: str,
        what: str,
        name_problem: Callable[[str], str | None],
        value_problem: Callable[[str, str], str | None],
    ) -> dict[str, str] | None:
        """A mapping of names to strings; each bad name or value is reported once.

        ``value_problem`` gets the name too, so it can word its reason without
        showing a value that is a secret.
        """
        fields = self.free_mapping(node, path, what)
        if fields is None:
            return None
        out: dict[str, str] = {}
        for name, (key_node, value_node) in fields.items():
            problem = name_problem(name)
            if problem:
                self.report(key_node, path if len(name) > 80 else join(path, name), problem)
                continue
            name_path = join(path, name)
            value = self.string(value_node, name_path)
            if value is None:
                continue
            problem = value_problem(name, value)
            if problem:
                self.report(value_node, name_path, problem)
                continue
            out[name] = value
        return out

    # ------------------------------------------------------------- scalars

    def scalar(self, node: Node, path: str, expected: str) -> ScalarNode | None:
        if isinstance(node, ScalarNode) and not is_null(node) and node.tag.startswith(TAG):
            return node
        self.report(node, path, f"must be {expected}, got {describe(node)}")
        return None

    def string(self, node: Node, path: str) -> str | None:
        # Any plain scalar is taken as the text the user typed, so that
        # `tier: 1` or `password: 0123` keep their spelling.
        scalar = self.scalar(node, path, "a string")
        return None if scalar is None else str(scalar.value)

    def boolean(self, node: Node, path: str) -> bool | None:
        if isinstance(node, ScalarNode) and node.tag == BOOL:
            return bool(self.construct(node))
        self.report(node, path, f"must be true or false, got {describe(node)}")
        return None

    def integer(self, node: Node, path: str) -> int | None:
        if isinstance(node, ScalarNode) and node.tag == INT:
            value = self.construct(node)
            if isinstance(value, int):
                return value
        self.report(node, path, f"must be a whole number, got {describe(node)}")
        return None

    def number(self, node: Node, path: str) -> float | None:
        if isinstance(node, ScalarNode) and node.tag in (INT, FLOAT):
            value = self.finite(node)
            if value is not None:
                return value
        self.report(node, path, f"must be a number, got {describe(node)}")
        return None

    def finite(self, node: ScalarNode) -> float | None:
        """The value of a number node as a finite float; None for inf, nan or too large."""
        value = self.construct(node)
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None
        try:
            number = float(value)
        except OverflowError:
            return None
        return number if math.isfinite(number) else None

    def duration(self, node: Node, path: str, *, maximum: float | None = None) -> float | None:
        """A duration in seconds; with ``maximum``, one too long to parse is said to be over it."""
        if isinstance(node, ScalarNode) and node.tag == STR:
            try:
                return parse_duration(str(node.value))
            except DurationTooLong as exc:
                if maximum is None:
                    self.report(node, path, str(exc))
                else:
                    self.report(
                        node,
                        path,
                        f"must be at most {format_duration(maximum)}, got {describe(node)}",
                    )
                return None
            except ValueError as exc:
                self.report(node, path, str(exc))
                return None
        hint = " (add a unit)" if isinstance(node, ScalarNode) and node.tag == INT else ""
        self.report(
            node,
            path,
            f"must be a duration such as '30s', '5m' or '1h30m', got {describe(node)}{hint}",
        )
        return None

    def url(self, node: Node, path: str) -> str | None:
        text = self.string(node, path)
        if text is None:
            return None
        problem = url_problem(text.strip())
        if problem:
            shown = redact_url(text)
            shown = shorten(shown, 120)
            self.report(node, path, f"{problem}, got {shown!r}")
            return None
        return text.strip()

    def regexp_list(self, node: Node, path: str) -> tuple[str, ...] | None:
        items = self.sequence(node, path, "regular expressions")
        if items is None:
            return None
        patterns = [self.regexp(item, item_path) for item, item_path in items]
        return tuple(p for p in patterns if p is not None)

    def regexp(self, node: Node, path: str) -> str | None:
        text = self.string(node, path)
        if text is None:
            return None
        try:
            re.compile(text)
        except (re.error, RecursionError, OverflowError, ValueError) as exc:
            shown = shorten(text)
            reason = exc if isinstance(exc, re.error) else "nested or repeated too deeply"
            self.report(node, path, f"invalid regular expression {shown!r}: {reason}")
            return None
        return text

    def byte_size(self, node: Node, path: str) -> int | None:
        size: int | None = None
        if isinstance(node, ScalarNode) and node.tag == INT:
            value = self.construct(node)
            size = value if isinstance(value, int) else None
        elif isinstance(node, ScalarNode) and node.tag == STR:
            match = _SIZE.fullmatch(str(node.value).strip())
            if match is not None:
                number, unit = match.groups()
                size = int(number) * _SIZE_UNITS[(unit or "b")[0].lower()]
        if size is None:
            self.report(node, path, f"must be {_SIZE_EXPECTED}, got {describe(node)}")
            return None
        if size <= 0:
            self.report(node, path, f"must be greater than 0, got {describe(node)}")
            return None
        return size

    def choice(
        self, options: tuple[str, ...], what: str, normalize: Callable[[str], str]
    ) -> Callable[[Node, str], str | None]:
        """A reader of one of ``options`` (after ``normalize``), named ``what`` in messages."""

        def read(node: Node, path: str) -> str | None:
            text = self.string(node, path)
            if text is None:
                return None
            value = normalize(text.strip())
            if value not in options:
                shown = shorten(text)
                self.report(
                    node, path, f"must be {what}, one of {', '.join(options)}, got {shown!r}"
                )
                return None
            return value

        return read


__all__ = ["Fields", "Reader", "choices", "join", "number_text", "size_text"]
