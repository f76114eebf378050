"""The reconcile engine's pure diffs (no Neo4j): an ontology release and a build's learned
content against a given graph state -> created / changed / retired rows, no-ops, guards."""

from __future__ import annotations

import pandas as pd
import pytest

from mash_kg.content import aligned_edges, read_target
from mash_kg.graph.reconcile import (
    LearnedHeld,
    OntologyHeld,
    RetireRefused,
    TakeoverRefused,
    check_retire,
    diff_learned,
    diff_ontology,
    read_ontology,
)
from mash_kg.graph.reconcile.learned import HeldCode, dirty_codes
from mash_kg.graph.reconcile.ontology import records
from mash_kg.graph.writer import write_tables
from mash_kg.loaders import get_loader
from mash_kg.tables import EDGE_TYPES, OntologyTables
from tests.conftest import FIXTURES


def release(name: str) -> OntologyTables:
    return get_loader("edges")(files=[FIXTURES / name], vocab="LOCAL_LAB", domain="lab")


def held_after(tables: OntologyTables) -> OntologyHeld:
    """What the graph holds once `tables` was loaded into an empty graph."""
    nodes = {r["id"]: {**r, "status": "active"} for r in records(tables.nodes, list(tables.nodes))}
    columns = [c for c in tables.edges.columns if c not in ("start", "end", "type")]
    edges = {
        (s, e, t, p[EDGE_TYPES[t]]): p
        for s, e, t, p in zip(
            tables.edges["start"],
            tables.edges["end"],
            tables.edges["type"],
            records(tables.edges, columns),
            strict=True,
        )
    }
    keys = sorted(set(tables.nodes.columns) | {"status"})
    vocabularies = [
        {"id": v, "loader": tables.source, "codes": len(nodes), "node_properties": keys}
        for v in tables.vocabs
    ]
    return OntologyHeld(vocabularies, nodes, set(), edges)


def rows(plan, fragment: str) -> list:
    """The rows of the plan's statements whose text holds `fragment`."""
    return [r for s in plan.steps if fragment in s.query for r in (s.rows or [])]


def counts(report, kind: str) -> tuple[int, int, int]:
    c = report.kinds[kind]
    return c.added, c.changed, c.retired


# ------------------------------------------------------------------------- ontology releases


def test_a_release_into_an_empty_graph_creates_every_code_and_edge():
    plan = diff_ontology(release("edges_v1.csv"), OntologyHeld())
    assert counts(plan.report, "codes") == (5, 0, 0)
    assert counts(plan.report, "edges") == (4, 0, 0)
    created = rows(plan, "CREATE (n:Code")
    assert sorted(r["id"] for r in created) == [
        f"LOCAL_LAB:{c}" for c in "LAB1 LAB2 LAB3 PANEL ROOT".split()
    ]
    assert all(r["props"]["status"] == "active" for r in created)
    assert len(rows(plan, "CREATE (a)-[r:IS_A]->(b)")) == 4
    assert plan.guard.refusal() is None  # nothing held, nothing to lose


def test_the_same_release_again_is_a_no_op():
    tables = release("edges_v1.csv")
    plan = diff_ontology(tables, held_after(tables))
    assert plan.report.changes == 0
    # only the :Vocabulary statement has rows (its loaded_at moves on)
    assert [s.query.split()[4] for s in plan.steps if s.rows] == ["MERGE"]


def test_a_newer_release_changes_and_retires():
    plan = diff_ontology(release("edges_v2.csv"), held_after(release("edges_v1.csv")))
    # LAB4 new; LAB1 renamed; LAB3 gone from the release
    assert counts(plan.report, "codes") == (1, 1, 1)
    assert rows(plan, "n.status = 'retired'") == [{"id": "LOCAL_LAB:LAB3"}]
    (renamed,) = rows(plan, "MATCH (n:Code {id: row.id}) SET n += row.props")
    assert renamed["props"]["name"] == "Glucose serum (local)"
    # LAB4->PANEL, LAB2->ROOT new; LAB3->PANEL removed
    assert counts(plan.report, "edges") == (2, 0, 1)
    assert rows(plan, "DELETE r") == [
        {"s": "LOCAL_LAB:LAB3", "e": "LOCAL_LAB:PANEL", "v": "LOCAL_LAB"}
    ]
    assert (
        plan.report.count("codes", "retired") == 1 and plan.report.count("edges", "added") == 2
    )  # the older names


