"""`mash-kg export`: OMOP vocabulary-style tables and edge lists of the merged hierarchy."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from mash_kg.cli import cli
from mash_kg.graph.export import ancestors
from mash_kg.graph.writer import write_tables
from mash_kg.loaders import get_loader

pytestmark = pytest.mark.neo4j


def test_ancestors_of_a_dag_with_min_and_max_levels():
    edges = pd.DataFrame({"start": ["c", "c", "b", "a"], "end": ["b", "a", "a", "r"]})
    anc = ancestors(edges).set_index(["ancestor", "descendant"])
    assert tuple(anc.loc[("a", "c")]) == (1, 2)  # c -> a directly and via b
    assert tuple(anc.loc[("r", "c")]) == (2, 3)
    assert tuple(anc.loc[("c", "c")]) == (0, 0)
    assert len(anc) == 4 + 3 + 2 + 1  # each node with itself and its ancestors


def test_export_writes_omop_tables_with_learned_edges_told_apart(graph, cli_env, tmp_path):
    tree = tmp_path / "tree.csv"
    tree.write_text("child,parent,child_name,parent_name\nB,A,Bee,Ay\nC,B,Cee,Bee\n")
    write_tables(graph, get_loader("edges")(files=[tree], vocab="LOCALTREE"))
    graph.execute_query(  # a learned edge, as Stage III will sync them
        "MATCH (c:Code {id: 'LOCALTREE:C'}), (a:Code {id: 'LOCALTREE:A'}) "
        "CREATE (c)-[:MASH_IS_A {score: 0.9, build: 'b1'}]->(a)"
    )
    res = CliRunner().invoke(cli, ["export", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    out = tmp_path / "out"
    concept = pd.read_csv(out / "CONCEPT.csv", sep="\t", dtype=str)
    assert list(concept["concept_code"]) == ["A", "B", "C"]
    assert (concept["concept_id"].astype(int) > 2_000_000_000).all()
    rel = pd.read_csv(out / "CONCEPT_RELATIONSHIP.csv", sep="\t")
    assert sorted(rel["relationship_id"]) == sorted(
        ["Is a", "Subsumes", "Is a", "Subsumes", "MASH is a", "MASH subsumes"]
    )
    anc = pd.read_csv(out / "CONCEPT_ANCESTOR.csv", sep="\t")
    ids = dict(zip(concept["concept_code"], concept["concept_id"].astype(int), strict=True))
    row = anc[(anc["ancestor_concept_id"] == ids["A"]) & (anc["descendant_concept_id"] == ids["C"])]
    assert row[["min_levels_of_separation", "max_levels_of_separation"]].values.tolist() == [[1, 2]]
    edges = pd.read_csv(out / "edges.csv")
    assert set(edges["type"]) == {"IS_A", "MASH_IS_A"} and len(edges) == 3


# ---------------------------------------------------------------- depth, text, files


def test_ancestors_of_any_depth_are_iterative_and_bounded(monkeypatch):
    """A 100,000-deep chain: the recursive version overflowed ("internal error (SystemError)" /
    RecursionError); now the table's size, not the depth, is the limit, said in one line."""
    from mash_kg.errors import MashError

    n = 100_000
    chain = pd.DataFrame(
        {"start": [f"n{i + 1}" for i in range(n)], "end": [f"n{i}" for i in range(n)]}
    )
    monkeypatch.setenv("MASH_KG_EXPORT_MAX_ANCESTOR_ROWS", "2000000")
    with pytest.raises(MashError, match="CONCEPT_ANCESTOR table would have more than 2,000,000"):
        ancestors(chain)
    deep = chain.iloc[-1900:]  # 1,900 levels: 1.8 million rows, within the bound
    anc = ancestors(deep)
    assert len(anc) == 1901 * 1902 // 2
    assert anc["max_levels"].max() == 1900


