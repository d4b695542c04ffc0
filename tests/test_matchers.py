"""Local label matching follows Prometheus' selector semantics, or refuses.

The table's rules, and where they come from:

* [basics] Prometheus docs, "Querying basics", time series selectors:
  ``=`` / ``!=`` exact, ``=~`` / ``!~`` RE2 regexes that are fully anchored
  (``env=~"foo"`` is ``env=~"^foo$"``); a label matcher with an empty value
  also selects series without that label.
* [re2] RE2 syntax: ``\\d`` is ``[0-9]``, ``\\s`` is ``[\\t\\n\\f\\r ]``,
  ``\\w`` is ``[0-9A-Za-z_]``; ``$`` without the ``m`` flag is the end of the
  text; ``(?i)`` is case-insensitive; look-around and back references do
  not exist; ``[[:alpha:]]`` is a POSIX class.
* [strings] PromQL strings follow Go's escaping in ``"..."`` and ``'...'``,
  none in backquotes.
* [3.0] Prometheus 3.0 changelog: "regexp ``.`` now matches all characters"
  (#14505); 2.x did not match a newline with ``.``.

The same table is checked against a real Prometheus in
``tests/integration/test_shared_queries.py``.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo_exporter import matchers

#: the alternation ``covering`` writes for m{a="x.y"} and m{a="(z)"}
WRITTEN = 'm{a=~"\\\\(z\\\\)|x\\\\.y"}'

#: (selector, labels of one series besides __name__="m", selected by Prometheus?)
TABLE: list[tuple[str, dict[str, str], bool]] = [
    # [basics] equality, inequality, missing label = ""
    ('m{a="x"}', {"a": "x"}, True),
    ('m{a="x"}', {"a": "xy"}, False),
    ('m{a="x"}', {}, False),
    ('m{a=""}', {}, True),
    ('m{a=""}', {"a": "x"}, False),
    ('m{a!="x"}', {}, True),
    ('m{a!="x"}', {"a": "x"}, False),
    ('m{a!=""}', {}, False),
    # [basics] regexes fully anchored
    ('m{a=~"x"}', {"a": "xy"}, False),
    ('m{a=~"x.*"}', {"a": "xy"}, True),
    ('m{a=~"5.."}', {"a": "500"}, True),
    ('m{a=~"5.."}', {"a": "5000"}, False),
    ('m{a=~"x|y"}', {"a": "y"}, True),
    ('m{a=~"x|y"}', {"a": "xy"}, False),
    ('m{a=~"ab|abc"}', {"a": "abc"}, True),  # anchoring applies to the whole alternation
    ('m{a=~".*"}', {}, True),
    ('m{a=~".+"}', {}, False),
    ('m{a!~".+"}', {}, True),
    ('m{a!~"5.."}', {"a": "200"}, True),
    ('m{a!~"5.."}', {"a": "503"}, False),
    ('m{a=~"^x$"}', {"a": "x"}, True),
    # [re2] classes and escapes
    ('m{a=~"\\\\d+"}', {"a": "123"}, True),
    ('m{a=~"\\\\d+"}', {"a": "١٢٣"}, False),  # Arabic-Indic digits are not \d in RE2
    ('m{a=~"\\\\w+"}', {"a": "é"}, False),
    ('m{a=~"x\\\\sy"}', {"a": "x\vy"}, False),  # \v is not \s in RE2
    ('m{a=~"x\\\\sy"}', {"a": "x y"}, True),
    ('m{a=~"[0-9]{3}"}', {"a": "404"}, True),
    ('m{a=~"[^5].."}', {"a": "503"}, False),
    ('m{a=~"x\\\\.y"}', {"a": "x.y"}, True),
    ('m{a=~"x\\\\.y"}', {"a": "xzy"}, False),
    ('m{a=~"x$"}', {"a": "x\n"}, False),  # $ is the end of the text, not before a newline
    ('m{a=~"(?i)get"}', {"a": "GET"}, True),
    ('m{a=~"a+?b"}', {"a": "aab"}, True),
    ('m{a=~"(?P<n>a)b"}', {"a": "ab"}, True),
    # [strings] quoting
    ("m{a='x'}", {"a": "x"}, True),
    ("m{a=`x\\d`}", {"a": "x1"}, False),  # backquotes: no escapes, the regex text is x\d
    ("m{a=~`x\\d`}", {"a": "x1"}, True),
    ('m{a="x\\"y"}', {"a": 'x"y'}, True),
    ('m{a="\\u00e9"}', {"a": "é"}, True),
    # [re2] escaped metacharacters in an alternation, as ``covering`` writes them
    (WRITTEN, {"a": "(z)"}, True),
    (WRITTEN, {"a": "xzy"}, False),
    (WRITTEN, {"a": "x.y"}, True),
    # [basics] the metric name is a __name__ matcher
    ('{__name__="m",a="x"}', {"a": "x"}, True),
    ('m{a="x",}', {"a": "x"}, True),
]


@pytest.mark.parametrize(("selector", "labels", "selected"), TABLE)
def test_matching_follows_prometheus_rules(selector: str, labels: dict[str, str],
                                           selected: bool) -> None:
    """Each row of the table of Prometheus behaviours is matched as Prometheus does."""
    assert matchers.parse(selector).matches({"__name__": "m", **labels}) is selected


def test_other_metric_is_not_selected() -> None:
    """A series of another metric is never selected, whatever its labels."""
    assert not matchers.parse('m{a="x"}').matches({"__name__": "n", "a": "x"})


@pytest.mark.parametrize(("selector", "reason"), [
    ('m{a=~"[[:alpha:]]+"}', "POSIX"),
    ('m{a=~"x{,3}"}', "repetition"),
    ('m{a=~"x*+"}', "repetition"),
    ('m{a=~"(?=x)x"}', "look-around"),
    ('m{a=~"(x)\\\\1"}', "escape \\1"),
    ('m{a=~"\\\\pL"}', "escape \\p"),
    ('m{a=~"\\\\bx"}', "escape \\b"),
    ('m{a=~"x\\\\z"}', "escape \\z"),
    ('m{a=~"\\\\Qx\\\\E"}', "escape \\Q"),
    ('m{a=~"x{1001}"}', "above 1000"),
    ('m{a=~"(?m)x"}', "group flags"),
    ('m{a=~"(?i)\u017f"}', "non-ASCII"),  # RE2 folds the long s to "s"
    ('m{a=~"x(?i)y"}', "group flags"),
    ('m{a=~"[a&&b]"}', "set operator"),
    ('m{a=~"[\\\\S]"}', "inside a class"),
    ('m{a=~"(x"}', "unclosed group"),
    ('m{a=~"[\\\\d-z]"}', "a range with"),
    ('m{a=~"(?P<n>x)(?P<n>y)"}', "used twice"),
    ('{__name__=~"m|n"}', "no exact metric name"),
    ('m{a="\\xff"}', "byte"),
    ('m{a="x\\\'y"}', "escape"),
    ("rate(m[5m])", "not a plain selector"),
])
def test_what_python_could_read_differently_is_refused(selector: str, reason: str) -> None:
    """Constructs RE2 and Python's re read differently (or not at all) are refused with a reason."""
    with pytest.raises(matchers.Unsupported, match=reason.replace("\\", "\\\\")):
        matchers.parse(selector)