def test_a_property_a_release_drops_is_removed_and_a_retired_code_comes_back():
    tables = release("edges_v1.csv")
    held = held_after(tables)
    held.nodes["LOCAL_LAB:LAB1"]["kind"] = "old column"  # written by an earlier release
    held.vocabularies[0]["node_properties"].append("kind")
    held.nodes["LOCAL_LAB:LAB2"].update(status="retired", retired_in="v0")
    held.nodes["LOCAL_LAB:LAB2"]["embedding"] = [0.5]  # a sync's property: not the release's
    plan = diff_ontology(tables, held)
    assert counts(plan.report, "codes") == (0, 2, 0)
    changed = {r["id"]: r["props"] for r in rows(plan, "SET n += row.props") if "props" in r}
    assert changed["LOCAL_LAB:LAB1"]["kind"] is None  # null removes the property
    assert changed["LOCAL_LAB:LAB2"]["status"] == "active"
    assert changed["LOCAL_LAB:LAB2"]["retired_in"] is None
    assert "embedding" not in changed["LOCAL_LAB:LAB2"]


def test_an_edge_to_a_code_in_no_release_is_skipped_and_counted():
    tables = release("edges_v1.csv")
    extra = pd.DataFrame(
        [{"start": "LOCAL_LAB:LAB1", "end": "LOINC:1", "type": "MAPS_TO", "source": "k"}]
    )
    tables.edges = pd.concat([tables.edges, extra], ignore_index=True)
    plan = diff_ontology(tables, OntologyHeld())
    assert plan.report.skipped == 1 and "LOINC:1 not in graph" in plan.report.skipped_examples[0]
    held = OntologyHeld(present={"LOINC:1"})  # loaded by another release: now it is written
    assert rows(diff_ontology(tables, held), "CREATE (a)-[r:MAPS_TO]->(b)") == [
        {"s": "LOCAL_LAB:LAB1", "e": "LOINC:1", "p": {"source": "k"}}
    ]


def test_a_foreign_file_trips_the_retire_guard():
    held = held_after(release("edges_v1.csv"))
    foreign = get_loader("edges")(files=[FIXTURES / "edges_v1.csv"], vocab="LOCAL_LAB")
    foreign.nodes["id"] = foreign.nodes["id"].str.replace("LOCAL_LAB:", "LOCAL_LAB:X")
    for col in ("start", "end"):
        foreign.edges[col] = foreign.edges[col].str.replace("LOCAL_LAB:", "LOCAL_LAB:X")
    plan = diff_ontology(foreign, held)
    assert counts(plan.report, "codes") == (5, 0, 5)
    with pytest.raises(RetireRefused, match="retire 5 of the 5 active codes of LOCAL_LAB"):
        check_retire(plan, allow_retire=False)
    check_retire(plan, allow_retire=True)
    # a newer release retires one code in five: under the limit
    check_retire(diff_ontology(release("edges_v2.csv"), held), allow_retire=False)


def test_a_vocabulary_another_source_loaded_is_not_taken_over():
    tables = release("edges_v1.csv")
    held = held_after(tables)
    held.vocabularies[0]["loader"] = "obo"
    with pytest.raises(TakeoverRefused, match="loaded by source 'obo'"):
        diff_ontology(tables, held)
    assert diff_ontology(tables, held, allow_takeover=True).report.changes == 0


