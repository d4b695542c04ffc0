"""The located YAML reader: documents, lines and problems, without any schema."""

from __future__ import annotations

from yaml.nodes import MappingNode, ScalarNode

from slo_exporter.config.nodes import compose, compose_single, describe, line
from slo_exporter.config.problems import Problems


def test_every_document_of_a_stream_is_composed_with_its_index_and_line() -> None:
    """A multi-document stream gives each document's index, first line and located root."""
    problems = Problems("multi.yaml")
    documents = compose("a: 1\n---\nb: 2\nc: 3\n---\n- x\n", problems)
    assert problems.errors == []
    assert documents is not None
    assert [(d.index, d.start_line) for d in documents] == [(0, 1), (1, 2), (2, 5)]
    second = documents[1].root
    assert isinstance(second, MappingNode)
    assert [(key.value, line(key)) for key, _ in second.value] == [("b", 3), ("c", 4)]


def test_any_schema_is_composed() -> None:
    """Keys the native schema does not know are composed like any other."""
    problems = Problems("other.yaml")
    root = compose_single("apiVersion: openslo/v1\nkind: SLO\n", problems)
    assert isinstance(root, MappingNode)
    assert [key.value for key, _ in root.value] == ["apiVersion", "kind"]


def test_compose_single_refuses_a_second_document_at_its_line() -> None:
    """compose_single reports a second document where it starts."""
    problems = Problems("two.yaml")
    assert compose_single("a: 1\n---\nb: 2\n", problems) is None
    assert [str(p) for p in problems.errors] == [
        "two.yaml:2: invalid YAML: expected a single document in the stream on line 1, "
        "but found another document"
    ]


def test_empty_text_has_no_document() -> None:
    """An empty or comment-only text has no document and no problem."""
    problems = Problems("empty.yaml")
    assert compose("# nothing\n", problems) == []
    assert compose_single("", problems) is None
    assert problems.errors == []


def test_long_values_are_shortened_when_described() -> None:
    """describe() quotes at most 80 characters of a value, of any type."""
    assert describe(ScalarNode("tag:yaml.org,2002:str", "a" * 500)) == repr("a" * 77 + "...")
    assert describe(ScalarNode("tag:yaml.org,2002:int", "9" * 500)) == "9" * 77 + "..."
