"""Local PromQL label matching: decide here which series a plain selector selects.

Owns the parse of a plain series selector (``name{label op "value", ...}``,
through ``config.promql.parse_selector``) into matchers that can be tested
against a series' labels with Prometheus' semantics, and the selector that
covers several selectors of one metric (``covering``). The rules followed,
from the Prometheus documentation ("Querying basics": time series selectors)
and its release notes:

* ``=`` and ``!=`` compare the label value exactly; a label a series lacks
  has the value ``""`` (``job=""`` selects series without ``job``);
* ``=~`` and ``!~`` are RE2 regular expressions, fully anchored: Prometheus
  compiles ``^(?:re)$``;
* strings are Go-quoted: escapes in ``"..."`` and ``'...'`` (``\\n``,
  ``\\xHH``, ``\\uHHHH``, octal ...), none in backquotes;
* since Prometheus 3.0, ``.`` in a regex matches every character, a newline
  too; 2.x did not match a newline with it.

Python's ``re`` is not RE2. A regex is translated only from a subset whose
meaning is the same in both (literals, escaped punctuation, ``.``, classes
with ranges, ``\\d``/``\\w``/``\\s`` and their negations as ASCII classes,
groups, alternation, the greedy and lazy quantifiers, the ``i`` and ``s``
flags); anything else (POSIX classes, ``\\p{..}``, ``\\b``, ``\\z``, ``\\Q``,
``{,n}``, possessive quantifiers, look-around, back references, other
flags, ``(?i)`` over non-ASCII text ...) is ``Unsupported`` with the reason,
and the caller asks Prometheus instead. Where the two engines (or
Prometheus versions) can still differ on one label value, a ``.`` meeting a
newline or a case-insensitive regex meeting a non-ASCII value, matching
raises ``Ambiguous`` rather than guess.

Must not do I/O or know about SLOs, stores or reads: selectors in, booleans
and selector text out.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from slo_exporter.config.promql import parse_selector

#: longest regex alternation ``covering`` writes in place of equality matchers
MAX_ALTERNATION = 4096

#: RE2 metacharacters: escaped in literal text written into a regex
_META = frozenset("\\.+*?()|[]{}^$")
#: RE2 ``\s`` is ``[\t\n\f\r ]``: Python's ASCII ``\s`` adds ``\v``
_SPACE = "\\t\\n\\f\\r "
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
                   "v": "\v", "\\": "\\", "'": "'", '"': '"'}


class Unsupported(ValueError):
    """A selector or regex whose local meaning is not certain; ``str()`` is the reason."""


class Ambiguous(Exception):
    """A label value on which Prometheus versions, or RE2 and Python, may disagree."""


@dataclass(frozen=True)
class _Regex:
    pattern: re.Pattern[str]
    dot: bool  # has a '.' outside a class (newline meaning changed in Prometheus 3.0)
    folds: bool  # case-insensitive (RE2 folds Unicode, the translation ASCII only)


@dataclass(frozen=True, slots=True)
class Matcher:
    """One label matcher: ``name op value`` with ``value`` unquoted."""

    name: str
    op: str
    value: str
    regex: _Regex | None = field(default=None, compare=False, repr=False)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a series with ``labels`` passes this matcher (a missing label is '')."""
        value = labels.get(self.name, "")
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        assert self.regex is not None
        if (self.regex.dot and "\n" in value) or (self.regex.folds and not value.isascii()):
            raise Ambiguous(f"{self.name}{self.op}{self.value!r} on {value!r}")
        found = self.regex.pattern.fullmatch(value) is not None
        return found if self.op == "=~" else not found

    @property
    def text(self) -> str:
        return f"{self.name}{self.op}{quote(self.value)}"


