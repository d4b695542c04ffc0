"""The shared answer's series test (``sharing._Test``) selects exactly what the parsed
selector selects: equalities compared at once, the other matchers one by one."""

from __future__ import annotations

import itertools
import random

import pytest

from slo_exporter import errors, matchers, sharing
from slo_exporter.prometheus import QueryResult, Series, label_text

SELECTORS = [
    'm{job="a"}',
    'm{job="a",route="/r1"}',
    'm{job="a",code=~"5.."}',
    'm{code!="500",job="b"}',
    'm{job=~"a|b",route!~"/r2"}',
    'm{route=""}',
    'm{job="a",route=~"x.y"}',
    "m",
    'other{job="a"}',
]
VALUES = ["a", "b", "", "/r1", "/r2", "500", "200", "x\ny", "xzy"]
NAMES = ["job", "route", "code"]


def _labels(rng: random.Random) -> dict[str, str]:
    """A random label set: some labels missing, sometimes another metric name."""
    out = {name: rng.choice(VALUES) for name in NAMES if rng.random() < 0.8}
    if rng.random() < 0.9:
        out["__name__"] = rng.choice(["m", "m", "m", "other"])
    return out


def test_the_test_agrees_with_the_selector_on_random_series() -> None:
    """5,000 random (selector, label set) pairs: where the parsed selector answers, the
    test answers the same; where it finds the value ambiguous, the test is ambiguous
    too, or says no because an equality fails (then no reading of the regex selects it)."""
    rng = random.Random(3)
    for _ in range(5_000):
        text, labels = rng.choice(SELECTORS), _labels(rng)
        parsed = matchers.parse(text)
        test = sharing._test(text)
        try:
            want = parsed.matches(labels)
        except matchers.Ambiguous:
            try:
                assert not test.matches(labels)
            except matchers.Ambiguous:
                continue
            equal = [m for m in parsed.matchers if m.op == "="]
            assert not all(m.matches(labels) for m in equal), (text, labels)
            continue
        assert test.matches(labels) == want, (text, labels)


@pytest.mark.parametrize(("text", "names", "values"), [
    ('m{job="a",route="/r1"}', ("job", "route"), ("a", "/r1")),
    ('m{route="",job="a"}', ("job", "route"), ("a", "")),  # "" selects series without it
    ('m{code=~"5.."}', (), ()),
])
def test_the_index_is_every_equality_by_name(
        text: str, names: tuple[str, ...], values: tuple[str, ...]) -> None:
    """Series are looked up by the values of all equalities at once, sorted by name."""
    test = sharing._test(text)
    assert (test.names, test.values) == (names, values)


def _answer(rng: random.Random, count: int) -> sharing._Answer:
    query = sharing._Query("m", 0.0, 60.0, tuple(SELECTORS))
    return sharing._Answer(query, [Series(_labels(rng), ((30.0, 1.0),)) for _ in range(count)])


def test_matched_series_are_the_selected_ones_in_answer_order() -> None:
    """200 random answers of 30 series, every selector asked in a random order: the
    matched series are exactly those the parsed selector selects, in the answer's order
    (a selector ambiguous on a series that its equalities admit is ambiguous here too)."""
    rng = random.Random(11)
    for _ in range(200):
        answer = _answer(rng, 30)
        for text in rng.sample(SELECTORS, len(SELECTORS)):
            parsed = matchers.parse(text)
            equal = [m for m in parsed.matchers if m.op == "="]
            try:  # a series an equality leaves out is never ambiguous
                want = [s for s in answer.series
                        if all(m.matches(s.labels) for m in equal) and parsed.matches(s.labels)]
            except matchers.Ambiguous:
                with pytest.raises(matchers.Ambiguous):
                    sharing._matched(answer, text)
                continue
            assert sharing._matched(answer, text) == want, text
            assert sharing._matched(answer, text) is sharing._matched(answer, text)


def test_every_label_combination_by_hand() -> None:
    """m{job="a",code=~"5.."}: selected only with job a and a code 500..599, of metric m
    or with no name at all: 1 job x 2 codes (500, 503) x 2 names = 4 of the 2 x 3 x 2
    combinations below."""
    test = sharing._test('m{job="a",code=~"5.."}')
    picked = [combo for combo in itertools.product(["a", "b"], ["500", "200", "503"], ["m", None])
              if test.matches({"job": combo[0], "code": combo[1],
                               **({"__name__": combo[2]} if combo[2] else {})})]
    assert picked == [("a", "500", "m"), ("a", "500", None), ("a", "503", "m"),
                      ("a", "503", None)]


