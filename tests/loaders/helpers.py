"""Walking a loader's IS_A edges, for the loader tests."""

from __future__ import annotations


def parents(tables) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for s, e, t in zip(
        tables.edges["start"], tables.edges["end"], tables.edges["type"], strict=True
    ):
        if t == "IS_A":
            out.setdefault(s, []).append(e)
    return out


def chain(tables, code: str) -> list[str]:
    p = parents(tables)
    out = []
    while code in p:
        code = p[code][0]
        out.append(code)
    return out
