"""SLO dialects: recognising a document's dialect, and the native ``include:`` key.

Owns the interface every dialect loader implements (``DialectLoader``), the
registry of loaders (``DIALECTS``), ``detect`` (a document's dialect from its
``apiVersion``, ``version`` or ``kind``; native documents have none of them)
and the reading of included files: globs relative to the including file
(a directory stands for its ``*.yaml`` and ``*.yml`` files),
a bounded number of files (and bytes), each read through ``nodes.read_file``'s
limits, a Kubernetes ``List`` read as its items, every document given to its
dialect, and the services of every file put together (``Services``):
dialect documents naming one service add their SLOs to it, any other
duplicate is reported with both places.

Must not know any dialect's schema (that is in ``native``, ``sloth``,
``openslo``), and must not read anything but the files an ``include:`` names.
Problems in an included file name that file and the document index
(``documents[2].spec.slos[0].sli``).
"""

from __future__ import annotations

import glob
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from slo_exporter import model
from slo_exporter.config.fields import Reader
from slo_exporter.config.nodes import Document, compose, is_null, read_file
from slo_exporter.config.problems import Problems
from slo_exporter.config.text import shorten

#: files one config may include in all, whatever its globs match
MAX_INCLUDED_FILES = 1000
#: globs one ``include:`` list may hold
MAX_INCLUDE_PATTERNS = 100
#: bytes all included files may hold together (each is bounded by ``nodes.MAX_FILE_BYTES``)
MAX_INCLUDED_BYTES = 64 << 20


@dataclass(frozen=True)
class Peer:
    """One dialect file of an ``include:``: its documents and the reader of its problems."""

    file: str
    documents: Sequence[Document]
    reader: Reader


@dataclass(frozen=True)
class Context:
    """Where the documents came from and what the including config settles for them.

    ``peers`` are every dialect file the same ``include:`` reads (this one
    among them), so that a dialect with references between documents
    (OpenSLO) resolves them across files; ``cache`` is shared by the loader
    calls of those files, so such an index is built once.
    """

    file: str  # the file the documents came from (for messages)
    storage: model.StorageConfig  # the including config's storage (resolution)
    #: what dialects gather from every file of one config before any is loaded
    #: (Sloth's AlertWindows catalogs, the OpenSLO object index), one entry per dialect
    shared: dict[str, Any] = field(default_factory=dict)
    peers: Sequence[Peer] = ()


DialectLoader = Callable[[Sequence[Document], Reader, Context], list[model.Service]]
#: a first pass over a file's documents of one dialect, run for every included
#: file before any is loaded, so a file can use what another defines; it must
#: tolerate being run again on the same file (``load_dialect_documents`` runs it)
Preparer = Callable[[Sequence[Document], Reader, Context], None]

#: dialect name -> loader; each dialect is registered by the config package (``__init__``)
DIALECTS: dict[str, DialectLoader] = {}
#: dialect name -> its first pass, for the dialects that have one
PREPARERS: dict[str, Preparer] = {}
#: the dialects whose documents refer to each other (OpenSLO), loaded together; the
#: others' documents are loaded one at a time, so each service is located in its document
TOGETHER: set[str] = set()

#: the OpenSLO versions the OpenSLO dialect reads; v1alpha (which Sloth reads) is not one
OPENSLO_VERSIONS = ("openslo/v1", "openslo.com/v2alpha")

#: the keys that mark a document as not native
MARKERS = ("apiVersion", "version", "kind")


def _top_scalar(document: Document, key: str) -> str | None:
    root = document.root
    if isinstance(root, SequenceNode) and root.value:
        # a YAML list of objects (as OpenSLO's Go SDK writes them) is of its first one's dialect
        root = root.value[0]
    if not isinstance(root, MappingNode):
        return None
    for key_node, value_node in root.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            if isinstance(value_node, ScalarNode) and not is_null(value_node):
                return str(value_node.value)
            return ""
    return None


def detect(document: Document) -> str | None:
    """The dialect of ``document``: None for native, else a name.

    A name that is not in ``DIALECTS`` (``"pyrra"``, ``"unknown"``) means
    the document is marked as another dialect that cannot be loaded.
    """
    api_version = _top_scalar(document, "apiVersion")
    version = _top_scalar(document, "version")
    kind = _top_scalar(document, "kind")
    if api_version is None and version is None and kind is None:
        return None
    if version == "prometheus/v1" or (api_version or "").startswith("sloth.slok.dev/"):
        return "sloth"
    if api_version in OPENSLO_VERSIONS:
        return "openslo"
    if (api_version or "").startswith("pyrra.dev/"):
        return "pyrra"
    return "unknown"