class _Halving:
    """A stand-in source with fixed series that refuses spans over ``widest`` seconds as
    too large (so a shared query is asked in halves, each series in two pieces)."""

    def __init__(self, series: list[Series], widest: float = 1e9) -> None:
        self.series = series
        self.widest = widest

    def raw_samples(self, selector: str, start: float, end: float) -> list[Series]:
        if end - start > self.widest:
            raise errors.QueryTooLarge("too large", query=selector)
        return [Series(s.labels, tuple(p for p in s.samples if start < p[0] <= end))
                for s in self.series]

    def query(self, promql: str, at: float, *, stats: bool = False) -> QueryResult:
        raise NotImplementedError(promql)

    def query_range(self, promql: str, start: float, end: float, step: float, *,
                    stats: bool = False) -> QueryResult:
        raise NotImplementedError(promql)


@pytest.mark.parametrize("labels", [
    {"__name__": "m", "job": "a", "path": 'say "hi"\\now'},
    {"__name__": "m", "job": "b"},
])
@pytest.mark.parametrize("widest", [1e9, 60.0])
def test_an_answer_series_carries_its_key_text(labels: dict[str, str], widest: float) -> None:
    """A shared answer's series (asked whole, or in two halves of 90 s / 2 = 45 s that
    are merged) carry ``label_text`` of their labels and all three samples, and so do
    the slices a read takes; the text is no part of a series' equality."""
    samples = ((10.0, 1.0), (40.0, 2.0), (70.0, 3.0))
    source = _Halving([Series(labels, samples)], widest)
    answer = sharing._ask(source, sharing._Query('m{job=~"a|b"}', 0.0, 90.0,
                                                 ('m{job="a"}', 'm{job="b"}')))
    (series,) = answer.series
    assert series.samples == samples
    assert series.text == label_text(labels)
    reads = sharing.SharedReads(source, [answer], lambda selector, reason: None)
    (part,) = reads.raw_samples(f'm{{job="{labels["job"]}"}}', 30.0, 60.0)
    assert part.samples == ((40.0, 2.0),)
    assert part.label_text() == label_text(labels)
    assert part == Series(labels, ((40.0, 2.0),))


def _own_read(series: list[Series], text: str, start: float, end: float) -> list[Series]:
    """What the selector's own raw read returns: each selected series with its samples in
    ``(start, end]`` (compared in milliseconds, as Prometheus does), if it has any."""
    parsed = matchers.parse(text)
    lo, hi = round(start * 1000), round(end * 1000)
    out = []
    for s in series:
        if not parsed.matches(s.labels):
            continue
        kept = tuple(p for p in s.samples if lo < round(p[0] * 1000) <= hi)
        if kept:
            out.append(Series(s.labels, kept))
    return out


def test_shared_reads_equal_own_reads_on_random_answers() -> None:
    """300 random answers (0-12 series, some without samples, samples on and off the
    read edges) and 20 random reads each, steady ones over the whole answer included:
    every read from the shared answer gives exactly the series and samples of the
    selector's own read, in the same order."""
    rng = random.Random(11)
    texts = [t for t in SELECTORS if "x.y" not in t]
    for _ in range(300):
        series = []
        for _ in range(rng.randrange(13)):
            stamps = sorted(rng.sample(range(1, 120), rng.choice([0, 1, 1, 2, 3])))
            labels = {k: v for k, v in _labels(rng).items() if "\n" not in v}  # never ambiguous
            series.append(Series(labels, tuple((float(t), float(t)) for t in stamps)))
        source = _Halving(series)
        answer = sharing._ask(source, sharing._Query("m", 0.0, 120.0, tuple(texts)))
        reads = sharing.SharedReads(source, [answer], lambda selector, reason: None)
        for _ in range(20):
            start = rng.choice([0.0, 0.0005, float(rng.randrange(120)), rng.uniform(0, 120)])
            end = rng.choice([120.0, float(rng.randrange(120)), rng.uniform(start, 120)])
            text = rng.choice(texts)
            assert reads.raw_samples(text, start, end) == _own_read(series, text, start,
                                                                    end), (text, start, end)
