"""ICD-10-CM (CMS tabular list) from the `simple-icd-10-cm` package, or a release given as files.

Every item becomes a `:Code {vocab:'ICD10CM'}`: the 22 chapters (code '1'..'22', as the tabular
XML numbers them), blocks ('E08-E13'), categories, subcategories; inclusion terms become
synonyms and Excludes1 notes are kept as `excludes1`. Where a block has the same name as the
category it holds (C7A, D3A, ...), the block takes the CMS section id form 'C7A-C7A'.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from mash_kg.errors import InputError
from mash_kg.loaders._common import package_version, vocab_table
from mash_kg.tables import OntologyTables, make_edges, make_nodes

VOCAB = "ICD10CM"


def _kind(cm, code: str, is_block: bool) -> str:
    if is_block:
        return "block"
    if cm.is_chapter(code):
        return "chapter"
    if cm.is_category(code):  # checked before is_block: C7A is both, as_block tells which
        return "category"
    if cm.is_block(code):
        return "block"
    return "subcategory"


def load(files: list[Path] | None = None, **_: object) -> OntologyTables:
    """`files`: optionally a newer CMS release: its tabular XML and its code list (.txt)."""
    import simple_icd_10_cm as cm

    version = package_version("simple-icd-10-cm")
    origin = "simple-icd-10-cm"
    if files:
        xml = [f for f in files if str(f).lower().endswith(".xml")]
        txt = [f for f in files if not str(f).lower().endswith(".xml")]
        if len(xml) != 1 or len(txt) != 1:
            raise InputError(
                ", ".join(map(str, files)),
                "an ICD-10-CM release needs two files",
                hint="--file icd10cm_tabular_YYYY.xml --file code-list.txt",
            )
        for f in files:
            if not Path(f).exists():
                raise InputError(f, "file not found")
        try:
            cm.change_version(str(txt[0]), str(xml[0]), suppress_warnings=True)
        except Exception as exc:  # the library raises ParseError, IndexError, ... on bad XML
            cm.change_version()
            raise InputError(xml[0], f"not a readable ICD-10-CM tabular release ({exc})") from None
        version, origin = f"release {Path(xml[0]).name}", str(xml[0])
    try:
        codes = cm.get_all_codes(True)
        twice = {c for c, n in Counter(codes).items() if n > 1}
        seen: set[str] = set()
        nodes, edges = [], []
        for code in codes:
            as_block = code in twice and code not in seen  # the block comes before its category
            seen.add(code)
            node_id = f"{VOCAB}:{code}-{code}" if as_block else f"{VOCAB}:{code}"
            parent = cm.get_parent(code, prioritize_blocks=as_block)
            if parent:
                parent_id = (
                    f"{VOCAB}:{parent}-{parent}"
                    if parent == code and parent in twice
                    else f"{VOCAB}:{parent}"
                )
                edges.append({"start": node_id, "end": parent_id, "type": "IS_A", "vocab": VOCAB})
            nodes.append(
                {
                    "id": node_id,
                    "vocab": VOCAB,
                    "code": node_id.split(":", 1)[1],
                    "name": cm.get_description(code, prioritize_blocks=as_block),
                    "domain": "diagnosis",
                    "synonyms": cm.get_inclusion_term(code, prioritize_blocks=as_block),
                    "kind": _kind(cm, code, as_block),
                    "excludes1": cm.get_excludes1(code, prioritize_blocks=as_block),
                }
            )
    finally:
        if files:
            cm.change_version()  # the package's bundled release is the process default again
    return OntologyTables(
        source="icd10cm",
        vocabularies=vocab_table([(VOCAB, version, "CMS ICD-10-CM tabular list")]),
        nodes=make_nodes(nodes),
        edges=make_edges(edges),
        edge_groups=[("IS_A", "vocab", VOCAB)],
        origin=origin,
    )