def marker_text(document: Document) -> str:
    """``apiVersion 'x/v1', kind 'Y'``: what marked a document, for messages."""
    parts = []
    for key in MARKERS:
        value = _top_scalar(document, key)
        if value is not None:
            shown = shorten(value)
            parts.append(f"{key} {shown!r}")
    return ", ".join(parts)


#: kind -> the apiVersion that marks it, for a document that gives the kind alone
_KIND_API = {
    "ServiceLevelObjective": "pyrra.dev/v1alpha1",
    "PrometheusServiceLevel": "sloth.slok.dev/v1",
    "AlertWindows": "sloth.slok.dev/v1",
    **dict.fromkeys(("SLO", "SLI", "DataSource", "Service", "AlertPolicy", "AlertCondition",
                     "AlertNotificationTarget"), "openslo/v1"),
}

#: what a Sloth spec without its ``version`` line is told (it reads as native)
SLOTH_WITHOUT_VERSION = (
    "this looks like a Sloth spec (service and slos) without 'version: prometheus/v1': add "
    "that line, or write a native config (a 'services' list)"
)


def sloth_without_version(root: Node) -> bool:
    """Whether a document without any dialect marker has the shape of a Sloth spec
    (``service`` and ``slos``, no native ``services``)."""
    if not isinstance(root, MappingNode):
        return False
    keys = {key.value for key, _ in root.value if isinstance(key, ScalarNode)}
    return {"service", "slos"} <= keys and "services" not in keys


def unsupported_reason(name: str, document: Document) -> str:
    """Why a document of dialect ``name`` (not in ``DIALECTS``) cannot be loaded."""
    if _list_items(document) == []:
        return "a Kubernetes List must hold its SLO objects in a non-empty 'items' list"
    kind = _top_scalar(document, "kind")
    if _top_scalar(document, "apiVersion") is None and kind in _KIND_API:
        return (f"kind {kind!r} without an apiVersion: add 'apiVersion: {_KIND_API[kind]}' "
                "so the document is read as that dialect")
    supported = ", ".join(sorted(["native", *DIALECTS]))
    return (
        f"{marker_text(document)} is not a supported SLO dialect "
        f"(supported: {supported}; native files have no apiVersion, version or kind)"
    )


def document_path(document: Document, path: str = "") -> str:
    """``documents[2].spec``: a field of one document of a multi-document file
    (``documents[0].items[3].spec`` in a Kubernetes List)."""
    prefix = f"documents[{document.index}]"
    if document.item is not None:
        prefix += f".items[{document.item}]"
    return f"{prefix}.{path}" if path else prefix


def _list_items(document: Document) -> list[Node] | None:
    """The items of a Kubernetes List document (``apiVersion: v1``, ``kind: List``, as
    ``kubectl get -o yaml`` writes), or None for any other document."""
    root = document.root
    if (document.item is not None or not isinstance(root, MappingNode)
            or _top_scalar(document, "apiVersion") != "v1"
            or _top_scalar(document, "kind") != "List"):
        return None
    for key, value in root.value:
        if isinstance(key, ScalarNode) and key.value == "items":
            return list(value.value) if isinstance(value, SequenceNode) else []
    return []


def expand_lists(documents: Sequence[Document]) -> list[Document]:
    """``documents`` with each Kubernetes List replaced by its items, each one a document
    located by its List's index and its own (``documents[0].items[2]``).

    A List without items stays, and is reported as such when it is loaded.
    """
    expanded: list[Document] = []
    for document in documents:
        items = _list_items(document)
        if not items:
            expanded.append(document)
            continue
        expanded.extend(
            Document(document.index, item, item.start_mark.line + 1, item=position)
            for position, item in enumerate(items))
    return expanded


def load_dialect_documents(
    documents: Sequence[Document], reader: Reader, context: Context
) -> list[model.Service]:
    """Services of documents that are all of some dialect (not native)."""
    return [service for service, _ in load_located(documents, reader, context)]


def load_located(
    documents: Sequence[Document], reader: Reader, context: Context
) -> list[tuple[model.Service, Sequence[Document]]]:
    """Services of documents that are all of some dialect, each with the documents it
    was read from (for messages about it).

    The documents of a dialect with references between documents (OpenSLO) go
    to its loader together, so that it sees them all; the others one by one.
    """
    services: list[tuple[model.Service, Sequence[Document]]] = []
    groups: dict[str, list[Document]] = {}
    for document in documents:
        name = detect(document)
        if name is None:
            reader.report(
                document.root,
                document_path(document),
                "a native document (no apiVersion, version or kind) cannot be mixed with "
                "other dialects in one file; put it in a file of its own",
            )
            continue
        if name not in DIALECTS:
            reader.report(
                document.root, document_path(document), unsupported_reason(name, document)
            )
            continue
        groups.setdefault(name, []).append(document)
    for name, group in groups.items():
        if name in PREPARERS:
            PREPARERS[name](group, reader, context)
        parts = [group] if name in TOGETHER else [[document] for document in group]
        for part in parts:
            services.extend((service, part) for service in DIALECTS[name](part, reader, context))
    return services


