"""Stage I end to end on in-memory sites: vectors per code, alignment, counterparts.

Per site: co-occurrence matrix (from events in a window, or the given counts), small cells
dropped, SPPMI + truncated SVD -> the co-occurrence half; text vectors of the code names
projected (one PCA fitted on all sites, so the halves stay comparable) -> the text half;
the SPPMI-weighted mean text of each code's co-occurring codes -> the context block.
Alignment maps every site's features [text; co-occurrence; context] into the reference
site's, anchored on the standard codes both share and on crosswalks (a concept's other FHIR
codings, the graph's MAPS_TO, WHO ICD-10 -> ICD-10-CM by code); counterparts are the top-k
matches. The default, ``fused``, ranks them by the evidence (text, neighbour text, mapped
co-occurrence, transport) that held-out anchors validate (`mash_kg.fusion`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from mash_kg.align import align_sites, counterparts, procrustes
from mash_kg.cooccurrence import cooccurrence_matrix, counts_to_matrix, drop_small_cells
from mash_kg.features import FEATURE_WEIGHTS, neighbour_text
from mash_kg.fusion import Fusion, View, fuse
from mash_kg.sites import SiteData
from mash_kg.sppmi import sppmi, svd_embedding


@dataclass
class SiteVectors:
    """One site's Stage I result; rows follow `codes` (the site's codes table)."""

    codes: pd.DataFrame
    counts: sp.csr_matrix  # code x code co-occurrence after the small-cell rule
    text: np.ndarray  # (n, dim/2)
    cooc: np.ndarray  # (n, dim/2)
    context: np.ndarray  # (n, dim/2)
    raw_text: np.ndarray | None = None  # (n, model dim): the text model's own unit vectors

    @property
    def vector(self) -> np.ndarray:
        """The Stage I vector of MASH: [text ; co-occurrence], unit norm."""
        return _unit(np.concatenate([self.text, self.cooc], axis=1))

    def features(
        self, kind: str = "both", weights: tuple[float, ...] = FEATURE_WEIGHTS
    ) -> np.ndarray:
        """Alignment features: 'text', 'cooc' or 'both' = [w0 text; w1 co-occurrence;
        w2 context]. Co-occurrence of a small site is noisy: equal weights let it drown the
        text (synthea_sites p@1 0.89 vs 0.98 at the default weights)."""
        if kind == "text":
            return self.text
        if kind == "cooc":
            return self.cooc
        w = weights
        return np.concatenate([w[0] * self.text, w[1] * self.cooc, w[2] * self.context], axis=1)


def _unit(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, n, out=np.zeros_like(x, dtype=float), where=n > 0)


def site_counts(site: SiteData, window_days: int, min_cell_count: int) -> sp.csr_matrix:
    """The site's co-occurrence matrix in the row order of its codes table."""
    ids = list(site.codes["id"])
    if site.events is not None:
        m, _ = cooccurrence_matrix(site.events, window_days, codes=ids, origin=site.site)
    elif site.counts is not None:
        m, _ = counts_to_matrix(site.counts, codes=ids, origin=site.site)
    else:
        m = sp.csr_matrix((len(ids), len(ids)), dtype=np.int64)
    return drop_small_cells(m, min_cell_count)


def text_projection(text_by_site: list[np.ndarray], dim: int) -> Callable[[np.ndarray], np.ndarray]:
    """PCA fitted on the text vectors of all sites together, to `dim` dimensions."""
    allv = np.concatenate(text_by_site)
    mean = allv.mean(axis=0)
    _, _, vt = np.linalg.svd(allv - mean, full_matrices=False)
    basis = vt[: min(dim, vt.shape[0])].T

    def project(v: np.ndarray) -> np.ndarray:
        out = (v - mean) @ basis
        if out.shape[1] < dim:
            out = np.hstack([out, np.zeros((len(out), dim - out.shape[1]))])
        return _unit(out)

    return project