def _write_codes(graph, codes: list[tuple[str, str]]) -> None:
    graph.execute_query(
        "UNWIND $rows AS r CREATE (:Code {id: r[0], code: r[1], name: r[1], vocab: 'X', "
        "status: 'active', domain: 'lab'})",
        rows=[list(c) for c in codes],
    )


def test_control_characters_in_fields_are_escaped_one_record_per_line(graph, tmp_path):
    from mash_kg.graph.export import export_graph

    _write_codes(graph, [("X:a\nb", "a\nb"), ("X:t\tc", "t\tc\\"), ("X:e", "e\x1b[2J\u2028")])
    graph.execute_query(
        "MATCH (a:Code {id: 'X:a\nb'}), (b:Code {id: 'X:e'}) CREATE (a)-[:IS_A {vocab: 'X'}]->(b)"
    )
    counts = export_graph(graph, tmp_path / "out")
    for name, rows in counts.items():
        lines = (tmp_path / "out" / name).read_text(encoding="utf-8").split("\n")
        assert lines[-1] == "" and len(lines) == rows + 2, name  # header + rows + final newline
    concept = (tmp_path / "out" / "CONCEPT.csv").read_text()
    assert "a\\nb" in concept and "t\\tc\\\\" in concept and "e\\x1b[2J\\u2028" in concept


def test_export_never_writes_through_a_planted_link(graph, tmp_path):
    """`.CONCEPT.csv.tmp` pointing at another file: before the fix that file was overwritten."""
    from mash_kg.graph.export import export_graph

    _write_codes(graph, [("X:1", "1")])
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    for name in ("CONCEPT.csv", "edges.csv", "concept_map.csv"):
        (out / f".{name}.tmp").symlink_to(victim)
    export_graph(graph, out)
    assert victim.read_text() == "keep me\n"
    assert (out / "CONCEPT.csv").is_file() and not (out / "CONCEPT.csv").is_symlink()


def test_disk_full_export_is_one_line_and_leaves_no_file(graph, cli_env, tmp_path):
    """The file-size limit makes every write past 64 KiB fail like a full disk: one line, no
    temporary or partial file (before the fix a partial `.CONCEPT.csv.tmp` stayed)."""
    import resource
    import signal
    import subprocess
    import sys

    _write_codes(graph, [(f"X:{i}", f"code {i} " + "x" * 40) for i in range(3000)])
    out = tmp_path / "full"

    def small_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    proc = subprocess.run(
        [sys.executable, "-m", "mash_kg", "export", str(out)],
        capture_output=True,
        text=True,
        preexec_fn=small_disk,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "could not write the export (File too large)" in lines[0], lines
    assert list(out.iterdir()) == []


def test_a_commit_between_the_reads_is_never_exported_half(graph, tmp_path, monkeypatch):
    """A load commits a new code and its edge after the codes were read and before the edges
    are: the reads that saw half of it are dropped and read again (before the fix, codes and
    edges were separate transactions: "internal error (KeyError ...)" in 2 of 8 exports)."""
    from mash_kg.graph import export

    _write_codes(graph, [("X:0", "0")])
    real = export._frame
    commits = []

    def frame(tx, query, **params):
        df = real(tx, query, **params)
        if query == export.CODES and len(commits) < 2:  # twice: two reads are spoiled
            n = len(commits) + 1
            graph.execute_query(
                "MATCH (p:Code {id: 'X:0'}) CREATE (:Code {id: $id, code: $id, name: $id, "
                "vocab: 'X', status: 'active', domain: 'lab'})-[:IS_A {vocab: 'X'}]->(p)",
                id=f"X:{n}",
            )
            commits.append(n)
        return df

    monkeypatch.setattr(export, "_frame", frame)
    counts = export.export_graph(graph, tmp_path / "out")
    assert commits == [1, 2]
    assert counts["CONCEPT.csv"] == 3 and counts["edges.csv"] == 2
    edges = pd.read_csv(tmp_path / "out" / "edges.csv")
    ids = set(pd.read_csv(tmp_path / "out" / "concept_map.csv")["id"])
    assert set(edges["start"]) | set(edges["end"]) <= ids