# ----------------------------------------------------------------- include


def format_bytes(count: int) -> str:
    """``64 MiB`` for whole mebibytes, else ``1234 bytes``."""
    return f"{count >> 20} MiB" if count and count % (1 << 20) == 0 else f"{count} bytes"

#: the files a directory given to ``include:`` stands for (not its subdirectories)
DIRECTORY_FILES = ("*.yaml", "*.yml")


def _expand(paths: Iterator[str]) -> Iterator[str]:
    """``paths`` with each directory replaced by its YAML files, in name order."""
    for path in paths:
        if not os.path.isdir(path):
            yield path
            continue
        inside = (
            glob.glob(os.path.join(glob.escape(path), pattern)) for pattern in DIRECTORY_FILES
        )
        yield from sorted(name for names in inside for name in names)


NativeServices = Callable[
    [Node, str, Reader, model.StorageConfig], tuple[model.Service, ...] | None
]


@dataclass
class Origin:
    """Where a service name was first defined, for duplicate messages; ``dialect``: by
    dialect documents, whose services with one name add up (Sloth specs or OpenSLO SLOs
    of one service in several files)."""

    file: str
    line: int | None
    path: str
    dialect: bool = False

    def text(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where} ({self.path})" if self.path else where


#: the keys whose value names a document's service, in the order they are looked for
_SERVICE_KEYS = (("service", "serviceRef"), ("name",))


def _service_node(documents: Sequence[Document], name: str) -> tuple[Node | None, str]:
    """The node (and path) of the first field of ``documents`` that names service ``name``:
    Sloth's ``service``, an OpenSLO SLO's ``service``, Pyrra's ``metadata.name``."""
    for keys in _SERVICE_KEYS:
        for document in documents:
            queue = deque([(document.root, document_path(document))])
            while queue:  # bounded: nodes are bounded per file
                node, path = queue.popleft()
                if isinstance(node, SequenceNode):
                    queue.extend((item, f"{path}[{i}]") for i, item in enumerate(node.value))
                elif isinstance(node, MappingNode):
                    for key, value in node.value:
                        if not isinstance(key, ScalarNode):
                            continue
                        inner = f"{path}.{key.value}"
                        if (key.value in keys and isinstance(value, ScalarNode)
                                and value.value == name):
                            return value, inner
                        queue.append((value, inner))
    return None, ""


class Services:
    """The services of one config by name, as its files and documents define them.

    A name is defined once, except that dialect documents naming one service add
    their SLOs to it (an SLO name twice in a service is an error naming both
    files), and the service keeps the labels they agree on (each SLO keeps its
    own). A duplicate is located at the field naming the service.
    """

    def __init__(self, taken: dict[str, Origin]) -> None:
        #: service name -> where it was first defined (the including file's services first)
        self.taken = taken
        self.found: dict[str, model.Service] = {}
        self._slos: dict[str, str] = {}  # slo key -> the file it was defined in

    def add(
        self, service: model.Service, file: str, reader: Reader,
        documents: Sequence[Document] | None, *, dialect: bool,
    ) -> None:
        origin = self.taken.get(service.name)
        node, path = _service_node(documents or (), service.name) if origin else (None, "")
        if origin is not None and not (dialect and origin.dialect):
            reader.report(node, path, (
                f"duplicate service name {service.name!r}: also defined in {origin.text()}; "
                "service names must be unique across the config and every included file"))
            return
        slos = []
        for slo in service.slos:
            first = self._slos.get(slo.key)
            if first is not None:
                reader.report(node, path, (
                    f"duplicate SLO {slo.key!r}: also defined in {first}; an SLO name "
                    "must be unique within its service"))
                continue
            self._slos[slo.key] = file
            slos.append(slo)
        before = self.found.get(service.name)
        if before is None:
            self.taken[service.name] = Origin(file, None, "", dialect)
            self.found[service.name] = replace(service, slos=tuple(slos))
            return
        self.found[service.name] = replace(
            before, slos=before.slos + tuple(slos),
            labels=model.frozen_map({key: value for key, value in before.labels.items()
                                     if service.labels.get(key, value) == value}),
            description=before.description or service.description,
        )