@pytest.mark.parametrize(("selector", "value"), [
    ('m{a=~"x.y"}', "x\ny"),  # [3.0]: '.' matches a newline since 3.0 only
    ('m{a!~".*"}', "\n"),
    ('m{a=~"(?i)k"}', "\u212a"),  # RE2 folds the Kelvin sign to k; the translation folds ASCII
])
def test_values_the_engines_may_disagree_on_are_ambiguous(selector: str, value: str) -> None:
    """A value where Prometheus versions or RE2 and Python may differ raises, never guesses."""
    with pytest.raises(matchers.Ambiguous):
        matchers.parse(selector).matches({"__name__": "m", "a": value})


def test_dot_with_the_s_flag_is_not_ambiguous() -> None:
    """With (?s), '.' matches a newline on every Prometheus version: no ambiguity."""
    assert matchers.parse('m{a=~"(?s)x.y"}').matches({"__name__": "m", "a": "x\ny"})


def test_the_table_holds_what_covering_writes() -> None:
    """The alternation rows of the table are the text ``covering`` writes."""
    written = matchers.covering([matchers.parse('m{a="x.y"}'), matchers.parse('m{a="(z)"}')])
    assert written == WRITTEN


def test_covering_keeps_shared_matchers_and_widens_equalities() -> None:
    """Common matchers stay, a label each selector compares with '=' becomes an
    alternation of the escaped values, a label only some use is dropped."""
    found = matchers.covering([
        matchers.parse('m_bucket{job="api",le="0.3",code!~"5.."}'),
        matchers.parse('m_bucket{job="api",le="0.5"}'),
        matchers.parse('m_bucket{job="api",le="0.3"}'),
    ])
    assert found == 'm_bucket{job="api",le=~"0\\\\.3|0\\\\.5"}'


def test_covering_selects_every_series_of_its_selectors() -> None:
    """Every series any selector selects is selected by the covering selector."""
    selectors = [matchers.parse(t) for t in (
        'm{job="a",code="500"}', 'm{job="b"}', 'm{job="a.b",code=~"2.."}', 'm{job=""}')]
    cover = matchers.parse(matchers.covering(selectors))
    for job in ("a", "b", "a.b", "axb", ""):
        for code in ("200", "500", ""):
            labels = {"__name__": "m", "job": job, "code": code}
            if any(s.matches(labels) for s in selectors):
                assert cover.matches(labels), labels


def test_covering_alternation_is_bounded() -> None:
    """An alternation longer than the limit is left out: the covering selector widens."""
    selectors = [matchers.parse(f'm{{job="j",route="/r{i}"}}') for i in range(50)]
    assert matchers.covering(selectors, limit=100) == 'm{job="j"}'
    assert "route=~" in matchers.covering(selectors)


_VALUES = st.text(alphabet=st.sampled_from('ab.*+?()[]{}|^$\\"\n-é '), max_size=6)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(_VALUES, min_size=2, max_size=5, unique=True), probe=_VALUES)
def test_covering_alternation_selects_exactly_the_values(values: list[str], probe: str) -> None:
    """Equality values full of regex metacharacters, quotes and newlines widen to an
    alternation that (parsed back from its PromQL text) selects exactly those values."""
    cover = matchers.parse(matchers.covering([matchers.parse(f"m{{a={matchers.quote(v)}}}")
                                              for v in values]))
    assert cover.matches({"__name__": "m", "a": probe}) is (probe in values)


def test_parsed_selectors_share_repeated_text() -> None:
    """Label names, operators and values a fleet repeats are one string object each,
    and matchers keep no attribute dict."""
    first = matchers.parse('http_requests_total{job="api",code="500"}')
    second = matchers.parse('http_requests_total{job="web",code="' + "".join("500") + '"}')
    assert first.metric is second.metric
    assert first.matchers[0].name is second.matchers[0].name
    assert first.matchers[1].value is second.matchers[1].value
    assert not hasattr(first.matchers[0], "__dict__")
