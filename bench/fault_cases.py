"""The bad inputs of bench/faults.py (and of tests/test_faults.py, which runs them in-process):
each a command a user could type, with files made by `make_case_files`. Every case must end
with one line on stderr (``error: ...``), a non-zero exit and the graph unchanged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
from fault_cases_loaders import CASES as LOADER_CASES  # bench/ on sys.path
from fault_cases_loaders import _write, make_loader_files  # one file writer for both

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "two_sites"
FIXTURES = ROOT / "tests" / "fixtures"

DAMAGE = {
    "zero_byte_table": lambda d: (d / "counterparts.parquet").write_bytes(b""),
    "truncated_table": lambda d: (d / "embeddings.parquet").write_bytes(
        (d / "embeddings.parquet").read_bytes()[:-200]
    ),
    "manifest_list": lambda d: (d / "manifest.json").write_text("[1, 2]"),
    "manifest_empty": lambda d: (d / "manifest.json").write_text(""),
    "manifest_no_id": lambda d: (d / "manifest.json").write_text('{"stages": ["I"]}'),
    "manifest_newer": lambda d: (d / "manifest.json").write_text(
        '{"id": "x", "schema_version": 99}'
    ),
    "missing_codes_table": lambda d: (d / "codes.parquet").unlink(),
    "missing_latent_table": lambda d: (d / "latent.parquet").unlink(),
    "missing_poincare_table": lambda d: (d / "poincare.parquet").unlink(),
}

_LOAD = ["load", "edges", "--vocab", "LAB", "--domain", "lab", "--file"]

CASES: list[tuple[str, list[str]]] = [
    ("load_unknown_source", ["load", "nosuch"]),
    ("load_missing_file", [*_LOAD, "{dir}/missing.csv"]),
    ("load_file_is_directory", [*_LOAD, "{dir}"]),
    ("load_header_only", [*_LOAD, "{edges_header}"]),
    ("load_not_utf8", [*_LOAD, "{edges_latin1}"]),
    ("load_cycle", [*_LOAD, "{edges_cycle}"]),
    ("load_two_cycle", [*_LOAD, "{edges_two_cycle}"]),
    ("load_missing_columns", [*_LOAD, "{edges_nocols}"]),
    ("load_foreign_file_retires_vocab", [*_LOAD, "{edges_foreign}"]),
    ("load_batch_size_zero", [*_LOAD, "{edges_ok}", "--batch-size", "0"]),
    (
        "load_bad_domain",
        ["load", "edges", "--vocab", "LAB", "--domain", "labs", "--file", "{edges_ok}"],
    ),
    ("load_obo_isa_without_value", ["load", "obo", "--file", "{obo_isa_empty}"]),
    ("load_obo_cycle", ["load", "obo", "--file", "{obo_cycle}"]),
    ("load_obo_empty", ["load", "obo", "--file", "{obo_empty}"]),
    ("load_obo_not_utf8", ["load", "obo", "--file", "{obo_latin1}"]),
    ("load_obo_vocab_matches_nothing", ["load", "obo", "--file", "{obo_ok}", "--vocab", "HPO"]),
    ("load_obo_takes_over_vocab", ["load", "obo", "--file", "{obo_lab}", "--vocab", "LAB"]),
    ("load_atc_not_utf8", ["load", "atc", "--file", "{atc_latin1}"]),
    ("load_atc_header_only", ["load", "atc", "--file", "{atc_header}"]),
    ("load_atc_directory", ["load", "atc", "--file", "{dir}"]),
    ("load_rxnorm_empty_folder", ["load", "rxnorm", "--file", "{empty_dir}"]),
    ("load_loinc_missing", ["load", "loinc", "--file", "{dir}/nope.csv"]),
    *[(f"sync_{name}", ["sync", f"{{build_{name}}}"]) for name in DAMAGE],
    *[(f"eval_{name}", ["eval", f"{{build_{name}}}"]) for name in DAMAGE],
    ("sync_injected_label", ["sync", "{build_injected}"]),
    ("sync_empty_build", ["sync", "{build_empty}"]),
    ("sync_shrunken_build", ["sync", "{build_small}"]),
    ("sync_missing_folder", ["sync", "{dir}/no-build"]),
    ("sync_batch_size_zero", ["sync", "{build_ok}", "--batch-size", "0"]),
    ("eval_stage1_build", ["eval", "{build_stage1}"]),
    ("query_unknown_view", ["query", "nosuch"]),
    ("query_choice", ["query", "ancestors", "-p", "code=x", "-p", "which=all"]),
    ("query_misspelled", ["query", "ancestors", "-p", "code=x", "-p", "wich=both"]),
    ("query_extra", ["query", "ancestors", "-p", "code=x", "-p", "extra=1"]),
    (
        "query_huge_limit",
        ["query", "descendants", "-p", "code=x", "-p", "limit=1180591620717411303424"],
    ),
    ("query_huge_k", ["query", "similar", "-p", "code=x", "-p", "k=1000000000"]),
    ("query_missing_parameter", ["query", "ancestors"]),
    ("query_no_equals", ["query", "ancestors", "-p", "code"]),
    ("query_not_integer", ["query", "descendants", "-p", "code=x", "-p", "limit=ten"]),
    ("query_nan", ["query", "review_queue", "-p", "threshold=nan"]),
    ("phenotype_header_only", ["phenotype", "import", "{pheno_header}"]),
    ("phenotype_missing", ["phenotype", "import", "{dir}/nope.csv"]),
    ("phenotype_not_utf8", ["phenotype", "import", "{pheno_latin1}"]),
    ("phenotype_broken_json", ["phenotype", "import", "{pheno_json}"]),
    ("phenotype_expand_unknown", ["phenotype", "expand", "nosuch", "--site", "A"]),
    ("export_proc", ["export", "/proc/mash-kg-export"]),
    ("export_sys", ["export", "/sys/mash-kg-export"]),
    ("export_below_a_file", ["export", "{edges_ok}/out"]),
    ("config_sppmi_shift_zero", ["--config", "{cfg_sppmi}", "build"]),
    (
        "config_bolt_port_bool",
        ["--config", "{cfg_port_bool}", "query", "ancestors", "-p", "code=x"],
    ),
    (
        "config_bolt_port_float",
        ["--config", "{cfg_port_float}", "query", "ancestors", "-p", "code=x"],
    ),
    ("config_top_k_zero", ["--config", "{cfg_top_k}", "build"]),
    ("config_not_toml", ["--config", "{cfg_not_toml}", "build"]),
    ("config_unknown_key", ["--config", "{cfg_unknown}", "build"]),
    ("config_missing_codes_file", ["--config", "{cfg_no_codes}", "build"]),
    ("config_empty_events", ["--config", "{cfg_empty_events}", "build"]),
    ("config_fhir_not_an_object", ["--config", "{cfg_fhir_list}", "build"]),
    ("config_missing", ["--config", "{dir}/none.toml", "build"]),
    *LOADER_CASES,  # bench/fault_cases_loaders.py (issue 25 point 6)
]


def _project(folder: Path, model: str = "", neo4j: str = "", sites: str = "") -> str:
    """A copy of the example project whose mash-kg.toml has extra [model]/[neo4j] lines."""
    if not folder.exists():
        shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("builds"))
    text = (EXAMPLE / "mash-kg.toml").read_text()
    text = text.replace("[model]\n", "[model]\n" + model, 1)
    if sites:
        text = text.split("[[sites]]")[0] + sites
    return _write(folder / "mash-kg.toml", text + neo4j)


def make_case_files(folder: Path, b1: Path, b_stage1: Path | None = None) -> dict[str, str]:
    """Write every file the cases name under `folder`; `b1` is a complete Stage III build."""
    from mash_kg.content import reseal

    folder.mkdir(parents=True, exist_ok=True)
    f: dict[str, str] = {"dir": str(folder), "project": str(folder)}
    (folder / "empty").mkdir(exist_ok=True)
    f["empty_dir"] = str(folder / "empty")
    f["edges_ok"] = _write(folder / "edges_ok.csv", "child,parent\nA,B\n")
    f["edges_header"] = _write(folder / "edges_header.csv", "child,parent\n")
    f["edges_latin1"] = _write(
        folder / "edges_latin1.csv", "child,parent,child_name\nA,B,Prot\xe9ine\n".encode("latin-1")
    )
    f["edges_cycle"] = _write(folder / "edges_cycle.csv", "child,parent\nA,B\nB,C\nC,A\n")
    f["edges_two_cycle"] = _write(folder / "edges_two_cycle.csv", "child,parent\nA,B\nB,A\n")
    f["edges_nocols"] = _write(folder / "edges_nocols.csv", "a,b\n1,2\n")
    f["edges_foreign"] = _write(folder / "edges_foreign.csv", "child,parent\nX1,X0\n")
    obo = "format-version: 1.2\n\n"
    f["obo_ok"] = _write(folder / "ok.obo", obo + "[Term]\nid: HP:0000001\nname: All\n")
    f["obo_isa_empty"] = _write(folder / "isa.obo", obo + "[Term]\nid: HP:1\nname: x\nis_a:\n")
    f["obo_cycle"] = _write(
        folder / "cycle.obo",
        obo + "[Term]\nid: HP:1\nname: a\nis_a: HP:2\n\n[Term]\nid: HP:2\nname: b\nis_a: HP:1\n",
    )
    f["obo_empty"] = _write(folder / "empty.obo", "")
    f["obo_latin1"] = _write(
        folder / "latin1.obo", (obo + "[Term]\nid: HP:1\nname: Prot\xe9ine\n").encode("latin-1")
    )
    f["obo_lab"] = _write(folder / "lab.obo", obo + "[Term]\nid: LAB:LAB1\nname: Glucose\n")
    f["atc_latin1"] = _write(
        folder / "atc_latin1.csv", "code,name\nA01,Stomatologiques pr\xe9p\n".encode("latin-1")
    )
    f["atc_header"] = _write(folder / "atc_header.csv", "code,name,parent\n")
    f["pheno_header"] = _write(folder / "pheno.csv", "phenotype,code\n")
    f["pheno_latin1"] = _write(
        folder / "pheno_latin1.csv",
        "phenotype,code,name\np,ICD10CM:E11,Diab\xe8te\n".encode("latin-1"),
    )
    f["pheno_json"] = _write(folder / "pheno.json", '{"ConceptSets": [')
    f.update(make_loader_files(folder / "loaders"))

    builds = folder / "builds"
    builds.mkdir(exist_ok=True)

    def copy(name: str) -> Path:
        dest = builds / name
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(b1, dest)
        return dest

    f["build_ok"] = str(copy("ok"))
    for name, damage in DAMAGE.items():
        dest = copy(name)
        damage(dest)
        f[f"build_{name}"] = str(dest)
    manifest = json.loads((b1 / "manifest.json").read_text())
    dest = copy("injected")
    h = pd.read_parquet(dest / "hierarchy.parquet")
    h.loc[0, "parent_label"] = "Code {id: row.e}) DETACH DELETE b //"
    h.to_parquet(dest / "hierarchy.parquet", index=False)
    reseal(dest, {**manifest, "id": "injected"})
    f["build_injected"] = str(dest)
    dest = copy("empty")
    codes = pd.read_parquet(dest / "codes.parquet")
    codes.iloc[:0].to_parquet(dest / "codes.parquet", index=False)
    reseal(dest, {**manifest, "id": "empty"})
    f["build_empty"] = str(dest)
    dest = copy("small")
    keep = codes["id"].drop_duplicates().iloc[:20]
    codes[codes["id"].isin(keep)].to_parquet(dest / "codes.parquet", index=False)
    for name, col in (("counterparts", "id"), ("hierarchy", "child")):
        df = pd.read_parquet(dest / f"{name}.parquet")
        df[df[col].isin(keep)].to_parquet(dest / f"{name}.parquet", index=False)
    reseal(dest, {**manifest, "id": "small"})
    f["build_small"] = str(dest)
    dest = copy("stage1")
    for name in ("hierarchy", "latent", "poincare", "candidates", "holdout"):
        (dest / f"{name}.parquet").unlink(missing_ok=True)
    reseal(dest, {**manifest, "id": "stage1", "stages": ["I"]})
    f["build_stage1"] = str(dest)

    p = folder / "projects"
    f["cfg_sppmi"] = _project(p / "sppmi", model="sppmi_shift = 0.0\n")
    f["cfg_top_k"] = _project(p / "top_k", model="top_k = 0\n")
    f["cfg_port_bool"] = _project(p / "port_bool", neo4j="\n[neo4j]\nbolt_port = true\n")
    f["cfg_port_float"] = _project(p / "port_float", neo4j="\n[neo4j]\nbolt_port = 7707.9\n")
    f["cfg_unknown"] = _project(p / "unknown", model="dimension = 64\n")
    f["cfg_not_toml"] = _write(p / "not_toml" / "mash-kg.toml", "[model\ndim = \n")
    f["cfg_no_codes"] = _project(
        p / "no_codes",
        sites='[[sites]]\nid = "A"\nformat = "tables"\ncodes = "nope.csv"\nevents = "nope.csv"\n',
    )
    (p / "empty_events").mkdir(parents=True, exist_ok=True)
    _write(p / "empty_events" / "events.csv", "patient_id,date,code\n")
    f["cfg_empty_events"] = _project(
        p / "empty_events",
        sites='[[sites]]\nid = "A"\nformat = '
        '"tables"\ncodes = "site_a/codes.csv"\nevents = '
        '"events.csv"\n',
    )
    fhir = p / "fhir_list"
    _write(fhir / "fhir" / "Condition.ndjson", "[1,2,3]\n")
    f["cfg_fhir_list"] = _project(
        fhir, sites='[[sites]]\nid = "A"\nformat = "fhir"\npath = "fhir"\nmax_bad_rows = 0.0\n'
    )
    return f


CASES, make_case_files = __import__("fault_cases_safety").extend(CASES, make_case_files)