class Includer:
    """Reads the files an ``include:`` list names; problems go to the including reader.

    ``native_services`` reads the ``services`` list of a native included file
    (given by the config package, so this module does not depend on ``native``).
    """

    def __init__(
        self,
        reader: Reader,
        storage: model.StorageConfig,
        native_services: NativeServices,
        taken: dict[str, Origin],
    ) -> None:
        self.r = reader
        self.storage = storage
        self.native_services = native_services
        #: service name -> where it was defined (the including file's services first)
        self.services = Services(taken)
        self.shared: dict[str, Any] = {}
        self._bytes = 0  # read so far from included files

    def include(self, node: Node, path: str) -> tuple[model.Service, ...] | None:
        items = self.r.sequence(node, path, "file globs")
        if items is None:
            return None
        if not items:
            self.r.report(node, path, "must list at least one file glob, such as 'slos/*.yaml'")
            return None
        if len(items) > MAX_INCLUDE_PATTERNS:
            self.r.report(node, path, f"must list at most {MAX_INCLUDE_PATTERNS} globs")
            return None
        files: dict[str, None] = {}
        for item, item_path in items:
            pattern = self.r.string(item, item_path)
            if pattern is None:
                continue
            if not pattern.strip():
                self.r.report(item, item_path, "must not be empty")
                continue
            full = self.r.resolve_path(pattern)
            # iglob: stop reading a huge directory as soon as the cap is passed
            matched = 0
            for found in _expand(glob.iglob(full)):
                matched += 1
                files.setdefault(os.path.normpath(found), None)
                if len(files) > MAX_INCLUDED_FILES:
                    self.r.report(
                        item,
                        item_path,
                        f"the globs match more than {MAX_INCLUDED_FILES} files; "
                        "include fewer files (or merge them)",
                    )
                    return None
            if matched == 0:
                self.r.report(item, item_path, f"{pattern[:200]!r} matches no file")
        main = os.path.normpath(self.r.file)
        # Every file is read before any is loaded: a reference may point into a
        # later file, and a problem found there belongs to that file (so the
        # problems of every file are handed on after all are loaded).
        # A glob such as '*.yaml' next to the config matches the config.
        read = [(file, Reader(problems), documents) for file, (problems, documents) in
                ((file, self._read(file)) for file in sorted(files) if file != main)]
        for file, reader, documents in read:
            for name, prepare in PREPARERS.items():
                group = [d for d in documents or () if detect(d) == name]
                if group:
                    prepare(group, Reader(reader.problems),
                            Context(file, self.storage, self.shared))
        peers = tuple(Peer(file, documents, reader) for file, reader, documents in read
                      if documents and any(detect(d) is not None for d in documents))
        for file, reader, documents in read:
            self._file(file, reader, documents, peers)
        for _file, reader, _documents in read:
            self.r.problems.errors.extend(reader.problems.errors)
            self.r.problems.warnings.extend(reader.problems.warnings)
        return tuple(self.services.found.values())

    def _read(self, file: str) -> tuple[Problems, list[Document] | None]:
        problems = Problems(file)
        text = read_file(file, problems)
        if text is not None:
            self._bytes += len(text.encode())
            if self._bytes > MAX_INCLUDED_BYTES:
                problems.error(None, "", f"the included files hold more than "
                                         f"{format_bytes(MAX_INCLUDED_BYTES)} together; "
                                         "include fewer or smaller files")
                text = None
        documents = None if text is None else compose(text, problems)
        return problems, None if documents is None else expand_lists(documents)

    def _file(
        self, file: str, reader: Reader, documents: list[Document] | None,
        peers: Sequence[Peer],
    ) -> None:
        services: list[tuple[model.Service, Sequence[Document]]] = []
        dialect = bool(documents) and any(detect(d) is not None for d in documents or ())
        if documents == []:
            reader.problems.error(None, "", "the file is empty; expected SLO documents")
        elif dialect:
            context = Context(file, self.storage, self.shared, peers)
            services.extend(load_located(documents or [], reader, context))
        elif documents:
            for document in documents:
                services.extend((service, [document])
                                for service in self._native(document, reader))
        for service, source in services:
            self.services.add(service, file, reader, source, dialect=dialect)

    def _native(self, document: Document, reader: Reader) -> tuple[model.Service, ...]:
        prefix = document_path(document)
        if sloth_without_version(document.root):
            reader.report(document.root, prefix, SLOTH_WITHOUT_VERSION)
            return ()
        fields = reader.mapping(
            document.root,
            prefix,
            ("services", "include"),
            required=("services",),
            ignore=lambda key: key.startswith("x-"),
        )
        if fields is None:
            return ()
        if fields.has("include"):
            fields.report(
                "include",
                "an included file cannot include other files; list every glob in the "
                "main config file's 'include'",
            )
        node = fields.get("services")
        if node is None:
            return ()
        return self.native_services(node, fields.key_path("services"), reader, self.storage) or ()
