"""Located YAML: bytes on disk -> composed YAML nodes with file and line.

Owns reading a config file safely and composing its YAML documents into nodes
(not constructed into dicts) so that every problem can name its line. What an
attacker can hand us is bounded here, before any schema sees it: only regular
files are read (a FIFO or a device would block or never end) and at most
``MAX_FILE_BYTES`` of them; nesting is limited to ``MAX_DEPTH`` levels, and a
document may expand through aliases and ``<<`` merges to at most
``MAX_EXPANDED_NODES`` nodes (a 1 kB "billion laughs" file is refused instead
of hanging the checker). Every YAML failure becomes a located problem.

Must not know any config schema: it does not look at keys or values beyond
their YAML structure.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

import yaml
import yaml.reader
from yaml.composer import ComposerError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from slo_exporter.config.problems import Problems
from slo_exporter.config.text import shorten

#: a config of 10,000 SLOs is well under 4 MiB
MAX_FILE_BYTES = 4 << 20
#: the native schema needs about 8 levels; anchors add a few
MAX_DEPTH = 64
#: nodes after aliases and merges are expanded; about 50 per SLO
MAX_EXPANDED_NODES = 2_000_000

TAG = "tag:yaml.org,2002:"
NULL, BOOL, INT, FLOAT, STR, MERGE = (
    TAG + name for name in ("null", "bool", "int", "float", "str", "merge")
)


@dataclass(frozen=True)
class Document:
    """One YAML document of a stream: its position (0-based), root node and first line;
    ``item`` is its index among the ``items`` of a Kubernetes List document."""

    index: int
    root: Node
    start_line: int
    item: int | None = None


# ----------------------------------------------------------------- reading


def read_file(path: str, problems: Problems) -> str | None:
    """The text of the regular file at ``path``, or None with a problem reported.

    Opened without blocking and checked with ``fstat`` before reading, so a
    FIFO, a device or a directory is refused instead of waited on.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        problems.error(None, "", f"cannot read the file: {exc.strerror or exc}")
        return None
    except ValueError:  # a NUL byte in the path
        problems.error(None, "", "cannot read the file: the path holds a NUL byte")
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            problems.error(
                None,
                "",
                f"cannot read the file: it is {_file_kind(info.st_mode)}, not a regular file",
            )
            return None
        if info.st_size > MAX_FILE_BYTES:
            problems.error(
                None,
                "",
                f"the file is larger than {MAX_FILE_BYTES >> 20} MiB "
                f"({info.st_size} bytes)",
            )
            return None
        with os.fdopen(fd, "rb", closefd=True) as handle:
            fd = -1
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        problems.error(None, "", f"cannot read the file: {exc.strerror or exc}")
        return None
    finally:
        if fd >= 0:
            os.close(fd)
    if len(data) > MAX_FILE_BYTES:  # it grew while being read
        problems.error(None, "", f"the file is larger than {MAX_FILE_BYTES >> 20} MiB")
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.error(None, "", f"the file is not UTF-8 text (byte {exc.start})")
        return None


def _file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


# --------------------------------------------------------------- composing


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe composer with a nesting limit (it recurses per level)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise ComposerError(
                    None, None, f"values are nested deeper than {MAX_DEPTH} levels", mark
                )
            node: Node | None = super().compose_node(parent, index)
            return node
        finally:
            self._depth -= 1


def compose(text: str, problems: Problems) -> list[Document] | None:
    """The documents of ``text`` as nodes, or None with the problem reported."""
    if len(text) > MAX_FILE_BYTES:
        problems.error(None, "", f"the text is longer than {MAX_FILE_BYTES >> 20} MiB")
        return None
    try:
        loader = _BoundedLoader(text)
    except yaml.reader.ReaderError as exc:
        position = int(exc.position)
        problems.error(
            text.count("\n", 0, position) + 1,
            "",
            f"invalid YAML: the character #x{exc.character:04x} is not allowed in YAML text",
        )
        return None
    documents: list[Document] = []
    try:
        while loader.check_node():
            start = int(loader.peek_event().start_mark.line) + 1  # type: ignore[no-untyped-call]
            root = loader.get_node()
            if root is not None:
                documents.append(Document(len(documents), root, start))
    except yaml.MarkedYAMLError as exc:
        _yaml_problem(exc, problems)
        return None
    except (yaml.YAMLError, ValueError, OverflowError) as exc:
        # the scanner lets a few escapes through as plain Python errors
        # ("\U0011FFFF" gives ValueError, "\UFFFFFFFF" OverflowError)
        problems.error(None, "", f"invalid YAML: {exc}")
        return None
    finally:
        loader.dispose()
    for document in documents:
        if not _within_bounds(document.root, problems):
            return None
    return documents


def compose_single(text: str, problems: Problems) -> Node | None:
    """The root of the one document of ``text``; None for an empty text or a problem."""
    documents = compose(text, problems)
    if not documents:
        return None
    return single_root(documents, problems)


def single_root(documents: list[Document], problems: Problems) -> Node | None:
    """The root of the only document; None, with the problem reported, when there are more."""
    if len(documents) > 1:
        problems.error(
            documents[1].start_line,
            "",
            f"invalid YAML: expected a single document in the stream on line "
            f"{documents[0].start_line}, but found another document",
        )
        return None
    return documents[0].root


def _yaml_problem(exc: yaml.MarkedYAMLError, problems: Problems) -> None:
    mark = exc.problem_mark or exc.context_mark
    at = None if mark is None else int(mark.line) + 1
    detail = exc.problem or "syntax error"
    if "'\\t'" in detail:
        detail += " (indent with spaces; YAML does not allow tabs there)"
    if exc.context:
        started = exc.context_mark
        where = "" if started is None else f" on line {int(started.line) + 1}"
        detail = f"{exc.context}{where}, {detail}"
    problems.error(at, "", f"invalid YAML: {detail}")


def _within_bounds(root: Node, problems: Problems) -> bool:
    """Whether ``root`` expanded through its aliases stays within the limits.

    Counts each node as often as aliases reach it, memoised per node so a
    bomb is measured in linear time. An alias back into its own ancestor
    (``&a [*a]``) is counted once; the schema reader reports it.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        kids = _children(node)
        if children_done:
            active.discard(key)
            known = [k for k in kids if id(k) in size]
            size[key] = 1 + sum(size[id(k)] for k in known)
            depth[key] = 1 + max((depth[id(k)] for k in known), default=0)
            if size[key] > MAX_EXPANDED_NODES:
                problems.error(
                    line(node),
                    "",
                    f"the document expands through YAML aliases to "
                    f"more than {MAX_EXPANDED_NODES} values",
                )
                return False
            if depth[key] > MAX_DEPTH:
                problems.error(
                    line(node),
                    "",
                    f"values are nested (through YAML aliases) deeper than {MAX_DEPTH} levels",
                )
                return False
            continue
        if key in size or key in active:
            continue
        active.add(key)
        stack.append((node, True))
        stack.extend((kid, False) for kid in kids if id(kid) not in size)
    return True


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


# ------------------------------------------------------------ node helpers


def is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == NULL


def line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def describe(node: Node) -> str:
    """How a value is shown in a message: ``150``, ``'abc'``, ``a list``."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    text = str(node.value)
    if node.tag == NULL:
        return "nothing (null)"
    shown = shorten(text)
    if node.tag == STR:
        return repr(shown)
    if not node.tag.startswith(TAG):
        return f"a value tagged {node.tag[:80]}"
    return shown
