"""Alignment of one site's embedding space onto a reference site's (Stage I).

One interface, `align_sites(source, target, anchors, method)`, several methods:

- ``procrustes``: the orthogonal map W minimising ||X_anchor W - Y_anchor|| (MUGS' choice).
- ``sinkhorn``: entropic optimal transport (POT) between the two clouds after the Procrustes
  map, anchors pinned to their counterparts; codes are matched through the plan.
- ``fused_gw``: fused Gromov-Wasserstein (POT) on a sample of each site (feature cost plus
  the sites' own similarity structure), its matches fitted by an orthogonal map for all codes.
- ``neural_ot``: a learned map T = linear (from Procrustes) + residual MLP, trained on the
  anchors (contrastive) and on a minibatch entropic transport cost between T(source) and the
  target, then matched through the transport plan of the mapped clouds (anchors pinned).

`counterparts` turns an alignment into the top-k target codes of every source code, scored
by CSLS (and by the plan's conditional probability where the method has a plan).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

METHODS = ("procrustes", "sinkhorn", "fused_gw", "neural_ot")
# a transport plan is kept only up to this many cells (float64): beyond, CSLS alone ranks
MAX_PLAN_CELLS = 120_000_000


def _normalise(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, n, out=np.zeros_like(x, dtype=float), where=n > 0)


def procrustes(source_anchors: np.ndarray, target_anchors: np.ndarray) -> np.ndarray:
    """Orthogonal W (d x d) with source @ W ~ target on the anchor rows (paired by row)."""
    if source_anchors.shape != target_anchors.shape:
        raise ValueError("anchor matrices must have the same shape (paired rows)")
    u, _, vt = np.linalg.svd(source_anchors.T @ target_anchors)
    return u @ vt


def sinkhorn_plan(
    source: np.ndarray, target: np.ndarray, reg: float = 0.05, n_iter: int = 1000
) -> np.ndarray:
    """Entropic OT plan (uniform weights, cosine cost) between the rows of two clouds."""
    import ot

    cost = 1.0 - _normalise(source) @ _normalise(target).T
    a = np.full(len(source), 1.0 / len(source))
    b = np.full(len(target), 1.0 / len(target))
    # the log-domain solver stays stable at the small regularisations that matching needs
    return ot.sinkhorn(a, b, cost, reg, method="sinkhorn_log", numItermax=n_iter, stopThr=1e-7)


def _csls_radii(s: np.ndarray, t: np.ndarray, knn: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean cosine of each row to its `knn` nearest rows of the other cloud (in blocks)."""
    ks, kt = min(knn, len(t)), min(knn, len(s))
    r_src, r_tgt = np.zeros(len(s)), np.full(len(t), -np.inf)
    top_t = np.full((kt, len(t)), -np.inf)
    for i in range(0, len(s), _BLOCK):
        sims = s[i : i + _BLOCK] @ t.T
        r_src[i : i + _BLOCK] = -np.partition(-sims, ks - 1, axis=1)[:, :ks].mean(axis=1)
        both = np.concatenate([top_t, sims], axis=0)
        top_t = -np.partition(-both, kt - 1, axis=0)[:kt]
    r_tgt = top_t.mean(axis=0)
    return r_src, r_tgt


_BLOCK = 2048


