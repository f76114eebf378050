"""mash_kg/load.py: a release read into checked tables before anything connects."""

from __future__ import annotations

import pytest

from mash_kg.errors import InputError, MashError
from mash_kg.load import read_source, source_help
from tests.conftest import FIXTURES


def test_a_release_is_read_into_checked_tables():
    tables = read_source("obo", [FIXTURES / "mini.obo"], vocab="HP", domain="other")
    assert len(tables.nodes) > 0 and set(tables.nodes["vocab"]) == {"HP"}
    assert len(tables.edges) > 0


def test_unknown_source_and_bad_file_are_one_error_each():
    with pytest.raises(MashError, match="unknown source 'snomed': one of icd10cm"):
        read_source("snomed")
    with pytest.raises(InputError, match=r"atc_bad.csv, row 4"):
        read_source("atc", [FIXTURES / "atc_bad.csv"])


def test_the_help_names_every_source():
    from mash_kg.loaders import REGISTRY

    text = source_help()
    assert REGISTRY and all(f"{name}: " in text for name in REGISTRY)


def test_each_source_has_its_own_help():
    """`mash-kg load SOURCE --help` says which file of which release SOURCE reads (it printed
    the generic `load` help before) and lists only the options SOURCE takes."""
    from click.testing import CliRunner

    from mash_kg.cli import cli
    from mash_kg.loaders import REGISTRY, SOURCE_HELP

    generic = CliRunner().invoke(cli, ["load", "--help"]).output
    for source in REGISTRY:
        res = CliRunner().invoke(cli, ["load", source, "--help"])
        assert res.exit_code == 0, res.output
        assert f" load {source} [OPTIONS]" in res.output.splitlines()[0], res.output
        assert res.output != generic and " ".join(SOURCE_HELP[source].split()[:4]) in " ".join(
            res.output.split()
        )
        assert ("--vocab" in res.output) == (source in ("obo", "edges"))
        assert source in generic  # the generic help lists every source
    assert "fetch_atc.sh" in CliRunner().invoke(cli, ["load", "atc", "--help"]).output
    assert "RXNCONSO.RRF" in CliRunner().invoke(cli, ["load", "rxnorm", "--help"]).output
    assert "LoincTableCore.csv" in CliRunner().invoke(cli, ["load", "loinc", "--help"]).output


def test_unknown_source_on_the_command_line_is_one_line():
    from click.testing import CliRunner

    from mash_kg.cli import cli

    res = CliRunner().invoke(cli, ["load", "snomed"])
    assert res.exit_code == 1 and res.stderr.startswith("error: unknown source 'snomed'")
    assert "icd10cm" in res.stderr and "phecode" in res.stderr  # names the known sources
    assert len(res.stderr.strip().splitlines()) == 1


def _lab_held(tables, **extra):
    """What the graph holds after loading `tables` (LAB from the edges fixture)."""
    from mash_kg.graph.reconcile import OntologyHeld

    nodes = {r["id"]: {**r, "status": "active"} for r in tables.nodes.to_dict("records")}
    edges = {
        (s, e, "IS_A", "LAB"): {"vocab": "LAB"}
        for s, e in zip(tables.edges["start"], tables.edges["end"], strict=True)
    }
    vocabs = [{"id": "LAB", "loader": tables.source, "codes": len(nodes)}]
    return OntologyHeld(vocabs, nodes, set(), edges, **extra)


def test_the_retire_guard_counts_edges_not_only_codes(tmp_path):
    """A release keeping every code and dropping every edge was written with exit 0."""
    from mash_kg.graph.reconcile import check_retire, diff_ontology
    from mash_kg.graph.reconcile.engine import RetireRefused

    v1 = read_source("edges", [FIXTURES / "edges_v1.csv"], vocab="LAB")
    flat = tmp_path / "flat.obo"
    flat.write_text(
        "format-version: 1.2\n\n"
        + "".join(
            f"[Term]\nid: {i}\nname: {n}\n\n"
            for i, n in zip(v1.nodes["id"], v1.nodes["name"], strict=True)
        )
    )
    release = read_source("obo", [flat], vocab="LAB")
    plan = diff_ontology(release, _lab_held(v1), allow_takeover=True)
    assert plan.report.count("codes", "retired") == 0 and plan.report.count("edges", "retired") == 4
    with pytest.raises(RetireRefused, match="remove 4 of the 4 edges"):
        check_retire(plan, allow_retire=False)
    check_retire(plan, allow_retire=True)


def test_an_is_a_cycle_with_other_loads_edges_is_refused(tmp_path):
    """CYA:1 <- CYB:1 <- CYC:1 written by two other loads; CYA's release adding CYA:1 is_a
    CYC:1 closes a cycle none of the three releases holds alone."""
    from mash_kg.graph.reconcile import OntologyHeld, diff_ontology

    obo = tmp_path / "cya.obo"
    obo.write_text("format-version: 1.2\n\n[Term]\nid: CYA:1\nname: A\nis_a: CYC:1\n")
    release = read_source("obo", [obo])
    held = OntologyHeld(present={"CYC:1"}, outside_is_a=[("CYC:1", "CYB:1"), ("CYB:1", "CYA:1")])
    with pytest.raises(InputError, match="IS_A cycle with edges other loads wrote: CYA:1 ->"):
        diff_ontology(release, held)
    held.outside_is_a = [("CYC:1", "CYB:1")]  # no path back: the edge is written
    assert diff_ontology(release, held).report.count("edges", "added") == 1
