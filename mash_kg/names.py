"""Which of a site's names the text model reads (Stage I).

A site's codes table may carry names in several languages (``name``, ``name_de``,
``name_en``, ...; FHIR sites add ``name_coding``, the display of another coding of the same
concept, and ``name_text``, the concept's text). The build embeds, per site, the column the
model reads best: the one its tokenizer splits into the fewest pieces per word (a model's
vocabulary holds whole words of the languages it was trained on and shreds the others),
falling back to ``name`` where that column is empty.

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


def choose_names(
    codes: pd.DataFrame, tokenize, scripts: set[str], sample: int = 2000
) -> tuple[list[str], dict]:
    """The names to embed for a site's codes, and figures: the column chosen, pieces per word
    of every column, the share of chosen names in scripts the model was not trained on."""
    columns = name_columns(codes)
    fertility = {}
    for c in columns:
        filled = [n for n in codes[c].astype(str) if n.strip()]
        if filled:
            fertility[c] = round(pieces_per_word(tokenize, filled[:sample]), 3)
    best = min(fertility, key=lambda c: (fertility[c], c != "name")) if fertility else "name"
    chosen = codes[best].astype(str) if best != "name" else codes["name"].astype(str)
    texts = [b if b.strip() else n for b, n in zip(chosen, codes["name"].astype(str), strict=True)]
    share = untrained_share(texts, scripts)
    return texts, {
        "name_column": best,
        "pieces_per_word": fertility,
        "untrained_script_share": round(share, 4),
    }


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
    return texts, figures, warnings