def site_vectors(
    sites: list[SiteData],
    text: list[np.ndarray],
    dim: int = 128,
    window_days: int = 30,
    min_cell_count: int = 0,
    sppmi_shift: float = 1.0,
    seed: int = 0,
) -> list[SiteVectors]:
    """Stage I vectors of every site (`text` = raw text vectors per site, row-aligned)."""
    half = dim // 2
    project = text_projection(text, half)
    out = []
    for site, raw in zip(sites, text, strict=True):
        counts = site_counts(site, window_days, min_cell_count)
        weights = sppmi(counts, sppmi_shift)
        t = project(raw)
        out.append(
            SiteVectors(
                # names in other languages were read by names.site_names; not build output
                codes=site.codes.drop(
                    columns=[c for c in site.codes.columns if c.startswith("name_")]
                ).reset_index(drop=True),
                counts=counts,
                text=t,
                cooc=svd_embedding(weights, half, seed=seed),
                context=neighbour_text(t, weights),
                raw_text=_unit(np.asarray(raw, dtype=float)),
            )
        )
    return out


# vocabulary pairs whose codes mean the same category: ICD-10-CM keeps WHO ICD-10's codes
SAME_CODE = {"ICD10": "ICD10CM", "ICD10CM": "ICD10"}
# crosswalk sources that name the same concept (two hops through them still do)
EQUIVALENT_SOURCES = {"fhir_coding"}


def anchor_pairs(
    source: pd.DataFrame,
    target: pd.DataFrame,
    vocabs: list[str] | None = None,
    crosswalk: pd.DataFrame | None = None,
) -> np.ndarray:
    """(source row, target row) pairs known to be one concept: the codes two sites share
    (same shared graph id, of `vocabs` when given), WHO ICD-10 and ICD-10-CM codes with the
    same code, and `crosswalk` edges (id, other_id[, source]) either way; two edges of an
    equivalence source (a concept's other FHIR codings) chain: local A = LOINC X = local B."""
    t_row = {c: i for i, c in enumerate(target["id"])}
    # a shared id (`VOCAB:code`, no site prefix) means the same at every site
    pairs = {
        (i, t_row[c])
        for i, (c, v) in enumerate(zip(source["id"], source["vocab"], strict=True))
        if c in t_row and "/" not in c.partition(":")[0] and (not vocabs or v in vocabs)
    }
    for i, (v, c) in enumerate(zip(source["vocab"], source["code"], strict=True)):
        if v in SAME_CODE and (j := t_row.get(f"{SAME_CODE[v]}:{c}")) is not None:
            pairs.add((i, j))
    if crosswalk is not None and len(crosswalk):
        src = crosswalk.get("source", pd.Series("", index=crosswalk.index)).astype(str)
        near: dict[str, set[tuple[str, bool]]] = {}
        for a, b, kind in zip(crosswalk["id"], crosswalk["other_id"], src, strict=True):
            eq = kind in EQUIVALENT_SOURCES
            near.setdefault(a, set()).add((b, eq))
            near.setdefault(b, set()).add((a, eq))
        for i, c in enumerate(source["id"]):
            for o, eq in near.get(c, ()):
                if o in t_row:
                    pairs.add((i, t_row[o]))
                if eq:
                    pairs.update(
                        (i, t_row[o2]) for o2, eq2 in near.get(o, ()) if eq2 and o2 in t_row
                    )
    return np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)


def fused_views(
    sv: SiteVectors,
    ref: SiteVectors,
    features: str,
    weights: tuple[float, ...],
    transport: str,
) -> dict[str, View]:
    """The evidence of fused alignment: the text model's cosine, the co-occurring codes' text
    (one space at every site), co-occurrence vectors mapped by Procrustes, and a transport
    map of the alignment features."""
    views = {
        "text": View(
            sv.raw_text if sv.raw_text is not None else sv.text,
            ref.raw_text if ref.raw_text is not None else ref.text,
        ),
        "context": View(sv.context, ref.context),
        "cooc": View(sv.cooc, ref.cooc, "procrustes"),
        "transport": View(
            sv.features(features, weights),
            ref.features(features, weights),
            transport,
            alignment=True,
        ),
    }
    # a view with no signal at either site (no co-occurrence given) only adds noise
    return {
        k: v
        for k, v in views.items()
        if k == "text" or (np.abs(v.source).sum() > 0 and np.abs(v.target).sum() > 0)
    }


