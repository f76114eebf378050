"""RxNorm from the user's RRF release (rrf/RXNCONSO.RRF and rrf/RXNREL.RRF).

Expected: an RxNorm Full Monthly Release from NLM (RxNorm_full_MMDDYYYY.zip, needs a UMLS
licence; not in any registry), unpacked; `--file` names its folder (or its rrf/ folder). The
release recorded is --version, else the release folder's name (RxNorm_full_MMDDYYYY).

Kept: RxNorm's own atoms (SAB=RXNORM, not suppressed) of ingredients (IN, PIN, MIN), clinical
drug components and forms (SCDC, SCDF), clinical and branded drugs (SCD, SBD) and brand names
(BN). One node per RXCUI, named by its preferred term; synonyms (SY, TMSY, PSN) kept.
IS_A edges come from RXNREL, oriented by term type so that a drug points at what it is made
of: SCD->SCDC, SCD->SCDF, SCDC->IN, SCDF->IN, SBD->SCD, PIN->IN, MIN->IN.
"""

from __future__ import annotations

from pathlib import Path

from mash_kg.errors import InputError
from mash_kg.loaders._common import read_rows, vocab_table
from mash_kg.tables import OntologyTables, dedupe_edges, make_edges, make_nodes

VOCAB = "RXNORM"
CONSO = [
    "RXCUI",
    "LAT",
    "TS",
    "LUI",
    "STT",
    "SUI",
    "ISPREF",
    "RXAUI",
    "SAUI",
    "SCUI",
    "SDUI",
    "SAB",
    "TTY",
    "CODE",
    "STR",
    "SRL",
    "SUPPRESS",
    "CVF",
]
REL = [
    "RXCUI1",
    "RXAUI1",
    "STYPE1",
    "REL",
    "RXCUI2",
    "RXAUI2",
    "STYPE2",
    "RELA",
    "RUI",
    "SRUI",
    "SAB",
    "SL",
    "DIR",
    "RG",
    "SUPPRESS",
    "CVF",
]
CONCEPT_TTYS = ("IN", "PIN", "MIN", "SCDC", "SCDF", "SCD", "SBD", "BN")
SYNONYM_TTYS = ("SY", "TMSY", "PSN")
CHILD_PARENT = {
    ("SCD", "SCDC"),
    ("SCD", "SCDF"),
    ("SCDC", "IN"),
    ("SCDF", "IN"),
    ("SBD", "SCD"),
    ("PIN", "IN"),
    ("MIN", "IN"),
}
RELAS = {
    "consists_of",
    "constitutes",
    "isa",
    "inverse_isa",
    "has_ingredient",
    "ingredient_of",
    "tradename_of",
    "has_tradename",
    "form_of",
    "has_form",
    "has_part",
    "part_of",
}


def _find(files: list[Path], name: str) -> Path:
    for f in files:
        f = Path(f)
        for cand in (f, f / name, f / "rrf" / name):
            if cand.is_file() and cand.name.upper() == name:
                return cand
    raise InputError(
        name,
        "file not found",
        hint="--file RXNORM_RELEASE_FOLDER (with rrf/RXNCONSO.RRF, rrf/RXNREL.RRF)",
    )


def load(
    files: list[Path] | None = None, version: str | None = None, **_: object
) -> OntologyTables:
    if not files:
        raise InputError(
            "rxnorm",
            "RxNorm needs the user's release",
            hint="--file FOLDER holding rrf/RXNCONSO.RRF and rrf/RXNREL.RRF",
        )
    conso, rel = _find(files, "RXNCONSO.RRF"), _find(files, "RXNREL.RRF")
    tty: dict[str, str] = {}
    names: dict[str, str] = {}
    synonyms: dict[str, list[str]] = {}
    for n, row in read_rows(
        conso, ["RXCUI", "SAB", "TTY", "STR"], delimiter="|", header=CONSO, verbatim=("STR",)
    ):
        if not row["RXCUI"].isdigit():
            raise InputError(conso, f"RXCUI {row['RXCUI']!r} is not a number", row=n)
        if row["SAB"] != "RXNORM" or row["SUPPRESS"] not in ("", "N"):
            continue
        cui, t = row["RXCUI"], row["TTY"]
        if t in CONCEPT_TTYS and cui not in tty:
            tty[cui], names[cui] = t, row["STR"]
        elif t in SYNONYM_TTYS:
            synonyms.setdefault(cui, []).append(row["STR"])
    if not tty:
        raise InputError(conso, "no RxNorm concepts (SAB=RXNORM, TTY IN/SCD/...) found")
    edges = []
    for _n, row in read_rows(rel, ["RXCUI1", "RXCUI2", "RELA", "SAB"], delimiter="|", header=REL):
        if row["SAB"] != "RXNORM" or row["RELA"] not in RELAS:
            continue
        a, b = row["RXCUI1"], row["RXCUI2"]
        if a not in tty or b not in tty:
            continue
        if (tty[a], tty[b]) in CHILD_PARENT:
            child, parent = a, b
        elif (tty[b], tty[a]) in CHILD_PARENT:
            child, parent = b, a
        else:
            continue
        edges.append(
            {
                "start": f"{VOCAB}:{child}",
                "end": f"{VOCAB}:{parent}",
                "type": "IS_A",
                "vocab": VOCAB,
                "rela": row["RELA"],
            }
        )
    edges_df = dedupe_edges(make_edges(edges))
    nodes = [
        {
            "id": f"{VOCAB}:{cui}",
            "vocab": VOCAB,
            "code": cui,
            "name": names[cui],
            "domain": "medication",
            "tty": t,
            "synonyms": sorted(set(synonyms.get(cui, [])) - {names[cui]}),
        }
        for cui, t in tty.items()
    ]
    return OntologyTables(
        source="rxnorm",
        vocabularies=vocab_table([(VOCAB, version or conso.parent.parent.name, "NLM RxNorm")]),
        nodes=make_nodes(nodes),
        edges=edges_df,
        edge_groups=[("IS_A", "vocab", VOCAB)],
        origin=str(conso),
    )