def csls_topk(
    mapped: np.ndarray, target: np.ndarray, k: int = 5, knn: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Indices and CSLS scores of each source row's k best target rows.

    CSLS(x, y) = 2 cos(x, y) - r_T(x) - r_S(y), r the mean cosine to the `knn` nearest
    neighbours in the other space. Computed in blocks of source rows (memory ~ block x target).
    """
    s, t = _normalise(mapped), _normalise(target)
    r_src, r_tgt = _csls_radii(s, t, knn)
    k = min(k, len(t))
    idx = np.zeros((len(s), k), dtype=np.int64)
    score = np.zeros((len(s), k))
    for i in range(0, len(s), _BLOCK):
        csls = 2 * (s[i : i + _BLOCK] @ t.T) - r_src[i : i + _BLOCK, None] - r_tgt[None, :]
        part = np.argpartition(-csls, k - 1, axis=1)[:, :k]
        vals = np.take_along_axis(csls, part, axis=1)
        order = np.argsort(-vals, axis=1, kind="stable")
        idx[i : i + _BLOCK] = np.take_along_axis(part, order, axis=1)
        score[i : i + _BLOCK] = np.take_along_axis(vals, order, axis=1)
    return idx, score


@dataclass
class Alignment:
    """Source rows mapped into the target space, and the transport plan if the method has one."""

    method: str
    mapped: np.ndarray  # (n_source, d_target), rows unit-norm
    plan: np.ndarray | None  # (n_source, n_target) or None
    seconds: float


def _anchor_rows(anchors: np.ndarray | None) -> np.ndarray:
    a = np.zeros((0, 2), dtype=np.int64) if anchors is None else np.asarray(anchors, np.int64)
    if a.ndim != 2 or a.shape[1] != 2:
        raise ValueError("anchors must be an (n, 2) array of (source row, target row)")
    return a


def _linear_map(x: np.ndarray, y: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Procrustes on the anchors (identity without enough of them, same dims only)."""
    if x.shape[1] != y.shape[1]:
        raise ValueError("source and target embeddings must have the same dimension")
    if len(anchors) < 2:
        return np.eye(x.shape[1])
    return procrustes(x[anchors[:, 0]], y[anchors[:, 1]])


def pinned_plan(
    mapped: np.ndarray,
    target: np.ndarray,
    anchors: np.ndarray,
    reg: float = 0.02,
    n_iter: int = 1000,
) -> np.ndarray | None:
    """Entropic OT plan (cosine cost) with every anchor's mass sent to its known counterpart.

    None when the plan would exceed MAX_PLAN_CELLS (the caller ranks by CSLS alone then)."""
    import ot

    n, m = len(mapped), len(target)
    if n * m > MAX_PLAN_CELLS:
        return None
    cost = 1.0 - _normalise(mapped) @ _normalise(target).T
    if len(anchors):
        # an anchored row or column may only be matched to its counterpart
        cost[anchors[:, 0], :] = 2.0
        cost[:, anchors[:, 1]] = 2.0
        cost[anchors[:, 0], anchors[:, 1]] = 0.0
    a, b = np.full(n, 1.0 / n), np.full(m, 1.0 / m)
    return ot.sinkhorn(a, b, cost, reg, numItermax=n_iter, stopThr=1e-6, warn=False)


def _fused_gw(
    x: np.ndarray, y: np.ndarray, anchors: np.ndarray, sample: int, alpha: float, seed: int
) -> np.ndarray:
    """Orthogonal map fitted to fused-GW matches on a sample of each site plus the anchors."""
    import ot

    rng = np.random.default_rng(seed)
    w0 = _linear_map(x, y, anchors)
    xs = np.unique(np.concatenate([anchors[:, 0], rng.permutation(len(x))[:sample]]))[:sample]
    ys = np.unique(np.concatenate([anchors[:, 1], rng.permutation(len(y))[:sample]]))[:sample]
    xm, ym = _normalise(x[xs] @ w0), _normalise(y[ys])
    feature_cost = 1.0 - xm @ ym.T
    c1, c2 = 1.0 - xm @ xm.T, 1.0 - ym @ ym.T  # each site's own similarity structure
    p, q = np.full(len(xs), 1 / len(xs)), np.full(len(ys), 1 / len(ys))
    plan = ot.gromov.fused_gromov_wasserstein(
        feature_cost, c1, c2, p, q, loss_fun="square_loss", alpha=alpha, max_iter=50
    )
    pairs_x, pairs_y = xs, ys[plan.argmax(axis=1)]
    px = np.concatenate([x[anchors[:, 0]], x[pairs_x]])
    py = np.concatenate([y[anchors[:, 1]], y[pairs_y]])
    return procrustes(px, py)


def _neural_ot(
    x: np.ndarray,
    y: np.ndarray,
    anchors: np.ndarray,
    epochs: int,
    batch: int,
    hidden: int,
    reg: float,
    ot_weight: float,
    tau: float,
    seed: int,
) -> np.ndarray:
    """Train T(x) = normalise(x W + MLP(x)) and return T(source) (float32 on CPU or CUDA)."""
    import ot
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    d_in, d_out = x.shape[1], y.shape[1]
    xt = torch.tensor(x, dtype=torch.float32, device=dev)
    yt = torch.tensor(y, dtype=torch.float32, device=dev)
    linear = torch.nn.Linear(d_in, d_out, bias=False).to(dev)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(_linear_map(x, y, anchors).T, dtype=torch.float32))
    mlp = torch.nn.Sequential(
        torch.nn.Linear(d_in, hidden), torch.nn.GELU(), torch.nn.Linear(hidden, d_out)
    ).to(dev)
    torch.nn.init.zeros_(mlp[2].weight)  # start exactly at the Procrustes map
    torch.nn.init.zeros_(mlp[2].bias)
    params = [*linear.parameters(), *mlp.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3)
    eye = torch.eye(d_in, device=dev)

    def t_map(v: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.normalize(linear(v) + mlp(v), dim=-1)

    for _ in range(epochs):
        loss = torch.zeros((), device=dev)
        if len(anchors) >= 2:
            pick = anchors[rng.choice(len(anchors), min(batch, len(anchors)), replace=False)]
            logits = t_map(xt[pick[:, 0]]) @ yt[pick[:, 1]].T / tau
            target = torch.arange(len(pick), device=dev)
            loss = loss + torch.nn.functional.cross_entropy(logits, target)
        xb = t_map(xt[rng.choice(len(x), min(batch, len(x)), replace=False)])
        yb = yt[rng.choice(len(y), min(batch, len(y)), replace=False)]
        cost = 1.0 - xb @ yb.T
        with torch.no_grad():  # envelope theorem: the plan is held fixed for the gradient
            plan = ot.sinkhorn(
                torch.full((len(xb),), 1.0 / len(xb), device=dev, dtype=torch.float64),
                torch.full((len(yb),), 1.0 / len(yb), device=dev, dtype=torch.float64),
                cost.detach().double(),
                max(reg, 0.05),
                numItermax=50,
                warn=False,
            ).float()
        loss = loss + ot_weight * (plan * cost).sum()
        if d_in == d_out:
            w = linear.weight
            loss = loss + 1e-2 * ((w @ w.T - eye) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        out = torch.cat([t_map(xt[i : i + 8192]) for i in range(0, len(x), 8192)])
    return out.cpu().numpy().astype(np.float64)


def align_sites(
    source: np.ndarray,
    target: np.ndarray,
    anchors: np.ndarray | None = None,
    method: str = "neural_ot",
    *,
    reg: float = 0.02,
    epochs: int = 300,
    batch: int = 1024,
    hidden: int = 512,
    ot_weight: float = 1.0,
    tau: float = 0.05,
    fgw_sample: int = 1500,
    fgw_alpha: float = 0.5,
    seed: int = 0,
) -> Alignment:
    """Map `source` rows into the space of `target` rows; `anchors` pairs (source, target) rows
    known to be the same concept (codes both sites share)."""
    if method not in METHODS:
        raise ValueError(f"unknown alignment method {method!r}; use one of {', '.join(METHODS)}")
    start = time.perf_counter()
    x, y = _normalise(np.asarray(source, float)), _normalise(np.asarray(target, float))
    a = _anchor_rows(anchors)
    plan = None
    if method == "procrustes":
        mapped = x @ _linear_map(x, y, a)
    elif method == "sinkhorn":
        mapped = x @ _linear_map(x, y, a)
        plan = pinned_plan(mapped, y, a, reg)
    elif method == "fused_gw":
        mapped = x @ _fused_gw(x, y, a, fgw_sample, fgw_alpha, seed)
    else:
        mapped = _neural_ot(x, y, a, epochs, batch, hidden, reg, ot_weight, tau, seed)
        plan = pinned_plan(mapped, y, a, reg)
    return Alignment(method, _normalise(mapped), plan, time.perf_counter() - start)


def counterparts(
    alignment: Alignment, target: np.ndarray, k: int = 5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-k target rows per source row: (indices, CSLS scores, transport probabilities).

    Ranked by the transport plan where the method has one (its row, normalised, is the
    probability of each counterpart; NaN without a plan), else by CSLS."""
    target = np.asarray(target, float)
    if alignment.plan is None:
        idx, score = csls_topk(alignment.mapped, target, k=k)
        return idx, score, np.full(idx.shape, np.nan)
    plan = alignment.plan
    k = min(k, plan.shape[1])
    idx = np.argsort(-plan, axis=1)[:, :k]
    rows = plan.sum(axis=1, keepdims=True)
    prob = np.take_along_axis(plan, idx, axis=1) / np.where(rows > 0, rows, 1.0)
    csls = _csls_of(alignment.mapped, target, idx)
    return idx, csls, prob


def _csls_of(mapped: np.ndarray, target: np.ndarray, idx: np.ndarray, knn: int = 10) -> np.ndarray:
    """CSLS of given (row, idx) pairs."""
    s, t = _normalise(mapped), _normalise(target)
    r_src, r_tgt = _csls_radii(s, t, knn)
    cos = np.einsum("nd,nkd->nk", s, t[idx])
    return 2 * cos - r_src[:, None] - r_tgt[idx]
