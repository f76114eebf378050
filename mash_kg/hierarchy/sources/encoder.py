"""Source `encoder`: the hierarchy encoder's (the text model fine-tuned on the curated
edges, [encoder] enabled) cosine of the code and the candidate's family. Only when the
encoder was trained."""

from __future__ import annotations

from mash_kg.hierarchy.sources.base import Evidence
from mash_kg.hierarchy.sources.family import FamilyScorer


def prepare(ev: Evidence) -> FamilyScorer | None:
    sp = ev.space
    if sp.base_text is None or sp.text is sp.base_text or len(sp.encoder_training) == 0:
        return None
    return FamilyScorer(ev, "text")