@pytest.mark.neo4j
def test_what_a_load_leaves_is_what_the_pure_tests_assume(graph):
    tables = release("edges_v1.csv")
    write_tables(graph, tables)
    held, expected = read_ontology(graph, tables, "neo4j"), held_after(tables)
    assert held.nodes == expected.nodes and held.edges == expected.edges
    assert [
        {k: v.get(k) for k in ("id", "loader", "node_properties")} for v in held.vocabularies
    ] == [{k: v[k] for k in ("id", "loader", "node_properties")} for v in expected.vocabularies]


# ------------------------------------------------------------------------- a build's content


@pytest.fixture(scope="module")
def target(build):
    return read_target(build)


def synced(target) -> LearnedHeld:
    """What the graph holds after a clean sync of `target` (a Stage I build) alone, as version 1
    (without the stamp of that version: the diff is computed)."""
    dig = target.digests
    codes = {
        c: HeldCode(c, h, True, None, None, e)
        for c, h, e in zip(dig["id"], dig["sync_hash"], dig["edges_hash"], strict=True)
    }
    sites = set(target.codes["site"])
    return LearnedHeld(
        codes=codes,
        states=len(codes),
        sites=sites,
        current=True,
        total=len(target.counterparts),
        head=1,
        head_build=target.build,
    )


def test_a_build_into_an_empty_graph_creates_everything(target):
    held = LearnedHeld(missing=set(target.digests["id"]))  # an empty graph: every code is new
    held.dirty = dirty_codes(target, held.codes, held.missing)  # every code's edges are read
    plan = diff_learned(target, held)
    n_codes = target.codes["id"].nunique()
    assert counts(plan.report, "codes") == (n_codes, 0, 0)
    assert counts(plan.report, "ALIGNED_WITH") == (len(target.counterparts), 0, 0)
    assert plan.report.kinds["sites"].added == 2
    assert list(plan.report.kinds) == ["codes", "ALIGNED_WITH", "sites", ":Latent", "MASH_IS_A"]
    assert len(rows(plan, "CREATE (n:Code")) == n_codes
    states = rows(plan, "CREATE (n)-[:HAS_STATE]->(s:CodeState)")
    assert len(states) == n_codes and all(len(r["state"]["embedding"]) > 0 for r in states)
    # the new version is 1, every row is written valid from it, the build step comes last
    assert plan.report.version == 1 and all(s.params.get("v") == 1 for s in plan.steps)
    assert "MERGE (b:Build" in plan.steps[-1].query and "SET o.active = false" in (
        plan.steps[-1].query
    )
    assert len(plan.report.edges) == len(target.counterparts)
    assert {r["change"] for r in plan.report.edges} == {"added"}


def test_the_same_build_again_is_a_no_op(target):
    held = synced(target)
    assert dirty_codes(target, held.codes, held.missing) == set()  # no edge is read back
    plan = diff_learned(target, held)
    # nothing changes, but without the version's stamp the build is written as a new version
    assert plan.report.changes == 0 and not any(s.rows for s in plan.steps)
    held.same = True  # the newest version is this build, stamped: nothing at all
    assert diff_learned(target, held).steps == []
    held.current = False  # rolled back since: this one becomes active again, no new version
    (step,) = diff_learned(target, held).steps
    assert step.query.startswith("MATCH (b:Build {id: $id}) SET b.active = true")


