"""Property-based tests (hypothesis) of the parsers at the edges: whatever the input, the result
is a valid value or one clear MashError/InputError, never another exception."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mash_kg import artefact
from mash_kg.cli.views import parse_params
from mash_kg.errors import InputError, MashError
from mash_kg.graph.views import list_views
from mash_kg.loaders import get_loader
from mash_kg.tables import validate

VIEWS = list_views()
text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)


@given(st.sampled_from(sorted(VIEWS)), st.dictionaries(text, text, max_size=4))
def test_view_parameters_are_typed_or_refused(name, raw):
    view = VIEWS[name]
    try:
        out = view.check(raw)
    except MashError as exc:
        assert "\n" not in str(exc)
        return
    assert set(out) == set(view.parameters)
    for key, value in out.items():
        kind = view.types.get(key, "string")
        assert isinstance(value, {"string": str, "integer": int, "float": float}[kind])
        if key in view.ranges:
            low, high = view.ranges[key]
            assert low <= value <= high
        if key in view.choices:
            assert value in view.choices[key]


@given(st.lists(text, max_size=5))
def test_query_pairs_parse_or_are_refused(pairs):
    try:
        params = parse_params(tuple(pairs))
    except MashError:
        return
    assert all(isinstance(k, str) and k and isinstance(v, str) for k, v in params.items())


node = st.sampled_from(["A", "B", "C", "D", "E", "", " ", "A,B", '"x"'])


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(node, node), max_size=8), st.booleans())
def test_edge_csv_loads_an_acyclic_hierarchy_or_says_why(rows, header):
    body = "".join(f"{a},{b}\n" for a, b in rows)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "edges.csv"
        path.write_text(("child,parent\n" if header else "") + body)
        try:
            tables = get_loader("edges")(files=[path], vocab="LAB")
            validate(tables)
        except InputError as exc:
            assert str(path) in str(exc) and "\n" not in str(exc)
            return
    is_a = tables.edges[tables.edges["type"] == "IS_A"]
    parents: dict[str, set[str]] = {}
    for s, e in zip(is_a["start"], is_a["end"], strict=True):
        parents.setdefault(s, set()).add(e)

    def reaches(start: str, goal: str, seen: frozenset = frozenset()) -> bool:
        return any(
            p == goal or (p not in seen and reaches(p, goal, seen | {p}))
            for p in parents.get(start, ())
        )

    assert not any(reaches(c, c) for c in parents), "a cycle was loaded"


stanza = st.sampled_from(
    [
        "[Term]\nid: HP:1\nname: one\n",
        "[Term]\nid: HP:2\nname: two\nis_a: HP:1\n",
        "[Term]\nid: HP:3\nname: three\nis_a: HP:2 ! two\n",
        "is_a:\n",
        "id:\n",
        "name: \n",
        "[Term]\nid: HP:1\nname: again\nis_a: HP:3\n",
        "[Typedef]\nid: part_of\n",
        "format-version: 1.2\n",
        "[Term]\nid: X:9\nname: other prefix\n",
        "\x00",
    ]
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(stanza, max_size=6), st.sampled_from([None, "HP", "HPO"]))
def test_obo_loads_or_says_why(stanzas, vocab):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "onto.obo"
        path.write_text("\n".join(stanzas))
        try:
            tables = get_loader("obo")(files=[path], vocab=vocab)
            validate(tables)
        except InputError as exc:
            assert "\n" not in str(exc)
            return
    assert len(tables.nodes) > 0


@given(
    st.one_of(
        st.binary(max_size=40),
        st.builds(
            json.dumps,
            st.recursive(
                st.none() | st.booleans() | st.integers() | text,
                lambda c: st.lists(c, max_size=3) | st.dictionaries(text, c, max_size=3),
                max_leaves=6,
            ),
        ),
    )
)
def test_a_manifest_is_read_or_refused_in_one_line(content):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "manifest.json"
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        try:
            manifest = artefact.read_manifest(Path(d))
        except InputError as exc:
            assert "\n" not in str(exc)
            return
    assert isinstance(manifest, dict) and manifest["id"].strip()


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_every_view_header_states_a_type_for_each_parameter(name):
    view = VIEWS[name]
    assert set(view.types) == set(view.parameters), name
    assert set(view.types.values()) <= {"string", "integer", "float"}
