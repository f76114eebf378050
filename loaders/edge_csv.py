"""Any hierarchy as a CSV of edges (UTF-8, header row): columns `child,parent` and optionally
`child_name`, `parent_name`. A code's name is taken from whichever row names it (it may be
named on any one row and left empty on the others; two different names are an error); a
code never named is named by its code. --vocab names the vocabulary: codes become
`VOCAB:child`, and a site whose codes table says vocab VOCAB shares these ids. A file with a
header and no rows is an error (a load never empties a vocabulary)."""

from __future__ import annotations

import re
from pathlib import Path

from mash_kg.errors import InputError
from mash_kg.loaders._common import read_rows, require_file, vocab_table
from mash_kg.tables import DOMAINS, OntologyTables, dedupe_edges, make_edges, make_nodes

VOCAB_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")


def load(
    files: list[Path] | None = None,
    vocab: str | None = None,
    version: str | None = None,
    domain: str = "other",
    **_: object,
) -> OntologyTables:
    path = require_file(files, "edges", "--file edges.csv (columns child,parent)")
    if not vocab or not VOCAB_RE.match(vocab.upper()):
        raise InputError(
            path, f"--vocab {vocab!r} must be a name like MYONTOLOGY (letters, digits, _)"
        )
    if domain not in DOMAINS:
        raise InputError(path, f"domain {domain!r} is not one of {DOMAINS}")
    vocab = vocab.upper()
    names: dict[str, str] = {}
    edges = []
    for n, row in read_rows(path, ["child", "parent"], verbatim=("child_name", "parent_name")):
        child, parent = row["child"], row["parent"]
        if child == parent:
            raise InputError(path, f"{child} is its own parent", row=n)
        for code, name in ((child, row.get("child_name")), (parent, row.get("parent_name"))):
            if name and names.get(code, code) not in (code, name):
                raise InputError(path, f"{code} is named both {names[code]!r} and {name!r}", row=n)
            if name or code not in names:
                names[code] = name or names.get(code, code)
        edges.append(
            {
                "start": f"{vocab}:{child}",
                "end": f"{vocab}:{parent}",
                "type": "IS_A",
                "vocab": vocab,
            }
        )
    if not edges:
        raise InputError(
            path, "no edges below the header: nothing to load", hint="one child,parent row per edge"
        )
    nodes = [
        {"id": f"{vocab}:{c}", "vocab": vocab, "code": c, "name": name, "domain": domain}
        for c, name in names.items()
    ]
    edges_df = dedupe_edges(make_edges(edges))
    return OntologyTables(
        source="edges",
        vocabularies=vocab_table([(vocab, version or path.name, str(path))]),
        nodes=make_nodes(nodes),
        edges=edges_df,
        edge_groups=[("IS_A", "vocab", vocab)],
        origin=str(path),
    )