@dataclass(frozen=True, slots=True)
class Selector:
    """A plain selector: its metric name and every matcher (``__name__`` included)."""

    metric: str
    matchers: tuple[Matcher, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether Prometheus would return a series with ``labels`` for this selector."""
        if labels.get("__name__", self.metric) != self.metric:
            return False
        return all(m.matches(labels) for m in self.matchers)


def parse(text: str) -> Selector:
    """``text`` as a ``Selector``; ``Unsupported`` with the reason when it cannot be
    matched locally with certainty (not a plain selector, no exact metric name,
    a regex outside the shared subset)."""
    try:
        name, raw = parse_selector(text.strip())
    except ValueError as exc:
        raise Unsupported(f"not a plain selector: {exc}") from None
    matchers: list[Matcher] = []
    for label, op, quoted in raw:
        value = unquote(quoted)
        regex = compile_regex(value) if op in ("=~", "!~") else None
        # interned: a fleet's selectors repeat the same label names, operators and
        # many values (job, code="500") thousands of times
        matchers.append(Matcher(sys.intern(label), sys.intern(op), sys.intern(value), regex))
    if not name:
        names = [m.value for m in matchers if m.name == "__name__" and m.op == "="]
        if not names:
            raise Unsupported("no exact metric name (a __name__ regex selects several)")
        name = names[0]
    return Selector(sys.intern(name), tuple(matchers))


def unquote(quoted: str) -> str:
    """A PromQL string literal's value (Go quoting rules; none inside backquotes)."""
    quote_char, body = quoted[0], quoted[1:-1]
    if quote_char == "`":
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        if i + 1 >= len(body):
            raise Unsupported("a string ends in a lone backslash")
        esc = body[i + 1]
        if esc in "'\"" and esc != quote_char:
            raise Unsupported(f"escape \\{esc} in a {quote_char}-quoted string")
        if esc in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[esc])
            i += 2
        elif esc in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[esc]
            digits = body[i + 2:i + 2 + width]
            if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise Unsupported(f"bad \\{esc} escape in {quoted}")
            code = int(digits, 16)
            if esc == "x" and code > 0x7F:
                raise Unsupported(f"\\x{digits} is a byte, not a character")
            if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise Unsupported(f"\\{esc}{digits} is no character")
            out.append(chr(code))
            i += 2 + width
        elif esc in "01234567":
            digits = body[i + 1:i + 4]
            if len(digits) != 3 or not all(c in "01234567" for c in digits):
                raise Unsupported(f"bad octal escape in {quoted}")
            if int(digits, 8) > 0x7F:
                raise Unsupported(f"octal escape \\{digits} is a byte, not a character")
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            raise Unsupported(f"unknown escape \\{esc} in {quoted}")
    return "".join(out)


def quote(value: str) -> str:
    """``value`` as a double-quoted PromQL string."""
    escaped = (value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
               .replace("\r", "\\r").replace("\t", "\\t"))
    return f'"{escaped}"'


# ------------------------------------------------------------------ regexes


def compile_regex(source: str) -> _Regex:
    """An RE2 regex as Prometheus anchors it, compiled by Python; ``Unsupported``
    for anything outside the subset both read the same."""
    out, dot, folds = _Translator(source).run()
    if folds and not source.isascii():
        # RE2 folds Unicode (U+017F, the long s, matches "s"); the translation ASCII only
        raise Unsupported(f"regex {source!r}: (?i) with non-ASCII text (not shared)")
    flags = re.ASCII | re.DOTALL | (re.IGNORECASE if folds else 0)
    try:
        pattern = re.compile(out, flags)
    except re.error as exc:
        raise Unsupported(f"regex {source!r}: {exc}") from None
    return _Regex(pattern, dot, folds)


