"""Stage I end to end on in-memory sites: vectors per code, alignment, counterparts.

Per site: co-occurrence matrix (from events in a window, or the given counts), small cells
dropped, SPPMI + truncated SVD -> the co-occurrence half; text vectors of the code names
projected (one PCA fitted on all sites, so the halves stay comparable) -> the text half;
the SPPMI-weighted mean text of each code's co-occurring codes -> the context block.
Alignment maps every site's features [text; co-occurrence; context] into the reference
site's, anchored on the standard codes both share; counterparts are the top-k matches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from mash_kg.align import align_sites, counterparts
from mash_kg.cooccurrence import cooccurrence_matrix, counts_to_matrix, drop_small_cells
from mash_kg.features import FEATURE_WEIGHTS, neighbour_text
from mash_kg.sites import STANDARD_VOCABS, SiteData
from mash_kg.sppmi import sppmi, svd_embedding


@dataclass
class SiteVectors:
    """One site's Stage I result; rows follow `codes` (the site's codes table)."""

    codes: pd.DataFrame
    counts: sp.csr_matrix  # code x code co-occurrence after the small-cell rule
    text: np.ndarray  # (n, dim/2)
    cooc: np.ndarray  # (n, dim/2)
    context: np.ndarray  # (n, dim/2)

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
    sites: list[SiteData], text: list[np.ndarray], dim: int = 128, window_days: int = 30,
    min_cell_count: int = 0, sppmi_shift: float = 1.0, seed: int = 0,
) -> list[SiteVectors]:  # fmt: skip
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
                codes=site.codes.reset_index(drop=True),
                counts=counts,
                text=t,
                cooc=svd_embedding(weights, half, seed=seed),
                context=neighbour_text(t, weights),
            )  # fmt: skip
        )
    return out


def anchor_pairs(
    source: pd.DataFrame, target: pd.DataFrame, vocabs: list[str] | None = None
) -> np.ndarray:
    """(source row, target row) of the standard codes two sites share (same graph id)."""
    allowed = set(vocabs) if vocabs else STANDARD_VOCABS
    t_row = {c: i for i, c in enumerate(target["id"])}
    pairs = [(i, t_row[c]) for i, (c, v) in enumerate(zip(source["id"], source["vocab"],
             strict=True)) if v in allowed and c in t_row]  # fmt: skip
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def align_to_reference(
    vectors: list[SiteVectors], reference: int, method: str, top_k: int = 5,
    anchor_vocabs: list[str] | None = None, features: str = "both",
    weights: tuple[float, ...] = FEATURE_WEIGHTS, **opts: object,
) -> tuple[dict[str, np.ndarray], pd.DataFrame]:  # fmt: skip
    """Aligned vectors per site (reference space) and the counterparts table of every site
    against the reference: site, id, other_site, other_id, rank, score, transport, method."""
    ref = vectors[reference]
    ref_site = str(ref.codes["site"].iloc[0])
    aligned = {ref_site: ref.features(features, weights)}
    rows = []
    for k, sv in enumerate(vectors):
        if k == reference:
            continue
        site = str(sv.codes["site"].iloc[0])
        anchors = anchor_pairs(sv.codes, ref.codes, anchor_vocabs)
        src, tgt = sv.features(features, weights), ref.features(features, weights)
        al = align_sites(src, tgt, anchors, method, **opts)
        aligned[site] = al.mapped
        idx, score, prob = counterparts(al, tgt, k=top_k)
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
                    }
                )  # fmt: skip
            )
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["site", "id", "other_site", "other_id", "rank", "score", "transport", "method"]
    )  # fmt: skip
    return aligned, table.sort_values(["site", "id", "rank"], ignore_index=True)
