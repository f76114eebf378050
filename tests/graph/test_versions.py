"""Builds as versions in the graph (graph/versions.py, reconcile/learned.py) against a real
Neo4j: a version pinned reads one build, rollback restores every view, diff is exact, prune
keeps the active build, review decisions hold across syncs."""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from mash_kg.cli import cli
from mash_kg.content import reseal
from mash_kg.errors import MashError
from mash_kg.graph.sync import sync_build
from mash_kg.graph.versions import (
    diff_versions,
    list_builds,
    pin,
    prune,
    rollback,
    unseen_rows,
    version_content,
)
from mash_kg.graph.views import list_views, run_view
from tests.conftest import count

pytestmark = pytest.mark.neo4j

REVIEW_VIEWS = {
    "review_queue",
    "reviewed_edges",
}  # the review page's (issue 23), not versioned here


def _variant(build: Path, dest: Path, hierarchy: list, edit_counterparts=None) -> Path:
    """`build` with a hand-made MASH_IS_A table and (optionally) its counterparts edited."""
    shutil.copytree(build, dest)
    pd.DataFrame(
        hierarchy, columns=["child", "parent", "score", "rank", "parent_label"]
    ).to_parquet(dest / "hierarchy.parquet")
    pd.DataFrame(columns=["id", "name", "domain", "size", "members", "norm"]).to_parquet(
        dest / "latent.parquet"
    )
    if edit_counterparts is not None:
        cp = pd.read_parquet(dest / "counterparts.parquet")
        edit_counterparts(cp).to_parquet(dest / "counterparts.parquet", index=False)
    manifest = json.loads((dest / "manifest.json").read_text())
    reseal(dest, {**manifest, "id": dest.name})
    return dest


@pytest.fixture
def pair(build, tmp_path):
    """Builds A and B by hand, and the exact diff from A to B."""
    codes = pd.read_parquet(build / "codes.parquet")["id"].drop_duplicates().tolist()
    c = codes[:6]
    cp = pd.read_parquet(build / "counterparts.parquet")
    e0, e1 = cp.iloc[0], cp.iloc[1]
    a = _variant(
        build,
        tmp_path / "A",
        [(c[0], c[1], 0.9, 1, "Code"), (c[2], c[1], 0.5, 1, "Code"), (c[3], c[4], 0.7, 1, "Code")],
    )

    def edit(df):
        df = df.copy()
        df.loc[0, "score"] = 0.125  # rescored
        return df.drop(index=[1])  # removed

    b = _variant(
        build,
        tmp_path / "B",
        [
            (c[0], c[1], 0.9, 1, "Code"),
            (c[2], c[1], 0.25, 1, "Code"),
            (c[5], c[4], 0.75, 1, "Code"),
        ],
        edit,
    )
    expected = sorted(
        [
            ("ALIGNED_WITH", e0["id"], e0["other_id"], "rescored", float(e0["score"]), 0.125),
            ("ALIGNED_WITH", e1["id"], e1["other_id"], "removed", float(e1["score"]), None),
            ("MASH_IS_A", c[2], c[1], "rescored", 0.5, 0.25),
            ("MASH_IS_A", c[3], c[4], "removed", 0.699999988079071, None),
            ("MASH_IS_A", c[5], c[4], "added", None, 0.75),
        ]
    )
    return a, b, expected


def _rows(diff: list[dict]) -> list[tuple]:
    keys = ("relation", "child", "parent", "change", "score_a", "score_b")
    return sorted(tuple(r[k] for k in keys) for r in diff)


