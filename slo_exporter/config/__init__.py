"""The configuration: a YAML file -> frozen ``model.Config``, or every problem at once.

The package is layered so that other SLO dialects (Sloth, OpenSLO, Pyrra)
land as sibling modules of ``native``:

- ``nodes``: reads the file safely and composes located YAML nodes (no schema);
- ``problems``: the located errors and warnings a reader collects;
- ``fields``: typed, bounded readers over nodes (no schema);
- ``text``, ``promql``: grammar of hosts, URLs, headers, labels and selectors;
- ``httpclient``: the headers/auth/TLS block every HTTP client shares;
- ``native``, ``native_probes``: the native schema.

Relative file paths in the config (``ca_file``, ``password_file``,
``bearer_token_file``, ...) are resolved against the directory of the config
file, as Prometheus does, so a config and its secrets can move together.

Whatever the input, the public functions raise nothing but ``ConfigError``.
Must not do I/O beyond reading the config file itself: referenced files are
only checked when they are used, so a config can be validated on a machine
that does not hold the secrets.
"""

from __future__ import annotations

from slo_exporter import model
from slo_exporter.config.fields import Reader
from slo_exporter.config.native import NativeLoader
from slo_exporter.config.nodes import compose_single, is_null, read_file
from slo_exporter.config.problems import ConfigWarning, Problems
from slo_exporter.errors import ConfigError

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
    problems.raise_if_any()
    if config is None:  # pragma: no cover - every None comes with a problem
        raise ConfigError([])
    if warnings is not None:
        warnings.extend(problems.warnings)
    return config


def _parse(text: str, problems: Problems) -> model.Config | None:
    try:
        root = compose_single(text, problems)
        if problems.errors:
            return None
        if root is None or is_null(root):
            problems.error(1, "", "the file is empty; expected a 'services' list")
            return None
        return NativeLoader(Reader(problems)).config(root)
    except RecursionError:
        # a last line of defence: nesting is bounded in nodes, but a regular
        # expression or a future reader could still recurse too deeply
        problems.error(None, "", "the file is nested too deeply to be read")
        return None


def format_problems(err: ConfigError) -> str:
    """The problems of ``err`` as text, one ``FILE:LINE: path: reason`` per line."""
    return "\n".join(str(problem) for problem in err.problems)
