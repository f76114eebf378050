"""`mash-kg sync` against a real Neo4j: incremental, idempotent, atomic, locked."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from mash_kg.cli import cli
from mash_kg.content import reseal
from mash_kg.graph.sync import sync_build
from mash_kg.graph.writer import write_tables
from mash_kg.loaders import get_loader
from mash_kg.neo4j_server.scratch import wipe
from tests.conftest import FIXTURES, count, snapshot
from tests.graph.conftest import SECRET

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
import fault_cases  # noqa: E402  (bench/: the fault matrix's cases)

pytestmark = pytest.mark.neo4j


def _changed_build(build: Path, dest: Path, n_changed: int, n_dropped: int) -> Path:
    """A copy of `build` with some counterpart scores changed and some dropped, a new id."""
    shutil.copytree(build, dest)
    cp = pd.read_parquet(dest / "counterparts.parquet")
    cp.loc[: n_changed - 1, "score"] += 0.5
    cp = cp.drop(index=range(n_changed, n_changed + n_dropped))
    cp.to_parquet(dest / "counterparts.parquet", index=False)
    manifest = json.loads((dest / "manifest.json").read_text())
    manifest["id"] = dest.name
    reseal(dest, manifest)
    return dest


def test_sync_creates_then_is_idempotent_then_incremental(graph, build, tmp_path):
    codes = pd.read_parquet(build / "codes.parquet")
    cp = pd.read_parquet(build / "counterparts.parquet")
    first = sync_build(graph, build)
    assert first.count("codes", "added") == codes["id"].nunique() and first.count(
        "ALIGNED_WITH", "added"
    ) == len(cp)
    assert first.count("sites", "added") == 2
    assert count(graph, "MATCH ()-[r:ALIGNED_WITH]->() RETURN count(r)") == len(cp)
    assert count(graph, "MATCH (b:Build {current: true}) RETURN count(b)") == 1
    local = count(graph, "MATCH (n:Code) WHERE n.id STARTS WITH 'B/' RETURN count(n)")
    assert local == 0  # both example sites use standard codes (SNOMED, LOINC, RxNorm)
    assert sync_build(graph, build).changes == 0
    before = snapshot(graph)
    assert sync_build(graph, build, dry_run=True).changes == 0 and snapshot(graph) == before

    changed = _changed_build(build, tmp_path / "b2", n_changed=10, n_dropped=5)
    dry = sync_build(graph, changed, dry_run=True)
    assert (
        dry.count("ALIGNED_WITH", "changed"),
        dry.count("ALIGNED_WITH", "retired"),
        dry.count("ALIGNED_WITH", "added"),
    ) == (10, 5, 0)
    assert snapshot(graph) == before  # a dry run writes nothing
    second = sync_build(graph, changed)
    assert (second.count("ALIGNED_WITH", "changed"), second.count("ALIGNED_WITH", "retired")) == (
        10,
        5,
    )
    assert second.count("codes", "added") == second.count("codes", "changed") == 0
    assert (
        count(graph, "MATCH (b:Build {current: true}) RETURN b.id = $id AS n", id=changed.name) == 1
    )
    unchanged = cp.iloc[20]
    rel, _, _ = graph.execute_query(
        "MATCH (:Code {id: $s})-[r:ALIGNED_WITH]->(:Code {id: $e}) RETURN r.build AS b",
        s=unchanged["id"],
        e=unchanged["other_id"],
    )
    assert rel[0]["b"] == build.name  # an unchanged edge is not rewritten
    assert sync_build(graph, changed).changes == 0


def test_curated_content_is_left_alone(graph, build, tmp_path):
    edges = tmp_path / "loinc.csv"
    edges.write_text("child,parent,child_name,parent_name\n8480-6,85354-9,Systolic BP,BP panel\n")
    write_tables(graph, get_loader("edges")(files=[edges], vocab="LOINC"))
    sync_build(graph, build)
    node, _, _ = graph.execute_query(
        "MATCH (n:Code {id: 'LOINC:8480-6'}) RETURN properties(n) AS p"
    )
    props = node[0]["p"]
    assert props["name"] == "Systolic BP" and "origin" not in props
    state, _, _ = graph.execute_query(
        "MATCH (:Code {id: 'LOINC:8480-6'})-[:HAS_STATE]->(s:CodeState) RETURN properties(s) AS p"
    )
    assert state[0]["p"]["sites"] == ["A", "B"] and len(state[0]["p"]["embedding"]) > 0
    assert count(graph, "MATCH ()-[r:IS_A]->() RETURN count(r)") == 1
    # a build without that code takes its learned properties back, never the node
    shrunk = tmp_path / "b3"
    shutil.copytree(build, shrunk)
    codes = pd.read_parquet(shrunk / "codes.parquet")
    codes[codes["id"] != "LOINC:8480-6"].to_parquet(shrunk / "codes.parquet", index=False)
    cp = pd.read_parquet(shrunk / "counterparts.parquet")
    keep = (cp["id"] != "LOINC:8480-6") & (cp["other_id"] != "LOINC:8480-6")
    cp[keep].to_parquet(shrunk / "counterparts.parquet", index=False)
    reseal(shrunk, json.loads((shrunk / "manifest.json").read_text()))
    sync_build(graph, shrunk)
    node, _, _ = graph.execute_query(
        "MATCH (n:Code {id: 'LOINC:8480-6'}) RETURN properties(n) AS p"
    )
    assert "sync_hash" not in node[0]["p"] and node[0]["p"]["name"] == "Systolic BP"
    # its state is closed in the new version (the old version still shows it)
    assert count(
        graph,
        "MATCH (:Code {id: 'LOINC:8480-6'})-[:HAS_STATE]->(s:CodeState) "
        "RETURN [s.valid_from, s.valid_to]",
    ) == [1, 2]
    assert count(graph, "MATCH ()-[r:IS_A]->() RETURN count(r)") == 1


def test_killed_sync_leaves_the_old_graph_and_a_rerun_converges(
    graph, build, cli_env, tmp_path, kill_inside_transaction
):
    clean_first = sync_build(graph, build)
    assert clean_first.changes > 0
    old = snapshot(graph)
    changed = _changed_build(build, tmp_path / "b2", n_changed=300, n_dropped=200)
    # the expected end state: a clean sync of the changed build on top of the old one
    sync_build(graph, changed)
    expected = snapshot(graph)
    wipe(graph)
    sync_build(graph, build)
    assert snapshot(graph) == old
    # a real `mash-kg sync` process, killed with SIGKILL inside its transaction after all its
    # batches ran (it waits on the old :Build node, which the test holds)
    status = kill_inside_transaction(
        ["sync", str(changed), "--batch-size", "50"],
        "MATCH (b:Build) SET b.held_by_test = 1",
        "MERGE (b:Build {id: $id})",  # the last statement of a sync (reconcile/learned.py)
    )
    assert status == -signal.SIGKILL
    after_kill = snapshot(graph)
    assert after_kill[1] == old[1]  # readers still see the old build's edges
    assert [n for n in after_kill[0] if "SyncLock" not in n[0]] == old[0]
    assert any("SyncLock" in n[0] for n in after_kill[0])  # the dead process's lock is left
    # that lock is stale: the next sync clears it, says so, and converges
    res = CliRunner().invoke(cli, ["sync", str(changed)])
    assert res.exit_code == 0, res.output
    assert "cleared a stale lock" in res.output, res.output
    after = snapshot(graph)
    assert after[1] == expected[1]
    assert after[0] == [n for n in expected[0] if "SyncLock" not in n[0]]
    again = CliRunner().invoke(cli, ["sync", str(changed), "--dry-run"])
    assert again.exit_code == 0 and "0 changes" in again.output


def test_views_answer_on_a_synced_graph(graph, build, tmp_path):
    from mash_kg.graph.views import list_views, run_view

    tree = tmp_path / "tree.csv"
    tree.write_text(
        "child,parent,child_name,parent_name\n"
        "LP2,LP1,Blood pressure,Vital signs\n"
        "8480-6,LP2,Systolic blood pressure,Blood pressure\n"
        "8462-4,LP2,Diastolic blood pressure,Blood pressure\n"
    )
    write_tables(graph, get_loader("edges")(files=[tree], vocab="LOINC"))
    sync_build(graph, build)
    rows = lambda name, **p: run_view(graph, name, p)  # noqa: E731
    assert [(r["id"], r["distance"]) for r in rows("ancestors", code="LOINC:8480-6")] == [
        ("LOINC:LP2", 1),
        ("LOINC:LP1", 2),
    ]
    assert rows("ancestors", code="LOINC:8480-6", which="learned") == []
    assert len(rows("descendants", code="LOINC:LP1")) == 3
    assert [r["id"] for r in rows("path_to_root", code="LOINC:8480-6")] == [
        "LOINC:8480-6",
        "LOINC:LP2",
        "LOINC:LP1",
    ]
    assert [r["id"] for r in rows("siblings", code="LOINC:8480-6")] == ["LOINC:8462-4"]
    lca = rows("lowest_common_ancestor", a="LOINC:8480-6", b="LOINC:8462-4")
    assert [(r["id"], r["steps_from_a"], r["steps_from_b"]) for r in lca] == [("LOINC:LP2", 1, 1)]
    eq = rows("equivalents", code="LOINC:8480-6")
    # both sites have the code: its best equivalent at the other site is itself, at rank 1
    assert eq and (eq[0]["id"], eq[0]["rank"]) == ("LOINC:8480-6", 1), eq[:3]
    similar = rows("similar", code="LOINC:8480-6", k=3)
    assert len(similar) == 3 and all(r["id"] != "LOINC:8480-6" for r in similar)
    assert [r["score"] for r in similar] == sorted((r["score"] for r in similar), reverse=True)
    queue = rows("review_queue", threshold=1.0, limit=20)
    assert len(queue) == 20 and [r["confidence"] for r in queue] == sorted(
        r["confidence"] for r in queue
    )
    assert rows("unparented_local_codes") == []  # the example's sites use standard codes only
    for view in list_views().values():  # each example sets every parameter (cypher-shell)
        named = {p.split("=>")[0].replace(":param", "").strip() for p in view.example.split(";")}
        assert set(view.parameters) <= named, view.name


# -------------------------------------------------------------- concurrency, locks, injection


def _parallel_edges(driver) -> int:
    """Pairs with more than one edge of a type valid in the newest version."""
    return count(
        driver,
        "MATCH (a)-[r]->(b) WHERE r.valid_to IS NULL "
        "WITH a, b, type(r) AS t, count(r) AS n WHERE n > 1 RETURN count(*)",
    )


def test_a_stale_plan_is_refused_and_a_rerun_converges(graph, build, tmp_path):
    from mash_kg.graph.lock import LockLost, acquire
    from mash_kg.graph.reconcile import write
    from mash_kg.graph.sync import plan_sync, read_target

    sync_build(graph, build)
    b2 = _changed_build(build, tmp_path / "b2", n_changed=300, n_dropped=200)
    b3 = _changed_build(build, tmp_path / "b3", n_changed=100, n_dropped=50)
    lock = acquire(graph, "sync of b2")
    plan = plan_sync(graph, read_target(b2))  # planned against the graph of `build`
    # meanwhile the lock is broken (as from another host) and another sync commits
    graph.execute_query("MATCH (l:SyncLock) DELETE l")
    sync_build(graph, b3)
    after_b3 = snapshot(graph)
    with pytest.raises(LockLost):
        write(graph, plan, lock)
    assert snapshot(graph) == after_b3 and _parallel_edges(graph) == 0
    lock.release()  # not ours any more: releasing must not delete another's lock
    sync_build(graph, b2)
    converged = _content(graph)
    wipe(graph)
    sync_build(graph, build)
    sync_build(graph, b2)
    assert _content(graph) == converged and _parallel_edges(graph) == 0


def _content(driver) -> tuple:
    """What the active version shows, without which build last wrote an edge."""
    from mash_kg.graph.versions import version_content

    nodes, rels = version_content(driver)
    strip = lambda p: json.dumps(  # noqa: E731
        {k: v for k, v in json.loads(p).items() if k != "build"}, sort_keys=True
    )
    return [(n[0], strip(n[1]), strip(n[2])) for n in nodes], [(*r[:3], strip(r[3])) for r in rels]


def test_the_lock_is_taken_before_the_graph_is_read(graph, build, monkeypatch):
    import mash_kg.graph.reconcile.engine as engine
    import mash_kg.graph.sync as sync_mod

    order = []
    real_acquire, real_read = engine.acquire, sync_mod.read_learned
    monkeypatch.setattr(
        engine, "acquire", lambda *a, **k: order.append("lock") or real_acquire(*a, **k)
    )
    monkeypatch.setattr(
        sync_mod, "read_learned", lambda *a, **k: order.append("read") or real_read(*a, **k)
    )
    sync_build(graph, build)
    assert order == ["lock", "read"]
    order.clear()
    sync_build(graph, build, dry_run=True)
    assert order == ["read"]  # a dry run takes no lock


def test_break_lock_refuses_a_live_holder_and_names_a_gone_one(graph, build, cli_env):
    from mash_kg.graph.lock import acquire

    with acquire(graph, "a sync still running"):
        res = CliRunner().invoke(cli, ["sync", "--break-lock"])
        assert res.exit_code == 1 and "held by a running process" in res.output, res.output
        assert count(graph, "MATCH (l:SyncLock) RETURN count(l)") == 1
        res = CliRunner().invoke(cli, ["sync", str(build)])
        assert res.exit_code == 1 and "wait for it to finish" in res.output, res.output
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    graph.execute_query(
        "CREATE (:SyncLock {id: 'sync', token: 't', pid: $pid, started: '1', host: $host, "
        "since: '2026-11-28T00:00:00+00:00', what: 'sync of build X'})",
        pid=gone.pid,
        host=__import__("socket").gethostname(),
    )
    res = CliRunner().invoke(cli, ["sync", "--break-lock"])
    assert res.exit_code == 0 and f"pid {gone.pid}" in res.output and "ago" in res.output
    graph.execute_query(
        "CREATE (:SyncLock {id: 'sync', token: 't', pid: 1, started: '1', host: 'elsewhere', "
        "since: '2026-11-28T00:00:00+00:00', what: 'sync of build X'})"
    )
    res = CliRunner().invoke(cli, ["sync", str(build)])  # another host's: never cleared silently
    assert res.exit_code == 1 and "elsewhere" in res.output
    res = CliRunner().invoke(cli, ["sync", "--break-lock"])
    assert res.exit_code == 0 and "on another host" in res.output
    assert count(graph, "MATCH (l:SyncLock) RETURN count(l)") == 0


def _injected(build: Path, dest: Path, label: str) -> Path:
    """`build` with a Stage III table whose parent_label carries Cypher."""
    shutil.copytree(build, dest)
    codes = pd.read_parquet(dest / "codes.parquet")
    a, b = codes["id"].iloc[0], codes["id"].iloc[1]
    pd.DataFrame(
        {"child": [a], "parent": [b], "score": [0.9], "rank": [1], "parent_label": [label]}
    ).to_parquet(dest / "hierarchy.parquet")
    pd.DataFrame(columns=["id", "name", "domain", "size", "members", "norm"]).to_parquet(
        dest / "latent.parquet"
    )
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(
        pa.table({"id": [a], "role": ["code"], "point": [[0.1, 0.2]]}), dest / "poincare.parquet"
    )
    manifest = json.loads((dest / "manifest.json").read_text())
    reseal(dest, {**manifest, "id": dest.name})
    return dest


@pytest.mark.parametrize("optimize", ["", "1"])
def test_labels_never_come_from_data(graph, build, cli_env, tmp_path, optimize):
    graph.execute_query("CREATE (:Phenotype {id: 'p1'})")
    sync_build(graph, build)
    before = snapshot(graph)
    evil = "Code {id: row.e}) DETACH DELETE b WITH b MATCH (p:Phenotype) DETACH DELETE p //"
    folder = _injected(build, tmp_path / "evil", evil)
    env = {**__import__("os").environ, "PYTHONOPTIMIZE": optimize}
    proc = subprocess.run(
        [sys.executable, "-m", "mash_kg", "sync", str(folder)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1 and "parent_label" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert snapshot(graph) == before
    # the query builders themselves refuse anything but their fixed names, also under -O
    code = (
        "from mash_kg.graph.reconcile.learned import mash_match\n"
        "try:\n    mash_match(('Code', 'Latent) DETACH DELETE (x'))\n"
        "except ValueError:\n    print('refused')\n"
        "from mash_kg.graph.reconcile.ontology import edge_query\n"
        "try:\n    edge_query('IS_A]->() DETACH DELETE (x')\n"
        "except ValueError:\n    print('refused')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.stdout.split() == ["refused", "refused"], proc.stderr


def test_an_empty_or_shrunken_build_never_wipes_the_learned_content(
    graph, build, cli_env, tmp_path
):
    sync_build(graph, build)
    before = snapshot(graph)
    empty = tmp_path / "empty"
    shutil.copytree(build, empty)
    codes = pd.read_parquet(empty / "codes.parquet")
    codes.iloc[:0].to_parquet(empty / "codes.parquet", index=False)
    reseal(empty, {**json.loads((empty / "manifest.json").read_text()), "id": "empty"})
    res = CliRunner().invoke(cli, ["sync", str(empty)])
    assert res.exit_code == 1 and "has no codes" in res.output, res.output
    small = tmp_path / "small"
    shutil.copytree(build, small)
    keep = codes["id"].drop_duplicates().iloc[:20]
    codes[codes["id"].isin(keep)].to_parquet(small / "codes.parquet", index=False)
    cp = pd.read_parquet(small / "counterparts.parquet")
    both = cp["id"].isin(keep) & cp["other_id"].isin(keep)  # a consistent build: ends it has
    cp[both].to_parquet(small / "counterparts.parquet", index=False)
    reseal(small, {**json.loads((small / "manifest.json").read_text()), "id": "small"})
    res = CliRunner().invoke(cli, ["sync", str(small)])
    assert res.exit_code == 1 and "--allow-retire" in res.output, res.output
    assert snapshot(graph) == before
    res = CliRunner().invoke(cli, ["sync", "--allow-retire", str(small)])
    assert res.exit_code == 0, res.output
    assert (
        count(
            graph,
            "MATCH (n:Code)-[:HAS_STATE]->(s:CodeState) WHERE s.valid_to IS NULL RETURN count(n)",
        )
        == 20
    )


# the build damages of the fault matrix (bench/fault_cases.py), and a folder that is gone
DAMAGE = {**fault_cases.DAMAGE, "not_a_folder": lambda d: shutil.rmtree(d)}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_build_is_one_line_and_changes_nothing(graph, build, cli_env, tmp_path, damage):
    folder = _stage3_like(build, tmp_path / "damaged")  # every table a build can have
    sync_build(graph, folder)
    before = snapshot(graph)
    DAMAGE[damage](folder)
    for args in (["sync", str(folder)], ["eval", str(folder)]):
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 1, (args, res.output)
        assert res.stderr.startswith("error:") and "internal error" not in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert snapshot(graph) == before


def _stage3_like(build: Path, dest: Path) -> Path:
    """`build` (Stage I) with small Stage III tables, as a complete build of that layout."""
    folder = _injected(build, dest, "Code")
    codes = pd.read_parquet(folder / "codes.parquet")
    holdout = {
        "id": [codes["id"].iloc[0]],
        "parent": [codes["id"].iloc[1]],
        "rank": [1],
        "text_rank": [2],
        "candidates": [10],
    }
    pd.DataFrame(holdout).to_parquet(folder / "holdout.parquet")
    candidates = {"id": holdout["id"], "candidate": holdout["parent"], "rank": [1]}
    pd.DataFrame({**candidates, "score": [0.9], "distance": [0.1]}).to_parquet(
        folder / "candidates.parquet"
    )
    manifest = json.loads((folder / "manifest.json").read_text())
    reseal(folder, {**manifest, "stages": ["I", "II", "III"]})
    return folder


def test_every_bad_input_of_the_fault_matrix_is_one_line_and_changes_nothing(
    graph, build, cli_env, tmp_path
):
    """The bad_inputs task of bench/faults.py, in-process (the benchmark runs each case as a
    process of its own)."""
    CASES, make_case_files = fault_cases.CASES, fault_cases.make_case_files

    b1 = _stage3_like(build, tmp_path / "b1")
    files = make_case_files(tmp_path / "cases", b1)
    lab = FIXTURES / "edges_v1.csv"
    write_tables(graph, get_loader("edges")(files=[lab], vocab="LAB", domain="lab"))
    sync_build(graph, b1)
    before = _content(graph)
    failed = []
    for name, args in CASES:
        res = CliRunner().invoke(cli, [a.format(**files) for a in args])
        lines = res.stderr.strip().splitlines()
        ok = (
            res.exit_code not in (0, None)
            and len(lines) == 1
            and lines[0].startswith("error:")
            and "internal error" not in lines[0]
        )
        if not ok:
            failed.append(f"{name}: exit {res.exit_code}: {res.stderr.strip()[:300]}")
        graph.execute_query("MATCH (l:SyncLock) DELETE l")
    assert not failed, "\n".join(failed)
    assert _content(graph) == before
    assert len(CASES) >= 60


def test_any_sequence_of_syncs_converges_to_a_clean_sync_of_the_last(graph, build, tmp_path):
    """Property (hypothesis): whatever builds were synced before, the graph ends as a clean
    sync of the last one leaves it, with no parallel edges."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    variants = st.tuples(st.integers(0, 400), st.integers(0, 400))
    made: dict[tuple, Path] = {}

    def derived(v: tuple) -> Path:
        if v not in made:
            made[v] = _changed_build(
                build, tmp_path / f"v{len(made)}", n_changed=v[0], n_dropped=v[1]
            )
        return made[v]

    @settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(variants, min_size=1, max_size=2))
    def check(sequence):
        wipe(graph)
        for v in sequence:
            sync_build(graph, derived(v), allow_retire=True)
        after = _content(graph)
        assert _parallel_edges(graph) == 0
        wipe(graph)
        sync_build(graph, derived(sequence[-1]))
        assert _content(graph) == after

    check()


def test_the_password_is_never_written_into_a_build(build):
    files = [p for p in build.rglob("*") if p.is_file()]
    assert files and not [p.name for p in files if SECRET.encode() in p.read_bytes()]