def test_a_diff_of_two_builds_is_exact_and_the_dry_run_shows_the_same(graph, pair, cli_env):
    a, b, expected = pair
    sync_build(graph, a)
    dry = sync_build(graph, b, dry_run=True)
    assert _rows(dry.edges) == expected
    sync_build(graph, b)
    assert _rows(diff_versions(graph, "A", "B")) == expected
    assert diff_versions(graph, "B", "B") == []
    res = CliRunner().invoke(cli, ["diff", "A", "B", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert _rows(json.loads(res.stdout)) == expected
    res = CliRunner().invoke(cli, ["sync", str(b), "--dry-run", "--format", "csv"])
    assert res.exit_code == 0 and res.stdout.strip() == "", res.output  # B is synced: no change


def _view_params(graph, a: Path) -> dict[str, dict]:
    """Parameters for every view over the example graph: the code of the first counterpart of
    build `a` (an edge the other build rescores)."""
    cp = pd.read_parquet(a / "counterparts.parquet")
    rec = {"a": cp["id"].iloc[0], "b": cp["other_id"].iloc[0]}
    graph.execute_query(
        "MATCH (c:Code {id: $b}) MERGE (p:Phenotype {id: 'p'}) "
        "MERGE (p)-[:INCLUDES {descendants: true, mapped: true, excluded: false}]->(c)",
        b=rec["b"],
    )
    values = {"code": rec["a"], "a": rec["a"], "b": rec["b"], "vocab": rec["a"].split(":")[0]}
    values |= {"site": "A", "phenotype": "p", "which": "both", "k": 5}
    out = {}
    for name, view in list_views().items():
        assert "build" in view.parameters, name  # every view takes a build
        out[name] = {p: values[p] for p in view.parameters if p in values}
    return out


def _all_views(graph, params: dict[str, dict], build: str = "") -> dict[str, list]:
    return {name: run_view(graph, name, {**p, "build": build}) for name, p in params.items()}


def test_rollback_restores_every_view_and_a_pinned_reader_reads_one_build(graph, pair, cli_env):
    a, b, _ = pair
    sync_build(graph, a)
    params = _view_params(graph, a)
    before, content = _all_views(graph, params), version_content(graph)
    assert sum(len(rows) for rows in before.values()) > 10
    sync_build(graph, b)
    assert _all_views(graph, params) != before  # B differs somewhere
    assert _all_views(graph, params, "A") == before  # pinned to A: A's rows, as before
    res = CliRunner().invoke(cli, ["sync", "--rollback"])  # no build folder read
    assert res.exit_code == 0 and "active build: A" in res.output, res.output
    assert _all_views(graph, params) == before and version_content(graph) == content
    assert pin(graph).build == "A"
    assert [(r["id"], r["active"]) for r in list_builds(graph)] == [("B", False), ("A", True)]
    # forward again by id, then the same build synced again is nothing new
    assert rollback(graph, "B")[1].build == "B"
    assert sync_build(graph, b).changes == 0 and pin(graph).seq == 2


def test_a_view_with_an_unknown_build_is_one_line(graph, pair, cli_env):
    a, _, _ = pair
    sync_build(graph, a)
    res = CliRunner().invoke(cli, ["query", "ancestors", "-p", "code=X:1", "-p", "build=nope"])
    assert res.exit_code == 1
    assert res.stderr.strip().splitlines() == [
        "error: no synced build 'nope' in the graph (mash-kg builds lists them)"
    ]
    with pytest.raises(MashError, match="no synced build 'nope'"):
        run_view(graph, "similar", {"code": "X:1", "build": "nope"})
    res = CliRunner().invoke(cli, ["sync", "--rollback", "nope"])
    assert res.exit_code == 1 and "no synced build 'nope'" in res.stderr


def test_prune_never_removes_the_active_build_and_converges(graph, pair, build, tmp_path):
    a, b, _ = pair
    c = _variant(build, tmp_path / "C", [], lambda df: df.iloc[: len(df) // 2])
    for folder in (a, b, c):
        sync_build(graph, folder, allow_retire=True)
    rollback(graph, "A")  # the active build is the oldest
    kept = {name: version_content(graph, name) for name in ("A", "C")}
    done = prune(graph, keep=1, batch=7)  # small batches: many transactions
    assert done["builds"] == ["B"] and sum(done["rows"].values()) > 0
    assert {r["id"] for r in list_builds(graph)} == {"A", "C"} and pin(graph).build == "A"
    assert {name: version_content(graph, name) for name in kept} == kept
    assert unseen_rows(graph) == 0
    assert prune(graph, keep=1)["rows"] == dict.fromkeys(done["rows"], 0)  # converged
    # every row of the active build is still there: its edges are those it was synced with
    n = count(
        graph,
        "MATCH ()-[r:ALIGNED_WITH]->() WHERE r.valid_from <= 1 AND "
        "(r.valid_to IS NULL OR r.valid_to > 1) RETURN count(r)",
    )
    assert n == len(pd.read_parquet(a / "counterparts.parquet"))


def test_killed_rollback_and_prune_leave_old_or_new_and_converge(
    graph, pair, build, tmp_path, cli_env, kill_inside_transaction
):
    """kill -9 of `sync --rollback` inside its one statement, and of `builds prune` inside a
    row batch after its :Build transaction committed: the state before (rollback) or the
    builds after with every kept version intact (prune), and a rerun converges."""
    a, b, _ = pair
    c = _variant(build, tmp_path / "C", [], lambda df: df.iloc[: len(df) // 2])
    for folder in (a, b, c):
        sync_build(graph, folder, allow_retire=True)

    def state() -> tuple:
        builds = [(r["id"], r["active"]) for r in list_builds(graph)]
        return builds, {r[0]: version_content(graph, r[0]) for r in builds}

    at_c = state()
    status = kill_inside_transaction(
        ["sync", "--rollback", "A"],
        "MATCH (b:Build) SET b.held_by_test = 1",
        "SET b.active = true",  # the rollback's one statement (reconcile/learned.activate_step)
    )
    assert status == -signal.SIGKILL
    assert state() == at_c  # C still active, every version as it was
    res = CliRunner().invoke(cli, ["sync", "--rollback", "A"])
    assert res.exit_code == 0 and "cleared a stale lock" in res.output, res.output
    at_a = state()
    assert pin(graph).build == "A" and at_a[1] == at_c[1]

    def b_gone(drv) -> bool:
        """Prune's :Build transaction committed; its first row batch cannot commit (a row
        delete waits for the test's lock at commit, where the server lists no query)."""
        if count(drv, "MATCH (b:Build {id: 'B'}) RETURN count(b)") > 0:
            return False
        time.sleep(0.5)  # into that batch
        return True

    status = kill_inside_transaction(
        ["builds", "prune", "--keep", "1", "--batch-size", "1"],
        "MATCH ()-[x:MASH_IS_A]->() SET x.held_by_test = 1",
        b_gone,
    )
    assert status == -signal.SIGKILL
    builds, versions = state()
    assert builds == [("C", False), ("A", True)]  # B's :Build is gone, its rows not yet
    assert versions == {k: at_a[1][k] for k in ("A", "C")} and unseen_rows(graph) > 0
    res = CliRunner().invoke(cli, ["builds", "prune", "--keep", "1"])
    assert res.exit_code == 0 and "cleared a stale lock" in res.output, res.output
    assert state() == (builds, versions) and unseen_rows(graph) == 0


def test_review_decisions_hold_across_syncs(graph, pair):
    a, b, _ = pair
    cp_a = pd.read_parquet(a / "counterparts.parquet")
    e0, e1 = cp_a.iloc[0], cp_a.iloc[1]  # e0 is in B (rescored), e1 is not
    h = pd.read_parquet(a / "hierarchy.parquet")
    gone = h.iloc[2]  # a MASH_IS_A edge of A that B lacks
    never = (h.iloc[0]["child"], h.iloc[2]["parent"])  # no build has it
    sync_build(graph, a)
    decide = (
        "UNWIND $rows AS r CREATE (:Decision {key: r[0] + '|' + r[1] + '|' + r[2], "
        "relation: r[0], child: r[1], parent: r[2], decision: r[3], reviewer: 't'})"
    )
    graph.execute_query(
        decide,
        rows=[
            ["ALIGNED_WITH", e0["id"], e0["other_id"], "reject"],
            ["ALIGNED_WITH", e1["id"], e1["other_id"], "accept"],
            ["MASH_IS_A", gone["child"], gone["parent"], "accept"],
            ["MASH_IS_A", never[0], never[1], "accept"],
        ],
    )
    decisions = count(graph, "MATCH (d:Decision) RETURN count(d)")
    sync_build(graph, b)

    def edge(rel: str, s: str, e: str) -> list:
        return graph.execute_query(
            f"MATCH (:Code {{id: $s}})-[r:{rel}]->(:Code {{id: $e}}) "
            "WHERE r.valid_to IS NULL RETURN r.score AS score",
            s=s,
            e=e,
        ).records

    assert edge("ALIGNED_WITH", e0["id"], e0["other_id"]) == []  # rejected: never written
    (kept,) = edge("ALIGNED_WITH", e1["id"], e1["other_id"])  # accepted, B lacks it
    assert kept["score"] == pytest.approx(float(e1["score"]))  # its last score
    (kept,) = edge("MASH_IS_A", gone["child"], gone["parent"])
    assert kept["score"] == pytest.approx(float(gone["score"]))
    (made,) = edge("MASH_IS_A", *never)
    assert made["score"] is None  # an accepted edge no build had: created, without a score
    # the decisions themselves: untouched by sync, rollback and prune
    rollback(graph, "A")
    prune(graph, keep=1)
    assert count(graph, "MATCH (d:Decision) RETURN count(d)") == decisions
    # and a sync of the build again keeps to them (no new version: nothing changed)
    rollback(graph, "B")
    assert sync_build(graph, b).changes == 0


def test_phenotype_expansion_names_its_build_and_follows_accepted_edges_only(
    graph, build, tmp_path, cli_env
):
    codes = pd.read_parquet(build / "codes.parquet")
    site = sorted(codes["site"].unique())[0]
    at = codes[codes["site"] == site]["id"].drop_duplicates().tolist()[:3]
    folder = _variant(
        build, tmp_path / "P", [(at[0], at[2], 0.9, 1, "Code"), (at[1], at[2], 0.8, 1, "Code")]
    )
    sync_build(graph, folder)
    graph.execute_query(
        "MATCH (c:Code {id: $c}) MERGE (p:Phenotype {id: 'ph'}) "
        "MERGE (p)-[:INCLUDES {descendants: true, mapped: false, excluded: false}]->(c)",
        c=at[2],
    )
    graph.execute_query(
        "CREATE (:Decision {key: 'MASH_IS_A|' + $a + '|' + $b, relation: 'MASH_IS_A', "
        "child: $a, parent: $b, decision: 'accept'})",
        a=at[0],
        b=at[2],
    )

    def expand(learned: str) -> tuple[set, set]:
        res = CliRunner().invoke(
            cli,
            ["phenotype", "expand", "ph", "--site", site, "--learned", learned, "--format", "json"],
        )
        assert res.exit_code == 0, res.output
        rows = json.loads(res.stdout)
        return {r["code"] for r in rows}, {r["build"] for r in rows}

    (none, built), (accepted, _), (everything, _) = map(expand, ("none", "accepted", "all"))
    assert built == {"P"}  # every row names the build it was read from
    assert at[2] in none and at[0] not in none and at[1] not in none
    assert at[0] in accepted and at[1] not in accepted
    assert {at[0], at[1], at[2]} <= everything
    res = CliRunner().invoke(cli, ["phenotype", "expand", "ph", "--site", site, "--build", "X"])
    assert res.exit_code == 1 and "no synced build 'X'" in res.stderr
