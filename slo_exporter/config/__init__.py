"""The configuration: a YAML file -> frozen ``model.Config``, or every problem at once.

The package is layered so that other SLO dialects (Sloth, OpenSLO, Pyrra)
land as sibling modules of ``native``:

- ``nodes``: reads the file safely and composes located YAML nodes (no schema);
- ``problems``: the located errors and warnings a reader collects;
- ``fields``: typed, bounded readers over nodes (no schema);
- ``text``, ``promql``: grammar of hosts, URLs, headers, labels and selectors;
- ``httpclient``: the headers/auth/TLS block every HTTP client shares;
- ``native``, ``native_probes``: the native schema;
- ``dialects``: recognising a document's dialect and the native ``include:``;
- ``sloth`` (and ``openslo``): the other dialects, each into native services.

A top-level file that is not native (a Sloth or OpenSLO file given straight
to ``check``) is loaded by its dialect with default settings.

Relative file paths in the config (``ca_file``, ``password_file``,
``bearer_token_file``, ...) are resolved against the directory of the config
file, as Prometheus does, so a config and its secrets can move together.

Whatever the input, the public functions raise nothing but ``ConfigError``.
Must not do I/O beyond reading the config file itself and the files its
``include:`` names: referenced files are
only checked when they are used, so a config can be validated on a machine
that does not hold the secrets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from yaml.nodes import Node

from slo_exporter import model
from slo_exporter.config import openslo, pyrra, sloth
from slo_exporter.config.dialects import (
    DIALECTS,
    PREPARERS,
    SLOTH_WITHOUT_VERSION,
    TOGETHER,
    Context,
    Includer,
    Origin,
    Services,
    detect,
    expand_lists,
    load_located,
    sloth_without_version,
)
from slo_exporter.config.fields import Reader
from slo_exporter.config.native import NativeLoader
from slo_exporter.config.nodes import Document, compose, is_null, read_file, single_root
from slo_exporter.config.problems import ConfigWarning, Problems
from slo_exporter.errors import ConfigError, ConfigProblem

P = TypeVar("P", bound=ConfigProblem)

# every dialect loader, by the name ``dialects.detect`` gives its documents
DIALECTS["sloth"] = sloth.load
DIALECTS["openslo"] = openslo.services
DIALECTS["pyrra"] = pyrra.load
PREPARERS["sloth"] = sloth.prepare  # AlertWindows catalogs, from any included file
TOGETHER.add("openslo")  # its documents refer to each other

__all__ = ["ConfigWarning", "format_problems", "load_config", "parse_config"]


def load_config(path: str, warnings: list[ConfigWarning] | None = None) -> model.Config:
    """Read and validate the config file at ``path``.

    Raises ``ConfigError`` listing every problem, each located by file, line
    and dotted field path. Warnings (valid values that are probably not
    meant) are appended to ``warnings`` when it is given.
    """
    problems = Problems(path)
    text = read_file(path, problems)
    if text is None:
        problems.raise_if_any()
        raise ConfigError([])  # pragma: no cover - read_file reports why it failed
    return parse_config(text, path, warnings)


def parse_config(
    text: str, filename: str, warnings: list[ConfigWarning] | None = None
) -> model.Config:
    """Validate config ``text``; ``filename`` is used in messages and to resolve paths."""
    problems = Problems(filename)
    config = _parse(text, problems)
    if problems.errors:
        raise ConfigError(_by_file(problems.errors))
    if config is None:  # pragma: no cover - every None comes with a problem
        raise ConfigError([])
    if warnings is not None:
        warnings.extend(_by_file(problems.warnings))
    return config


def _by_file(found: Sequence[P]) -> list[P]:
    """Problems without repeats, grouped by file (the config first, then included
    files in reading order), each file's in line order (unlocated ones first)."""
    unique = list(dict.fromkeys(found))
    files = list(dict.fromkeys(problem.file for problem in unique))
    return sorted(unique, key=lambda p: (files.index(p.file), -1 if p.line is None else p.line))


def _parse(text: str, problems: Problems) -> model.Config | None:
    try:
        documents = compose(text, problems)
        if problems.errors or documents is None:
            return None
        documents = expand_lists(documents)
        if not documents or (len(documents) == 1 and is_null(documents[0].root)):
            problems.error(1, "", "the file is empty; expected a 'services' list")
            return None
        reader = Reader(problems)
        if any(detect(document) is not None for document in documents):
            return _dialect_config(documents, reader)
        root = single_root(documents, problems)
        if root is None:
            return None
        if sloth_without_version(root):
            reader.report(root, "", SLOTH_WITHOUT_VERSION)
            return None
        return NativeLoader(reader, _includer(reader)).config(root)
    except RecursionError:
        # a last line of defence: nesting is bounded in nodes, but a regular
        # expression or a future reader could still recurse too deeply
        problems.error(None, "", "the file is nested too deeply to be read")
        return None


def _dialect_config(documents: list[Document], reader: Reader) -> model.Config | None:
    """A config of one dialect file with the default settings (``check sloth.yml``)."""
    storage = model.StorageConfig()
    loaded = Services({})
    for service, source in load_located(documents, reader, Context(reader.file, storage)):
        loaded.add(service, reader.file, reader, source, dialect=True)
    services = list(loaded.found.values())
    if not services and not reader.problems.errors:
        # e.g. only Sloth AlertWindows catalogs: they serve SLOs of other files
        reader.problems.error(None, "", "the file defines no SLO; include it from a config "
                                        "that has SLOs (include: [FILE])")
    if reader.problems.errors or not services:
        return None
    return model.Config(services=tuple(services), storage=storage, source_file=reader.file)


def _includer(
    reader: Reader,
) -> Callable[
    [Node, str, model.StorageConfig, tuple[model.Service, ...]], tuple[model.Service, ...] | None
]:
    """Reads a native config's ``include:`` list against the services it defines itself."""

    def include(
        node: Node, path: str, storage: model.StorageConfig, own: tuple[model.Service, ...]
    ) -> tuple[model.Service, ...] | None:
        taken = {service.name: Origin(reader.file, None, "services") for service in own}
        return Includer(reader, storage, _native_services, taken).include(node, path)

    return include


def _native_services(
    node: Node, path: str, reader: Reader, storage: model.StorageConfig
) -> tuple[model.Service, ...] | None:
    """The ``services`` list of a native included file, judged by the including storage."""
    loader = NativeLoader(reader, storage=storage)
    services = loader.services(node, path)
    loader.slm.check_references()
    return services


def format_problems(err: ConfigError) -> str:
    """The problems of ``err`` as text, one ``FILE:LINE: path: reason`` per line."""
    return "\n".join(str(problem) for problem in err.problems)
