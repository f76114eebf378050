"""What a build folder adds to the review of an edge: how often each code occurs, the other
candidates of a code with every score column the build wrote (per-source evidence where the
build has it), and its cross-site counterparts. Read once per build and kept."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mash_kg.artefact import Build
from mash_kg.errors import MashError

# columns shown as the candidate itself, not as evidence
_OWN = {"id", "candidate", "rank"}
_COUNTERPART_OWN = {"site", "id", "other_site", "other_id", "rank"}


@dataclass
class BuildEvidence:
    """The tables of one build the review page reads (empty frames when it lacks them)."""

    id: str
    frequency: dict[str, int]  # code id -> occurrences summed over sites
    candidates: pd.DataFrame  # indexed by code id
    counterparts: pd.DataFrame
    points: dict[str, np.ndarray]  # id -> point of the build's space
    note: str = ""  # why something is missing

    def candidates_of(self, code: str) -> tuple[list[str], list[dict]]:
        """(evidence columns, rows) of `code`'s candidates, best first."""
        return _rows(self.candidates, code, "id", _OWN)

    def counterparts_of(self, code: str) -> tuple[list[str], list[dict]]:
        return _rows(self.counterparts, code, "id", _COUNTERPART_OWN)


def _rows(table: pd.DataFrame, code: str, key: str, own: set[str]) -> tuple[list[str], list[dict]]:
    if not len(table) or key not in table:
        return [], []
    rows = table[table[key] == code].sort_values("rank", kind="stable")
    extra = [c for c in rows.columns if c not in own]
    return extra, rows.to_dict("records")


def _empty(build_id: str, note: str) -> BuildEvidence:
    return BuildEvidence(build_id, {}, pd.DataFrame(), pd.DataFrame(), {}, note)


@functools.lru_cache(maxsize=4)
def build_evidence(builds: Path | None, build_id: str | None) -> BuildEvidence:
    """The evidence of build `build_id` from its folder under `builds`; a folder that is not
    there (or not readable) gives empty tables and a note saying so."""
    if not build_id:
        return _empty("", "the graph has no current build")
    if builds is None:
        return _empty(build_id, "no builds folder given (mash-kg review serve --builds DIR)")
    folder = Path(builds) / build_id
    if not (folder / "manifest.json").is_file():
        return _empty(build_id, f"the folder of build {build_id} is not under {builds}")
    try:
        build = Build.open(folder, verify=False)
        codes = build.frame("codes", ["id", "frequency"])
        cands = build.frame("candidates") if build.has("candidates") else pd.DataFrame()
        counter = build.frame("counterparts") if build.has("counterparts") else pd.DataFrame()
        points = {}
        if build.has("poincare"):
            pts = build.frame("poincare", ["id", "point"])
            pairs = zip(pts["id"], pts["point"], strict=True)
            points = {i: np.asarray(p, dtype=float) for i, p in pairs}
    except MashError as exc:
        return _empty(build_id, str(exc))
    freq = pd.to_numeric(codes["frequency"], errors="coerce").fillna(0).groupby(codes["id"]).sum()
    return BuildEvidence(build_id, {k: int(v) for k, v in freq.items()}, cands, counter, points, "")
