"""Safety cases of the fault matrix (issue 26 and the integrity gaps of issue 25 point 6):
hostile inputs (`CASES`, run by bench/faults.py's bad_inputs like bench/fault_cases.py's, with
files from `make_safety_files`) and a first boot interrupted by a signal
(`interrupted_first_boot`, the first_boot_signals task)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from mash_kg.neo4j_server.process import ENTRY_POINT

# ------------------------------------------------------------------------ first boot, signals


def servers_of(home: Path) -> list[psutil.Process]:
    """The live Neo4j processes whose command line names `home` as their home folder."""
    found = []
    want = f"--home-dir={home}"
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if ENTRY_POINT in cmdline and want in cmdline:
            found.append(proc)
    return found


def initial_password_works(port: int) -> bool:
    """True when Bolt on 127.0.0.1:`port` takes Neo4j's initial neo4j/neo4j account."""
    from neo4j import GraphDatabase

    try:
        with GraphDatabase.driver(
            f"bolt://127.0.0.1:{port}", auth=("neo4j", "neo4j"), connection_timeout=3
        ) as drv:
            drv.verify_connectivity()
        return True
    except Exception:  # AuthError (secured), ServiceUnavailable (nothing listens)
        return False


def interrupted_first_boot(
    home: Path, signum: int, delay: float, bolt: int, env: dict | None = None
) -> dict:
    """`mash-kg neo4j start` on the fresh `home`, sent `signum` `delay` seconds after the
    server's JVM appears (or after launch, if it never does); then: is a server of `home` left
    running, does its port take neo4j/neo4j, and was the exit one line? Leftovers are killed."""
    env = {k: v for k, v in (env or os.environ).items() if not k.startswith(("NEO4J_", "MASH_"))}
    env.update(MASH_KG_NEO4J_HOME=str(home), MASH_KG_BOLT_PORT=str(bolt), MASH_KG_HTTP_PORT="0")
    project = Path(home).parent / f"{Path(home).name}.project"
    _w(project / "mash-kg.toml", '[neo4j]\nheap = "512m"\npagecache = "64m"\n')
    proc = subprocess.Popen(
        [sys.executable, "-m", "mash_kg", "neo4j", "start"],
        env=env,
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    t0 = time.monotonic()
    jvm_seen = None
    while proc.poll() is None and time.monotonic() - t0 < 300:
        if jvm_seen is None and servers_of(home):
            jvm_seen = time.monotonic()
        if jvm_seen is not None and time.monotonic() - jvm_seen >= delay:
            break
        time.sleep(0.05)
    finished_first = proc.poll() is not None
    if not finished_first:
        proc.send_signal(signum)
    out, err = proc.communicate(timeout=300)
    time.sleep(0.5)
    left = servers_of(home)
    works = initial_password_works(bolt)
    deadline = time.monotonic() + 180
    while left and not works and time.monotonic() < deadline and servers_of(home):
        time.sleep(2)  # a server left behind: does it take neo4j/neo4j once it has booted?
        works = initial_password_works(bolt)
    result = {
        "signal": signal.Signals(signum).name,
        "jvm_seen": jvm_seen is not None,
        "finished_before_signal": finished_first,
        "exit": proc.returncode,
        "left_running": len(left),
        "initial_password_works": works,
        "stderr": err.strip(),
    }
    for leftover in left:  # started by this run: never leave it behind
        leftover.kill()
        leftover.wait(30)
    return result


# ------------------------------------------------------------------------ bad inputs

_LOAD = ["load", "edges", "--vocab", "LAB", "--domain", "lab", "--file"]
DEEP = 200_000  # nesting of the deep JSON/TOML inputs


def _w(path: Path, data: str | bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return str(path)


def _reseal_with(b1: Path, dest: Path, build_id: str, edit) -> str:
    """A copy of build `b1` under a new id with `edit(folder)` applied and resealed, so its
    checksums match and only its values are wrong."""
    import json
    import shutil

    from mash_kg.content import reseal

    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(b1, dest)
    edit(dest)
    manifest = json.loads((b1 / "manifest.json").read_text())
    reseal(dest, {**manifest, "id": build_id})
    return str(dest)


def _edit_table(name: str, change):
    def edit(folder: Path) -> None:
        path = folder / f"{name}.parquet"
        df = pd.read_parquet(path)
        change(df)
        df.to_parquet(path, index=False)

    return edit


def _nan_vector(folder: Path) -> None:
    """The first aligned vector gets a NaN (a float NaN, not a missing value)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(folder / "embeddings.parquet")
    vectors = table.column("aligned").to_pylist()
    vectors[0] = [float("nan"), *vectors[0][1:]]
    column = pa.array(vectors, type=table.schema.field("aligned").type, from_pandas=False)
    table = table.set_column(table.schema.get_field_index("aligned"), "aligned", column)
    pq.write_table(table, folder / "embeddings.parquet")


def _outside_ball(df: pd.DataFrame) -> None:
    point = np.array(df.loc[0, "point"], dtype=float)
    df.at[0, "point"] = point / max(np.linalg.norm(point), 1e-9) * 1.5


def _set(column: str, value):
    def change(df: pd.DataFrame) -> None:
        df.loc[0, column] = value

    return change


BAD_BUILDS = {
    "nan_score": ("counterparts", _set("score", np.nan)),
    "inf_score": ("counterparts", _set("score", np.inf)),
    "nan_hierarchy_score": ("hierarchy", _set("score", np.nan)),
    "nan_vector": (None, _nan_vector),
    "point_outside_ball": ("poincare", _outside_ball),
    "dangling_counterpart": ("counterparts", _set("other_id", "NOSUCH:1")),
    "dangling_hierarchy_child": ("hierarchy", _set("child", "NOSUCH:2")),
    "missing_latent_parent": ("hierarchy", _set(["parent", "parent_label"], ["NOSUCH", "Latent"])),
}

MARKUP = "[/]"  # rich markup that closes nothing: crashed the CLI after a commit


def make_safety_files(folder: Path, b1: Path) -> dict[str, str]:
    """Write the inputs `CASES` name under `folder`; `b1` is a complete Stage III build."""
    folder.mkdir(parents=True, exist_ok=True)
    f: dict[str, str] = {}
    fifo = folder / "fifo.csv"
    if not fifo.exists():
        os.mkfifo(fifo)
    f["fifo"] = str(fifo)
    f["deep_json"] = _w(folder / "deep.json", "[" * DEEP + "]" * DEEP)
    f["deep_json_obj"] = _w(folder / "deep_obj.json", '{"a":' * DEEP + "1" + "}" * DEEP)
    f["deep_toml"] = _w(folder / "deep" / "mash-kg.toml", "x = " + "[" * DEEP + "]" * DEEP + "\n")
    f["deep_toml_tables"] = _w(
        folder / "deep_tables" / "mash-kg.toml", "[" + ".".join(["a"] * 5000) + "]\nx = 1\n"
    )
    f["binary_toml"] = _w(folder / "binary" / "mash-kg.toml", b"\x00\xff\xfe" * 100)
    f["dir_toml"] = str((folder / "dir.toml").resolve())
    (folder / "dir.toml").mkdir(exist_ok=True)
    link = folder / "loop.csv"
    if not link.is_symlink():
        link.symlink_to(link)  # a link to itself: ELOOP
    f["loop"] = str(link)
    f["nul_csv"] = _w(folder / "nul.csv", "child,parent\nA\x00,B\n")
    f["deep_pheno_json"] = _w(
        folder / "deep_pheno.json", '{"ConceptSets": ' + "[" * DEEP + "]" * DEEP + "}"
    )
    builds = folder / "bad_builds"
    for name, (table, change) in BAD_BUILDS.items():
        edit = change if table is None else _edit_table(table, change)
        f[f"build_{name}"] = _reseal_with(b1, builds / name, f"bad-{name}", edit)
    return f


_FILE_CASES = {
    "fifo": "{fifo}",
    "dev_zero": "/dev/zero",
    "dev_null": "/dev/null",
    "dev_stdin": "/dev/stdin",
    "proc_self_mem": "/proc/self/mem",
    "symlink_loop": "{loop}",
}

CASES: list[tuple[str, list[str]]] = [
    *[(f"load_edges_{k}", [*_LOAD, v]) for k, v in _FILE_CASES.items()],
    *[(f"load_obo_{k}", ["load", "obo", "--file", v]) for k, v in _FILE_CASES.items()],
    *[(f"load_atc_{k}", ["load", "atc", "--file", v]) for k, v in _FILE_CASES.items()],
    *[(f"load_icd10cm_{k}", ["load", "icd10cm", "--file", v]) for k, v in _FILE_CASES.items()],
    *[(f"load_loinc_{k}", ["load", "loinc", "--file", v]) for k, v in _FILE_CASES.items()],
    *[(f"phenotype_{k}", ["phenotype", "import", v]) for k, v in _FILE_CASES.items()],
    *[(f"config_{k}", ["--config", v, "build"]) for k, v in _FILE_CASES.items()],
    ("config_deep_toml", ["--config", "{deep_toml}", "build"]),
    ("config_deep_toml_tables", ["--config", "{deep_toml_tables}", "build"]),
    ("config_binary_toml", ["--config", "{binary_toml}", "build"]),
    ("config_directory", ["--config", "{dir_toml}", "build"]),
    ("phenotype_deep_json", ["phenotype", "import", "{deep_json}"]),
    ("phenotype_deep_json_object", ["phenotype", "import", "{deep_json_obj}"]),
    ("phenotype_deep_concept_sets", ["phenotype", "import", "{deep_pheno_json}"]),
    ("load_edges_nul_byte", [*_LOAD, "{nul_csv}"]),
    *[(f"sync_{name}", ["sync", f"{{build_{name}}}"]) for name in BAD_BUILDS],
    *[(f"eval_{name}", ["eval", f"{{build_{name}}}"]) for name in BAD_BUILDS],
    ("export_over_dev_null", ["export", "/dev/null"]),
    ("export_into_proc_self", ["export", "/proc/self/fd/out"]),
]


def extend(cases: list, make_files):
    """bench/fault_cases.py's CASES and make_case_files with these cases and their files."""

    def make_all(folder: Path, b1: Path, *args, **kw) -> dict[str, str]:
        files = make_files(folder, b1, *args, **kw)
        return {**files, **make_safety_files(folder / "safety", b1)}

    return [*cases, *CASES], make_all
