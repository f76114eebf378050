"""Evidence sources of Stage III's parent scores, one module each behind one interface
(`base.Evidence` -> `prepare` -> a `base.Scorer`), registered by name: a new source is one
file plus one entry here and in `settings.SOURCE_NAMES`."""

from __future__ import annotations

from collections.abc import Callable

from mash_kg.hierarchy.sources import (
    counterparts,
    encoder,
    family,
    gnn,
    members,
    name,
    spelling,
)
from mash_kg.hierarchy.sources.base import Evidence, Query, Scorer
from mash_kg.settings import SOURCE_NAMES

SOURCES: dict[str, Callable[[Evidence], Scorer | None]] = {
    "name": name.prepare,
    "family": family.prepare,
    "spelling": spelling.prepare,
    "encoder": encoder.prepare,
    "gnn": gnn.prepare,
    "counterparts": counterparts.prepare,
    "members": members.prepare_text,
    "member_spelling": members.prepare_spelling,
}
assert tuple(SOURCES) == SOURCE_NAMES


def prepare_sources(ev: Evidence, wanted: list[str] | None = None) -> dict[str, Scorer]:
    """The scorers of the `wanted` sources (default: all) that the build has evidence for."""
    out = {}
    for nm in wanted or list(SOURCES):
        scorer = SOURCES[nm](ev)
        if scorer is not None:
            out[nm] = scorer
    return out


__all__ = ["SOURCES", "Evidence", "Query", "Scorer", "prepare_sources"]
