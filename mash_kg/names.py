"""Which of a site's names the text model reads (Stage I).

A site's codes table may carry names in several languages (``name``, ``name_de``,
``name_en``, ...; FHIR sites add ``name_coding``, the display of another coding of the same
concept, and ``name_text``, the concept's text). The build embeds, per code, the name that
identifies it: among the code's non-empty names, one that is not a placeholder (a name
`PLACEHOLDER_CODES` or more codes of the site carry, such as a source system's "uncoded disease
name" display), then one no other code of the site carries, then the column the model reads
best (the one its tokenizer splits into the fewest pieces per word: a model's vocabulary holds
whole words of the languages it was trained on and shreds the others). The figures count the
codes named from each source; a site where a share of the chosen names are one name warns.

The scripts a model was trained on are those with at least `MIN_SCRIPT_PIECES` word pieces
of two or more letters in its vocabulary; a site whose chosen names are mostly in other
scripts gets a warning with their share (all-MiniLM-L6-v2: Latin only).
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable

import pandas as pd

MIN_SCRIPT_PIECES = 100
WARN_SHARE = 0.5  # "mostly": more than half of the site's names
PLACEHOLDER_CODES = 5  # a name this many codes of a site carry names none of them
IDENTICAL_SHARE = 0.05  # warn when more than this share of a site's codes get one name


def script_of(text: str) -> str | None:
    """The script most of the letters of `text` are written in (LATIN, CYRILLIC, CJK, ...)."""
    counts = Counter(unicodedata.name(ch, "?").split()[0] for ch in text if ch.isalpha())
    return counts.most_common(1)[0][0] if counts else None


def model_scripts(vocabulary: Iterable[str]) -> set[str]:
    """Scripts with at least MIN_SCRIPT_PIECES multi-letter pieces in a tokenizer vocabulary."""
    counts: Counter[str] = Counter()
    for piece in vocabulary:
        letters = [ch for ch in piece if ch.isalpha()]
        if len(letters) >= 2 and (s := script_of(piece)) is not None:
            counts[s] += 1
    return {s for s, n in counts.items() if n >= MIN_SCRIPT_PIECES}


def pieces_per_word(tokenize, names: list[str]) -> float:
    """Mean word pieces per whitespace word over `names` (lower is better read)."""
    words = [w for n in names for w in n.split()]
    if not words:
        return float("inf")
    return sum(len(tokenize(w)) for w in words) / len(words)


def untrained_share(names: list[str], scripts: set[str]) -> float:
    """Share of names (with letters) whose main script is not among `scripts`."""
    found = [script_of(n) for n in names]
    found = [s for s in found if s is not None]
    return sum(s not in scripts for s in found) / len(found) if found else 0.0


def name_columns(codes: pd.DataFrame) -> list[str]:
    return ["name", *sorted(c for c in codes.columns if c.startswith("name_"))]


def _carriers(values: pd.Series) -> pd.Series:
    """Per row, how many rows of the column carry the same name (case and spaces aside; 0 for
    an empty name)."""
    key = values.astype(str).str.strip().str.casefold()
    counts = key.map(key[key != ""].value_counts()).fillna(0).astype(int)
    return counts.where(key != "", 0)


def choose_names(
    codes: pd.DataFrame, tokenize, scripts: set[str], sample: int = 2000
) -> tuple[list[str], dict]:
    """The name to embed of each of a site's codes, and figures: the column naming most codes,
    the codes named from each source (``placeholder``: only a shared name was there), the
    most carried names, pieces per word of every column, the share of chosen names in scripts
    the model was not trained on."""
    columns = name_columns(codes)
    fertility = {}
    for c in columns:
        filled = [n for n in codes[c].astype(str) if n.strip()]
        if filled:
            fertility[c] = round(pieces_per_word(tokenize, filled[:sample]), 3)
    order = sorted(fertility, key=lambda c: (fertility[c], c != "name")) or ["name"]
    carriers = {c: _carriers(codes[c]).to_numpy() for c in order}
    values = {c: codes[c].astype(str).to_numpy() for c in order}
    texts, sources = [], []
    for i in range(len(codes)):
        # the code's names: non-placeholder first, then carried by it alone, then best read
        ranked = sorted(
            (carriers[c][i] >= PLACEHOLDER_CODES, carriers[c][i] > 1, k, c)
            for k, c in enumerate(order)
            if carriers[c][i] > 0
        )
        if not ranked:
            texts.append(str(codes["name"].iloc[i]))
            sources.append("name")
            continue
        placeholder, _, _, c = ranked[0]
        texts.append(values[c][i])
        sources.append("placeholder" if placeholder else c)
    share = untrained_share(texts, scripts)
    named = Counter(sources)
    common = Counter(t.strip().casefold() for t in texts if t.strip()).most_common(1)
    shared = {
        str(v): int(n)
        for c in order
        for v, n in codes[c][carriers[c] >= PLACEHOLDER_CODES].value_counts().head(3).items()
    }
    return texts, {
        "name_column": max(order, key=lambda c: (named.get(c, 0), c == "name")),
        "name_sources": dict(sorted(named.items())),
        "placeholders": shared,
        "identical": {"name": common[0][0], "codes": common[0][1]} if common else None,
        "pieces_per_word": fertility,
        "untrained_script_share": round(share, 4),
    }


def identical_warning(site: str, figures: dict, n_codes: int) -> str | None:
    """The warning line when a share of a site's chosen names are one name."""
    same = figures.get("identical")
    if not same or same["codes"] < PLACEHOLDER_CODES or same["codes"] <= IDENTICAL_SHARE * n_codes:
        return None
    return (
        f"site {site}: {same['codes']} of {n_codes} codes "
        f"({same['codes'] / max(n_codes, 1):.0%}) are named {same['name']!r}: their text "
        "cannot tell them apart; give each code its own name (a display of one of its "
        "codings, a name or name_<lang> column)"
    )