class _Translator:
    """Walks an RE2 regex once, writing the Python equivalent or refusing."""

    def __init__(self, source: str) -> None:
        self.src = source
        self.pos = 0
        self.out: list[str] = []
        self.dot = False
        self.folds = False
        self.dotall = False  # (?s): '.' matches a newline on every version
        self.depth = 0
        self.can_repeat = False  # whether a quantifier may follow (an atom was written)
        self.names: set[str] = set()

    def refuse(self, why: str) -> Unsupported:
        return Unsupported(f"regex {self.src!r}: {why} (not shared)")

    def run(self) -> tuple[str, bool, bool]:
        while self.pos < len(self.src):
            self.step()
        if self.depth:
            raise self.refuse("unclosed group")
        return "".join(self.out), self.dot and not self.dotall, self.folds

    def step(self) -> None:
        src, char = self.src, self.src[self.pos]
        if char in "*+?":
            self.quantifier(1)
        elif char == "{":
            match = re.match(r"\{(\d+)(,(\d*))?\}", src[self.pos:])
            if match is None:
                raise self.refuse("'{' that is not a repetition {n}, {n,} or {n,m}")
            low, high = int(match.group(1)), match.group(3)
            if low > 1000 or (high and int(high) > 1000):
                raise self.refuse("repetition above 1000")
            self.quantifier(match.end())
        elif char == "(":
            self.group()
        elif char == ")":
            if not self.depth:
                raise self.refuse("unmatched ')'")
            self.depth -= 1
            self.emit(")", atom=True)
        elif char == "|":
            self.emit("|", atom=False)
        elif char == "[":
            self.char_class()
        elif char == ".":
            self.dot = True
            self.emit(".", atom=True)
        elif char == "^":
            self.emit(r"\A", atom=False)  # RE2 without (?m): start of text
        elif char == "$":
            self.emit(r"\Z", atom=False)  # RE2 without (?m): end of text only
        elif char == "\\":
            self.emit(self.escape(in_class=False), atom=True, width=0)
        else:
            self.emit(re.escape(char), atom=True)

    def emit(self, text: str, *, atom: bool, width: int = 1) -> None:
        self.out.append(text)
        self.pos += width
        self.can_repeat = atom

    def quantifier(self, width: int) -> None:
        if not self.can_repeat:
            raise self.refuse("repetition of nothing or of a repetition")
        text = self.src[self.pos:self.pos + width]
        self.pos += width
        if self.pos < len(self.src) and self.src[self.pos] == "?":
            text += "?"
            self.pos += 1
        self.out.append(text)
        self.can_repeat = False

    def group(self) -> None:
        rest = self.src[self.pos:]
        self.depth += 1
        if rest.startswith("(?:"):
            self.emit("(?:", atom=False, width=3)
            return
        match = re.match(r"\(\?P<([A-Za-z_][A-Za-z0-9_]*)>", rest)
        if match is not None:
            if match.group(1) in self.names:
                raise self.refuse(f"group name {match.group(1)!r} used twice")
            self.names.add(match.group(1))
            self.emit("(?:", atom=False, width=match.end())  # the name changes no match
            return
        match = re.match(r"\(\?([is]+)\)", rest)
        if match is not None and self.pos == 0:
            self.depth -= 1
            self.folds = self.folds or "i" in match.group(1)
            self.dotall = self.dotall or "s" in match.group(1)
            self.pos += match.end()  # s: DOTALL is always on, with the newline check
            return
        if rest.startswith("(?"):
            raise self.refuse("group flags other than a leading (?i)/(?s), or look-around")
        self.emit("(", atom=False)

    def escape(self, *, in_class: bool) -> str:
        if self.pos + 1 >= len(self.src):
            raise self.refuse("trailing backslash")
        esc = self.src[self.pos + 1]
        self.pos += 2
        classes = {"d": "0-9", "w": "0-9A-Za-z_", "s": _SPACE}
        if esc.lower() in classes:
            body = classes[esc.lower()]
            if in_class:
                if esc.isupper():
                    raise self.refuse(f"\\{esc} inside a class")
                return body
            return f"[{'^' if esc.isupper() else ''}{body}]"
        if esc in "fnrtv":
            return "\\" + esc
        if esc.isascii() and not esc.isalnum() and esc.isprintable() and esc != " ":
            return re.escape(esc)
        raise self.refuse(f"escape \\{esc}")

    def char_class(self) -> None:
        src = self.src
        out = ["["]
        self.pos += 1
        if self.pos < len(src) and src[self.pos] == "^":
            out.append("^")
            self.pos += 1
        first = True
        while True:
            if self.pos >= len(src):
                raise self.refuse("unclosed '['")
            char = src[self.pos]
            if char == "]" and not first:
                self.pos += 1
                break
            if char == "[":
                raise self.refuse("'[' inside a class (POSIX classes read differently)")
            if char == "\\":
                start = self.pos
                out.append(self.escape(in_class=True))
                shorthand = src[start + 1] in "dws"
                if shorthand and (src[start - 1] == "-" or src.startswith("-", self.pos)) \
                        and not src.startswith("-]", self.pos):
                    raise self.refuse(f"a range with \\{src[start + 1]} in a class")
            elif src.startswith(("--", "&&", "~~", "||"), self.pos):
                raise self.refuse("a doubled set operator inside a class")
            else:
                out.append("-" if char == "-" else re.escape(char))
                self.pos += 1
            first = False
        out.append("]")
        self.out.append("".join(out))
        self.can_repeat = True


# ---------------------------------------------------------------- covering


def covering(selectors: Sequence[Selector], limit: int = MAX_ALTERNATION) -> str:
    """One selector whose series include every series of ``selectors`` (one metric).

    It keeps the matchers every selector has, and a label that each selector
    compares with ``=`` becomes one ``=~`` of the values' alternation (at most
    ``limit`` characters; longer, the label is left out). A series the
    covering selector returns is then matched locally by each selector.
    """
    metrics = {s.metric for s in selectors}
    if len(metrics) != 1:
        raise ValueError(f"covering needs one metric, got {sorted(metrics)}")
    (metric,) = metrics
    sets = [{(m.name, m.op, m.value) for m in s.matchers} for s in selectors]
    common = set.intersection(*sets) if sets else set()
    common.discard(("__name__", "=", metric))
    parts = sorted(f"{n}{op}{quote(v)}" for n, op, v in common)
    equal_names = set.intersection(*({n for n, op, _ in s if op == "="} for s in sets))
    for name in sorted(equal_names - {"__name__"}):
        values = {v for s in sets for n, op, v in s if n == name and op == "="}
        if len(values) < 2:
            continue  # one value: already among the common matchers
        alternation = "|".join(_literal(v) for v in sorted(values))
        if len(alternation) <= limit:
            parts.append(f"{name}=~{quote(alternation)}")
    return f"{metric}{{{','.join(parts)}}}" if parts else metric


def _literal(value: str) -> str:
    """``value`` as RE2 text matching exactly it (metacharacters escaped)."""
    return "".join("\\" + c if c in _META else c for c in value)