def test_changed_codes_and_edges_are_rewritten_and_gone_ones_retired_or_stripped(target):
    held = synced(target)
    second = target.counterparts["id"].iloc[0]  # a code with ALIGNED_WITH edges
    first = next(c for c in held.codes if c != second)
    held.codes[first] = held.codes[first]._replace(hash="stale")
    held.codes[second] = held.codes[second]._replace(edges_hash="stale")
    held.codes["B/LOCAL:1"] = HeldCode("B/LOCAL:1", "h", True, "build", "active", "-")
    held.codes["LOINC:curated"] = HeldCode("LOINC:curated", "h", True, None, None, "-")
    held.dirty = dirty_codes(target, held.codes, held.missing)
    assert held.dirty == {second, "B/LOCAL:1", "LOINC:curated"}
    edges = aligned_edges(target, {second})
    (changed, *_) = edges
    held.aligned = {k: {**p, "build": "older"} for k, p in edges.items()}
    held.aligned[changed] = {**held.aligned[changed], "score": -1.0}
    held.aligned[("LOINC:curated", second)] = {"score": 1.0, "build": "older"}
    plan = diff_learned(target, held)
    # first rewritten, LOINC:curated stripped (changed); B/LOCAL:1 retired
    assert counts(plan.report, "codes") == (0, 2, 1)
    assert [r["id"] for r in rows(plan, "SET n += row.props")] == [first]
    assert [r["id"] for r in rows(plan, "CREATE (n)-[:HAS_STATE]")] == [first]
    # the states that change or go are closed: first's, and those of the two codes that go
    closed = rows(plan, "s.valid_to = $v")
    assert sorted(r["id"] for r in closed) == sorted([first, "B/LOCAL:1", "LOINC:curated"])
    assert rows(plan, "n.status = 'retired'") == [{"id": "B/LOCAL:1"}]
    assert rows(plan, "n.edges_hash = row.h")[0]["id"] == second  # edges changed, code did not
    assert counts(plan.report, "ALIGNED_WITH") == (0, 1, 1)
    # a changed edge: its open row closed, a new one created; a gone edge: closed
    (update,) = rows(plan, "CREATE (a)-[r:ALIGNED_WITH]->(b)")
    assert (update["s"], update["e"]) == changed and update["p"]["build"] == target.build
    closes = rows(plan, "MATCH (a)-[r:ALIGNED_WITH]->(b) WHERE r.valid_to IS NULL")
    assert sorted((r["s"], r["e"]) for r in closes) == sorted([changed, ("LOINC:curated", second)])
    assert [(r["change"], r["score_a"]) for r in plan.report.edges] == [
        ("removed", 1.0),
        ("rescored", -1.0),
    ] or [(r["change"], r["score_a"]) for r in plan.report.edges] == [
        ("rescored", -1.0),
        ("removed", 1.0),
    ]
    assert plan.guard.refusal() is None


def test_a_shrunken_build_trips_the_retire_guard(target):
    held = synced(target)
    for i in range(2 * (len(held.codes) + held.total)):  # the graph holds far more
        held.codes[f"X:{i}"] = HeldCode(f"X:{i}", "h", True, None, None, "-")
        held.states += 1
    plan = diff_learned(target, held)
    with pytest.raises(RetireRefused, match="learned items the graph holds"):
        check_retire(plan, allow_retire=False)
    check_retire(plan, allow_retire=True)