def aligned_features(
    f: Fusion, source: np.ndarray, target: np.ndarray, anchors: np.ndarray
) -> np.ndarray:
    """A site's alignment features in the reference's feature space: the alignment view's map
    where fusion ranked with it, else an orthogonal map fitted on the anchors (the features
    as they are with fewer than two); always the reference's width."""
    if f.mapped is not None:
        return f.mapped
    s, t = _unit(source), _unit(target)
    if len(anchors) < 2:
        return s
    return s @ procrustes(s[anchors[:, 0]], t[anchors[:, 1]])


COUNTERPART_COLUMNS = [
    "site",
    "id",
    "other_site",
    "other_id",
    "rank",
    "score",
    "transport",
    "method",
    "evidence",
]


def align_to_reference(
    vectors: list[SiteVectors],
    reference: int,
    method: str = "fused",
    top_k: int = 5,
    anchor_vocabs: list[str] | None = None,
    features: str = "both",
    weights: tuple[float, ...] = FEATURE_WEIGHTS,
    crosswalk: pd.DataFrame | None = None,
    transport: str = "sinkhorn",
    min_anchors: int = 20,
    **opts: object,
) -> tuple[dict[str, np.ndarray], pd.DataFrame, dict[str, dict]]:
    """Aligned vectors per site (reference space), the counterparts table of every site
    against the reference (COUNTERPART_COLUMNS; `evidence` = what ranked the pair: 'text',
    'text+transport', ... or the map's name) and per site a report: anchors, the weights and
    held-out validation per domain, notes (`method` 'fused'; else one map alone)."""
    ref = vectors[reference]
    ref_site = str(ref.codes["site"].iloc[0])
    aligned = {ref_site: ref.features(features, weights)}
    rows, report = [], {}
    for k, sv in enumerate(vectors):
        if k == reference:
            continue
        site = str(sv.codes["site"].iloc[0])
        anchors = anchor_pairs(sv.codes, ref.codes, anchor_vocabs, crosswalk)
        src, tgt = sv.features(features, weights), ref.features(features, weights)
        if method == "fused":
            f = fuse(
                fused_views(sv, ref, features, weights, transport),
                anchors,
                domains=sv.codes["domain"].to_numpy(),
                k=top_k,
                min_anchors=min_anchors,
                **opts,
            )
            idx, score, prob, evidence = f.idx, f.score, f.transport, f.evidence
            aligned[site] = aligned_features(f, src, tgt, anchors)
            report[site] = {
                "anchors": len(anchors),
                "weights": f.weights,
                "validation": f.validation,
                "notes": f.notes,
                "seconds": round(f.seconds, 1),
            }
        else:
            al = align_sites(src, tgt, anchors, method, **opts)
            aligned[site] = al.mapped
            idx, score, prob = counterparts(al, tgt, k=top_k)
            evidence = np.full(len(idx), method)
            report[site] = {"anchors": len(anchors), "notes": [], "seconds": round(al.seconds, 1)}
        for rank in range(idx.shape[1]):
            rows.append(
                pd.DataFrame(
                    {
                        "site": site,
                        "id": sv.codes["id"].to_numpy(),
                        "other_site": ref_site,
                        "other_id": ref.codes["id"].to_numpy()[idx[:, rank]],
                        "rank": rank + 1,
                        "score": score[:, rank],
                        "transport": prob[:, rank],
                        "method": method,
                        "evidence": evidence,
                    }
                )
            )
    table = (
        pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=COUNTERPART_COLUMNS)
    )
    return aligned, table.sort_values(["site", "id", "rank"], ignore_index=True), report