def table_names(codes: pd.DataFrame, texts: list[str]) -> list[str]:
    """The codes table's names: each code's own name, unless it is empty or a placeholder
    (then the name it was embedded by)."""
    own = codes["name"].astype(str)
    weak = _carriers(own).to_numpy()
    return [
        t if w == 0 or w >= PLACEHOLDER_CODES else o
        for o, t, w in zip(own, texts, weak, strict=True)
    ]


def script_warning(site: str, figures: dict, model: str, scripts: set[str]) -> str | None:
    """The warning line when most of a site's names are in scripts the model does not read."""
    share = figures["untrained_script_share"]
    if share <= WARN_SHARE:
        return None
    return (
        f"site {site}: {share:.0%} of the names ({figures['name_column']}) are in a script "
        f"the text model {model} was not trained on (it reads {', '.join(sorted(scripts))}): "
        "give names in a language it reads (a name_<lang> column) or a multilingual model "
        "folder as [model] text_model"
    )


def model_reading(model_path: object) -> tuple[object, set[str]]:
    """The tokenizer's `tokenize` of a local model folder and the scripts it was trained on."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
    return tok.tokenize, model_scripts(tok.get_vocab())


def site_names(
    codes: list[pd.DataFrame], model_path: object, model: str
) -> tuple[list[list[str]], list[dict], list[str]]:
    """Per site: the names to embed, their figures (`choose_names`), and warnings."""
    tokenize, scripts = model_reading(model_path)
    texts, figures, warnings = [], [], []
    for table in codes:
        t, fig = choose_names(table, tokenize, scripts)
        texts.append(t)
        figures.append(fig)
        site = str(table["site"].iloc[0]) if len(table) else "?"
        if (w := script_warning(site, fig, model, scripts)) is not None:
            warnings.append(w)
        if (w := identical_warning(site, fig, len(table))) is not None:
            warnings.append(w)
    return texts, figures, warnings
