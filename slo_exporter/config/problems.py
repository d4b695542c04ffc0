"""Collecting what is wrong (and what looks wrong) with a config file.

Owns ``Problems``, the list every config reader appends to, and
``ConfigWarning``, a located remark that does not make the file invalid (an
objective of 0.99 that is probably meant as 99). Errors are raised together
as one ``ConfigError`` once the whole file has been read.

Must not know any config schema: the native loader and future dialect loaders
(Sloth, OpenSLO, Pyrra) share it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from slo_exporter.errors import ConfigError, ConfigProblem


@dataclass(frozen=True)
class ConfigWarning(ConfigProblem):
    """A located remark about a value that is valid but probably not meant;
    printed and logged, never fatal."""

    tag: ClassVar[str] = " warning:"


class Problems:
    """The errors and warnings found in one file, in the order they were found."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[ConfigProblem] = []
        self.warnings: list[ConfigWarning] = []

    def error(self, line: int | None, path: str, reason: str) -> None:
        self.errors.append(ConfigProblem(self.file, path, reason, line))

    def warn(self, line: int | None, path: str, reason: str) -> None:
        self.warnings.append(ConfigWarning(self.file, path, reason, line))

    def raise_if_any(self) -> None:
        """Raise one ``ConfigError`` with every error, in file order."""
        if self.errors:
            raise ConfigError(ordered(self.errors))


def ordered(problems: list[ConfigProblem]) -> list[ConfigProblem]:
    """Problems without repeats, in file order (unlocated ones first)."""
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: -1 if p.line is None else p.line)
