"""Any ontology in OBO 1.4 format: [Term] stanzas with id, name, synonym, is_a, is_obsolete.

Lines end at \n only: a U+2028 (line separator), U+0085 or other control character inside a
value is an error naming the line, never a line break; a name is kept as published (only the
space after `name:` is the separator).

The vocabulary is the ids' prefix: terms whose prefix is the ontology's own (the most common
prefix in the file, or the one `--vocab` names) become
`:Code {id: 'HP:0000118', vocab: 'HP', code: '0000118'}`, so a site that codes in it writes
vocab `HP` (or maps its own name to it in mash-kg.toml). A `--vocab` that no id carries is an
error naming the prefixes the file has. Obsolete terms are left out (a reload then retires
them). is_a lines become IS_A edges; is_a to terms of another ontology is kept only if that
term is already in the graph.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from pathlib import Path

from mash_kg.errors import InputError
from mash_kg.loaders._common import require_file, vocab_table
from mash_kg.tables import DOMAINS, OntologyTables, make_edges, make_nodes

SYNONYM = re.compile(r'^"((?:[^"\\]|\\.)*)"')


def _check_one_line(path: Path, row: int, tag: str, value: str) -> None:
    """A value with a line or paragraph separator or a control character (U+2028, U+0085,
    ESC, ...) is an error: an OBO value is one line of text, and such a character splits it
    for other readers or reaches a terminal raw."""
    for col, char in enumerate(value, start=1):
        if unicodedata.category(char) in ("Cc", "Zl", "Zp") and char != "\t":
            raise InputError(
                path,
                f"{tag} has the character U+{ord(char):04X} "
                f"({unicodedata.name(char, 'a control character')}) at column {col}",
                row=row,
                hint="an OBO value is one line of text: remove the character",
            )


def parse_obo(path: Path) -> tuple[dict[str, str], list[dict]]:
    """(header tags, term stanzas with their 1-based starting line)."""
    header: dict[str, str] = {}
    terms: list[dict] = []
    current: dict | None = None
    in_header, stanza = True, None
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text ({exc.reason})") from None
    # lines end at \n (and \r\n) only: str.splitlines would also split at U+2028, U+0085,
    # form feeds ..., turning the rest of a name into a line of its own (data into structure)
    lines = [raw.removesuffix("\r") for raw in text.split("\n")]
    for n, raw in enumerate(lines, start=1):
        line = (
            raw.split(" !")[0].strip()
            if not raw.startswith(("name:", "def:", "synonym:"))
            else raw.strip()
        )
        if not line or line.startswith("!"):
            continue
        if line.startswith("[") and line.endswith("]"):
            in_header, stanza = False, line
            current = {"line": n, "is_a": [], "synonyms": []} if line == "[Term]" else None
            if current is not None:
                terms.append(current)
            continue
        if ":" not in line:
            raise InputError(path, f"expected 'tag: value', found {line[:40]!r}", row=n)
        tag, value = (s.strip() for s in line.split(":", 1))
        if tag == "name" and raw.startswith("name:"):
            value = raw[len("name:") :].removeprefix(" ")  # the name as published
        _check_one_line(path, n, tag, value)
        if in_header:
            header.setdefault(tag, value)
        elif current is not None:
            if tag == "is_a":
                if not value.split():
                    raise InputError(
                        path, "is_a without a parent id", row=n, hint="write is_a: PREFIX:code"
                    )
                current["is_a"].append(value.split()[0])
            elif tag == "synonym":
                m = SYNONYM.match(value)
                if not m:
                    raise InputError(path, "synonym without a quoted text", row=n)
                current["synonyms"].append(m.group(1).replace('\\"', '"'))
            elif tag in ("id", "name", "is_obsolete"):
                if tag in current:
                    raise InputError(
                        path,
                        f"second {tag!r} in the [Term] starting at line {current['line']}",
                        row=n,
                    )
                current[tag] = value
    _ = stanza
    return header, terms


def load(
    files: list[Path] | None = None,
    vocab: str | None = None,
    version: str | None = None,
    domain: str = "other",
    **_: object,
) -> OntologyTables:
    path = require_file(files, "obo", "--file ontology.obo")
    if domain not in DOMAINS:
        raise InputError(path, f"domain {domain!r} is not one of {DOMAINS}")
    header, terms = parse_obo(path)
    for t in terms:
        if "id" not in t:
            raise InputError(path, "[Term] without an id", row=t["line"])
        if ":" not in t["id"]:
            raise InputError(path, f"term id {t['id']!r} has no PREFIX:", row=t["line"])
    if not terms:
        raise InputError(path, "no [Term] stanzas found: is this an OBO file?")
    prefixes = Counter(t["id"].split(":", 1)[0].upper() for t in terms)
    found = ", ".join(f"{p} ({n} terms)" for p, n in prefixes.most_common(5))
    vocab = (vocab or prefixes.most_common(1)[0][0]).upper()
    if vocab not in prefixes:
        raise InputError(
            path,
            f"--vocab {vocab}: no term id has the prefix {vocab}; the file has {found}",
            hint="leave --vocab out to take the most common prefix, or name one of these",
        )
    if all(t.get("is_obsolete") == "true" for t in terms if t["id"].split(":")[0].upper() == vocab):
        raise InputError(path, f"every {vocab} term is obsolete: nothing to load")
    nodes, edges = [], []
    for t in terms:
        prefix, code = t["id"].split(":", 1)
        if prefix.upper() != vocab or t.get("is_obsolete") == "true":
            continue
        if not t.get("name"):
            raise InputError(path, f"{t['id']} has no name", row=t["line"])
        node_id = f"{vocab}:{code}"
        nodes.append(
            {
                "id": node_id,
                "vocab": vocab,
                "code": code,
                "name": t["name"],
                "domain": domain,
                "synonyms": t["synonyms"],
            }
        )
        for parent in dict.fromkeys(t["is_a"]):
            p_prefix, p_code = parent.split(":", 1) if ":" in parent else (vocab, parent)
            p_vocab = p_prefix.upper()
            edges.append(
                {"start": node_id, "end": f"{p_vocab}:{p_code}", "type": "IS_A", "vocab": vocab}
            )
    version = version or header.get("data-version") or header.get("date") or path.name
    return OntologyTables(
        source="obo",
        vocabularies=vocab_table([(vocab, version, header.get("ontology", path.name))]),
        nodes=make_nodes(nodes),
        edges=make_edges(edges),
        edge_groups=[("IS_A", "vocab", vocab)],
        origin=str(path),
    )
