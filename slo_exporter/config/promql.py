"""Just enough PromQL grammar to check what a config gives as queries.

Owns the plain series selector (``name{label=~"v",...}``: parsed, and
rewritten in one canonical spelling) and the ``{{.window}}`` template checks
(variables, balanced brackets and quotes). Full PromQL is Prometheus's job:
a template that passes here can still be refused by Prometheus at run time.

Must not know where in a config a query was found, and must not do I/O.
"""

from __future__ import annotations

import re

from slo_exporter.config.text import LABEL_NAME

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
TEMPLATE_VAR = re.compile(r"\{\{\s*(.*?)\s*\}\}")
SELECTOR_EXAMPLE = 'http_requests_total{job="api",code!~"5.."}'
TEMPLATE_EXAMPLE = 'sum(increase(http_requests_total{job="api"}[{{.window}}]))'

Matcher = tuple[str, str, str]


def unbalanced(text: str) -> str | None:
    """The first unbalanced bracket or quote in PromQL ``text``, if any."""
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    quote = ""
    escaped = False
    for index, char in enumerate(text, start=1):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote != "`":
                escaped = True
            elif char == quote:
                quote = ""
            continue
        if char in "\"'`":
            quote = char
        elif char in "([{":
            stack.append(char)
        elif char in pairs and (not stack or stack.pop() != pairs[char]):
            return f"unmatched {char!r} at position {index}"
    if quote:
        return f"unterminated {quote} string"
    if stack:
        return f"unclosed {stack[-1]!r}"
    return None


def parse_selector(text: str) -> tuple[str, list[Matcher]]:
    """Split a plain series selector into (metric name, [(label, op, quoted value)]).

    The value keeps its quotes, so any of PromQL's three quote styles survive.
    Raises ``ValueError`` saying where the text stops being a selector.
    """
    pos = 0
    end = len(text)

    def skip_space() -> None:
        nonlocal pos
        while pos < end and text[pos].isspace():
            pos += 1

    def unexpected(what: str = "") -> ValueError:
        if pos >= end:
            return ValueError(f"unexpected end of text{what}")
        return ValueError(f"unexpected {text[pos]!r} at position {pos + 1}{what}")

    name = ""
    match = METRIC_NAME.match(text, pos)
    if match:
        name = match.group()
        pos = match.end()
    skip_space()
    matchers: list[Matcher] = []
    if pos < end and text[pos] == "{":
        pos += 1
        while True:
            skip_space()
            if pos < end and text[pos] == "}":
                pos += 1
                break
            label_match = LABEL_NAME.match(text, pos)
            if not label_match:
                raise unexpected(", expected a label name")
            label = label_match.group()
            pos = label_match.end()
            skip_space()
            op = next((o for o in ("=~", "!~", "!=", "=") if text.startswith(o, pos)), None)
            if op is None:
                raise unexpected(", expected =, !=, =~ or !~")
            pos += len(op)
            skip_space()
            value, pos = _quoted(text, pos)
            matchers.append((label, op, value))
            skip_space()
            if pos < end and text[pos] == ",":
                pos += 1
            elif pos < end and text[pos] == "}":
                pos += 1
                break
            else:
                raise unexpected(", expected ',' or '}'")
        skip_space()
    if pos != end:
        raise unexpected()
    if not name and not any(label == "__name__" for label, _, _ in matchers):
        raise ValueError("a selector needs a metric name or a __name__ matcher")
    return name, matchers


def selector_text(name: str, matchers: list[Matcher]) -> str:
    """One spelling per selector, without spaces or a trailing comma, so that
    other modules can append matchers (``le``) and whitespace edits do not
    change the SLI's fingerprint."""
    if not matchers:
        return name
    return name + "{" + ",".join(f"{label}{op}{value}" for label, op, value in matchers) + "}"


def _quoted(text: str, pos: int) -> tuple[str, int]:
    """Read a quoted PromQL string at ``pos``; return it with its quotes and the end position."""
    if pos >= len(text):
        raise ValueError("unexpected end of text, expected a quoted value")
    if text[pos] not in "\"'`":
        raise ValueError(f"unexpected {text[pos]!r} at position {pos + 1}, expected a quoted value")
    quote = text[pos]
    index = pos + 1
    while index < len(text):
        char = text[index]
        if char == "\\" and quote != "`":
            index += 2
            continue
        if char == quote:
            return text[pos : index + 1], index + 1
        if char == "\n":
            break
        index += 1
    raise ValueError(f"unterminated string starting at position {pos + 1}")
