"""SLO dialects: recognising a document's dialect, and the native ``include:`` key.

Owns the interface every dialect loader implements (``DialectLoader``), the
registry of loaders (``DIALECTS``), ``detect`` (a document's dialect from its
``apiVersion``, ``version`` or ``kind``; native documents have none of them)
and the reading of included files: globs relative to the including file
(a directory stands for its ``*.yaml`` and ``*.yml`` files),
a bounded number of files, each read through ``nodes.read_file``'s limits,
every document given to its dialect, duplicate service names across files
reported with both places.

Must not know any dialect's schema (that is in ``native``, ``sloth``,
``openslo``), and must not read anything but the files an ``include:`` names.
Problems in an included file name that file and the document index
(``documents[2].spec.slos[0].sli``).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from slo_exporter import model
from slo_exporter.config.fields import Reader
from slo_exporter.config.nodes import Document, compose, is_null, read_file
from slo_exporter.config.problems import Problems

#: files one config may include in all, whatever its globs match
MAX_INCLUDED_FILES = 1000
#: globs one ``include:`` list may hold
MAX_INCLUDE_PATTERNS = 100


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
            shown = value if len(value) <= 80 else value[:77] + "..."
            parts.append(f"{key} {shown!r}")
    return ", ".join(parts)


def unsupported_reason(name: str, document: Document) -> str:
    """Why a document of dialect ``name`` (not in ``DIALECTS``) cannot be loaded."""
    supported = ", ".join(sorted(["native", *DIALECTS]))
    return (
        f"{marker_text(document)} is not a supported SLO dialect "
        f"(supported: {supported}; native files have no apiVersion, version or kind)"
    )


def document_path(document: Document, path: str = "") -> str:
    """``documents[2].spec``: a field of one document of a multi-document file."""
    prefix = f"documents[{document.index}]"
    return f"{prefix}.{path}" if path else prefix


def load_dialect_documents(
    documents: Sequence[Document], reader: Reader, context: Context
) -> list[model.Service]:
    """Services of documents that are all of some dialect (not native).

    Consecutive documents of one dialect go to its loader together, so that
    a dialect with references between documents (OpenSLO) sees them all.
    """
    services: list[model.Service] = []
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
        services.extend(DIALECTS[name](group, reader, context))
    return services


# ----------------------------------------------------------------- include

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
    """Where a service name was first defined, for duplicate messages."""

    file: str
    line: int | None
    path: str

    def text(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where} ({self.path})" if self.path else where


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
        self.taken = taken
        self.shared: dict[str, Any] = {}

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
        services: list[model.Service] = []
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
            services.extend(self._file(file, reader, documents, peers))
        for _file, reader, _documents in read:
            self.r.problems.errors.extend(reader.problems.errors)
            self.r.problems.warnings.extend(reader.problems.warnings)
        return tuple(services)

    def _read(self, file: str) -> tuple[Problems, list[Document] | None]:
        problems = Problems(file)
        text = read_file(file, problems)
        return problems, None if text is None else compose(text, problems)

    def _file(
        self, file: str, reader: Reader, documents: list[Document] | None,
        peers: Sequence[Peer],
    ) -> list[model.Service]:
        services: list[model.Service] = []
        if documents == []:
            reader.problems.error(None, "", "the file is empty; expected SLO documents")
        elif documents and any(detect(document) is not None for document in documents):
            context = Context(file, self.storage, self.shared, peers)
            services.extend(load_dialect_documents(documents, reader, context))
        elif documents:
            for document in documents:
                services.extend(self._native(document, reader))
        return self._unique(services, file, reader)

    def _native(self, document: Document, reader: Reader) -> tuple[model.Service, ...]:
        prefix = document_path(document)
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

    def _unique(
        self, services: list[model.Service], file: str, reader: Reader
    ) -> list[model.Service]:
        """``services`` without names defined before, each duplicate reported with both places."""
        kept: list[model.Service] = []
        for service in services:
            origin = self.taken.get(service.name)
            if origin is not None:
                reader.report(
                    None,
                    "",
                    f"duplicate service name {service.name!r}: also defined in {origin.text()}; "
                    "service names must be unique across the config and every included file",
                )
                continue
            self.taken[service.name] = Origin(file, None, "")
            kept.append(service)
        return kept