@pytest.fixture(scope="module")
def grouped(build, tmp_path_factory):
    """`build` with a small learned hierarchy: a -> L1 (a latent group) -> b, and c -> b."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mash_kg.content import derive

    a, b, c = pd.read_parquet(build / "codes.parquet")["id"].drop_duplicates().iloc[:3]

    def edit(d):
        hierarchy = [
            (a, "L1", 0.9, 1, "Latent"),
            (("L1", b, 0.8, 1, "Code")),
            (c, b, 0.7, 1, "Code"),
        ]
        pd.DataFrame(
            hierarchy, columns=["child", "parent", "score", "rank", "parent_label"]
        ).to_parquet(d / "hierarchy.parquet")
        latent = {"id": ["L1"], "name": ["a group"], "domain": ["lab"], "size": [2]}
        pd.DataFrame({**latent, "members": [[a, c]], "norm": [0.3]}).to_parquet(
            d / "latent.parquet"
        )
        ids = [a, b, c, "L1"]
        points = {
            "id": ids,
            "role": ["code"] * 3 + ["latent"],
            "point": [[0.1 * i, 0.2] for i in range(4)],
        }
        pq.write_table(
            pa.table({**points, "norm": [0.2] * 4, "depth": [1] * 4}), d / "poincare.parquet"
        )
        one = {"id": [a], "rank": [1]}
        pd.DataFrame({**one, "candidate": [b], "score": [0.9], "distance": [0.1]}).to_parquet(
            d / "candidates.parquet"
        )
        pd.DataFrame({**one, "parent": [b], "text_rank": [2], "candidates": [10]}).to_parquet(
            d / "holdout.parquet"
        )

    folder = derive(
        build, tmp_path_factory.mktemp("grouped") / "g", "grouped", edit, stages=["I", "II", "III"]
    )
    return read_target(folder), (a, b, c)


def test_latent_groups_and_learned_edges_created_then_no_op_then_changed(grouped):
    target, (a, b, c) = grouped
    held = LearnedHeld(missing=set(target.digests["id"]))
    held.dirty = dirty_codes(target, held.codes, held.missing)
    plan = diff_learned(target, held)
    assert counts(plan.report, ":Latent") == (1, 0, 0)
    assert counts(plan.report, "MASH_IS_A") == (3, 0, 0)
    (group,) = rows(plan, "CREATE (n:Latent)")
    assert group["p"]["build"] == "grouped"
    assert group["p"]["name"] == "a group" and group["p"]["poincare"] == pytest.approx([0.3, 0.2])
    # one statement per pair of end labels, each label from the fixed table
    assert [r["s"] for r in rows(plan, "MATCH (a:Code {id: row.s}) MATCH (b:Latent")] == [a]
    assert [r["s"] for r in rows(plan, "MATCH (a:Latent {id: row.s}) WHERE a.valid_to")] == ["L1"]
    # the graph after that plan: codes synced, the group and its outgoing edge as written
    after = synced(target)
    after.latent = {group["id"]: group["p"]}
    after.learned = {
        (r["s"], r["e"]): (r["p"], r["labels"]) for r in rows(plan, "CREATE (a)-[r:MASH_IS_A]")
    }
    # a sync reads back the edges of every group but only of the codes whose digest differs
    after.learned = {k: v for k, v in after.learned.items() if k[0] == "L1"}
    assert diff_learned(target, after).report.changes == 0
    # an older group with an edge, and a changed score: the edge goes before its group
    after.latent["L0"] = {"id": "L0", "name": "old", "size": 1, "build": "older"}
    after.learned[("L0", b)] = ({"score": 0.5, "rank": 1}, ("Latent", "Code"))
    after.learned[("L1", b)] = ({"score": 0.1, "rank": 1}, ("Latent", "Code"))
    plan = diff_learned(target, after)
    assert counts(plan.report, ":Latent") == (0, 0, 1)
    assert counts(plan.report, "MASH_IS_A") == (0, 1, 1)
    order = [s.query for s in plan.steps if s.rows]
    close_edge = next(i for i, q in enumerate(order) if "MASH_IS_A]->(b) WHERE r.valid_to" in q)
    close_group = next(i for i, q in enumerate(order) if "(n:Latent {id: row.id}) WHERE" in q)
    assert close_edge < close_group
    # a group whose name changes gets a new node of the new version, and its edges with it
    after.learned.pop(("L0", b))
    after.latent.pop("L0")
    after.learned[("L1", b)] = ({"score": 0.800000011920929, "rank": 1}, ("Latent", "Code"))
    after.latent["L1"] = {**after.latent["L1"], "name": "renamed"}
    after.dirty = {a}
    after.learned[(a, "L1")] = ({"score": 0.8999999761581421, "rank": 1}, ("Code", "Latent"))
    plan = diff_learned(target, after)
    assert counts(plan.report, ":Latent") == (0, 1, 0)
    assert [r["p"]["name"] for r in rows(plan, "CREATE (n:Latent)")] == ["a group"]
    written = sorted((r["s"], r["e"]) for r in rows(plan, "CREATE (a)-[r:MASH_IS_A]"))
    assert written == sorted([(a, "L1"), ("L1", b)])
    assert plan.report.edges == []  # the same edges, scores and ranks: no change to show
