"""Stage III, latent groups: named clusters of the codes left without a parent.

Codes with no parent at the threshold are clustered per domain by average linkage on the
encoder's cosine distances, cut at `latent_cut` x the median distance; each cluster of two or
more becomes a ``:Latent`` node, which gets a parent like a code does (placement.best_parent).
Its id is a hash of its sorted member ids (a rebuild with the same members gives the same
node, so sync is incremental) and its name is built from the words most of its members share.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from mash_kg.settings import HierarchySettings

STOPWORDS = frozenset(
    "a an and or of the in on at to for with without by from as per other unspecified "
    "specified nos not mass volume moles ratio count presence disorder finding situation "
    "procedure regime therapy observable entity event".split()
)
WORD = re.compile(r"[a-z][a-z0-9\-]{2,}")


@dataclass
class LatentGroup:
    id: str  # latent_id(members)
    members: list[str]  # sorted code ids
    domain: str | None
    size: int
    centre: np.ndarray  # unit mean of the members' encoder vectors
    name: str  # latent_name(member names)


def latent_name(names: list[str]) -> str:
    """Readable, deterministic: the words most members share, in the order they first appear
    (members sorted by name), e.g. 'Blood pressure group (2 codes)'."""
    names = sorted(names)
    seen: Counter[str] = Counter()
    first: dict[str, int] = {}
    for name in names:
        words = [w for w in WORD.findall(name.lower()) if w not in STOPWORDS]
        for pos, w in enumerate(dict.fromkeys(words)):
            seen[w] += 1
            first.setdefault(w, len(first) * 100 + pos)
    need = max(2, (len(names) + 1) // 2)
    shared = [w for w, k in seen.items() if k >= need]
    if not shared:  # nothing most members share: the commonest words, ties by first use
        shared = [w for w, _ in sorted(seen.items(), key=lambda wk: (-wk[1], first[wk[0]]))][:2]
    words = sorted(shared, key=lambda w: (-seen[w], first[w]))[:3]
    words = sorted(words, key=lambda w: first[w])
    label = " ".join(words).capitalize() if words else "Unnamed"
    return f"{label} group ({len(names)} codes)"


def latent_id(members: list[str]) -> str:
    return "LATENT:" + hashlib.sha1("|".join(sorted(members)).encode()).hexdigest()[:12]


def clusters(vectors: np.ndarray, cut: float) -> np.ndarray:
    """Cluster labels of rows of unit `vectors`: average linkage on cosine distances, cut at
    `cut` x their median."""
    v = vectors.astype(np.float64)
    d = np.clip(1 - v @ v.T, 0, 2)
    np.fill_diagonal(d, 0.0)
    condensed = squareform((d + d.T) / 2, checks=False)
    return fcluster(
        linkage(condensed, method="average"),
        t=cut * float(np.median(condensed)),
        criterion="distance",
    )


def latent_groups(
    unplaced: list[str],
    text: np.ndarray,
    names: list[str],
    row: dict[str, int],
    domain: np.ndarray,
    s: HierarchySettings,
) -> list[LatentGroup]:
    """Clusters of two or more unplaced codes per domain (rows of `text`, `names` and
    `domain` follow the space's nodes)."""
    groups = []
    for dom in sorted(set(domain[[row[x] for x in unplaced]])) if unplaced else []:
        ids = sorted(x for x in unplaced if domain[row[x]] == dom)
        if len(ids) < 2:
            continue
        labels = clusters(text[[row[x] for x in ids]], s.latent_cut)
        for lab in sorted(set(labels)):
            members = [ids[i] for i in np.flatnonzero(labels == lab)]
            if len(members) < 2:
                continue
            centre = text[[row[x] for x in members]].astype(np.float64).mean(axis=0)
            centre /= max(np.linalg.norm(centre), 1e-12)
            name = latent_name([names[row[x]] for x in members])
            groups.append(
                LatentGroup(latent_id(members), members, dom or None, len(members), centre, name)
            )
    return groups


def member_edges(g: LatentGroup, text: np.ndarray, row: dict[str, int]) -> list[tuple]:
    """(member, group, score, 1, 'Latent') rows; a member's score: its cosine to the group's
    centre, clipped to [0, 1]."""
    sims = text[[row[x] for x in g.members]].astype(np.float64) @ g.centre
    return [
        (m, g.id, float(np.clip(v, 0, 1)), 1, "Latent")
        for m, v in zip(g.members, sims, strict=True)
    ]
