"""A second stage over the top candidates: a re-ranker trained on the build's fit codes.

For the top `TOP` candidates of each fit code by the fused score, a pair is described by the
sources' z-scores, the leaf flag, the candidate's depth and number of known children, the
fused score, its gap to the code's best and its rank; the label says whether it is a true
parent (a pair a reviewer rejected: a hard negative). Two learning-to-rank models are tried,
a logistic regression and a gradient-boosted tree ensemble (scikit-learn, bounded: a few
seconds on 2 cores for thousands of fit codes); k-fold cross-validation over the fit codes
keeps the one that ranks more true parents first than the fused score alone, and only when
by more than chance (fusion.significant). The kept model re-scores the top `TOP` of every
code; its coefficients (or its pickled trees) go into the build.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from mash_kg.hierarchy.fusion import FitSet, folds, fused, significant

TOP = 20
MAX_PAIRS = 200_000  # training rows at most (bounded time)


def pair_features(feats: np.ndarray, extra: np.ndarray, score: np.ndarray) -> np.ndarray:
    """(n, K, F + E + 3): features, pair features, fused score, gap to the best, log rank."""
    best = np.max(np.where(np.isfinite(score), score, -1e9), axis=1, keepdims=True)
    order = np.argsort(-score, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(score.shape[1])[None, :], axis=1)
    s = np.where(np.isfinite(score), score, -1e3)
    cols = [s, s - best, np.log1p(rank)]
    return np.concatenate([feats, extra, np.stack(cols, axis=2).astype(np.float32)], axis=2).astype(
        np.float32
    )


def _top(score: np.ndarray, k: int) -> np.ndarray:
    k = min(k, score.shape[1])
    return np.argsort(-score, axis=1, kind="stable")[:, :k]


@dataclass
class Reranker:
    kind: str  # 'logistic' or 'boosted'
    model: object

    def rescore(self, feats: np.ndarray, extra: np.ndarray, score: np.ndarray) -> np.ndarray:
        """New scores for each code's top TOP candidates (log-odds), -inf elsewhere."""
        x = pair_features(feats, extra, score)
        top = _top(score, TOP)
        xt = np.take_along_axis(x, top[:, :, None], axis=1).reshape(-1, x.shape[2])
        out = np.full(score.shape, -np.inf)
        if len(xt):
            from threadpoolctl import threadpool_limits

            with threadpool_limits(1):
                z = self.model.decision_function(xt).reshape(top.shape)
            z = np.where(np.isfinite(np.take_along_axis(score, top, axis=1)), z, -np.inf)
            np.put_along_axis(out, top, z, axis=1)
        return out

    def table(self, names: list[str]) -> list[dict]:
        """The model as rows for the build (a logistic's coefficients; the boosted model's
        size)."""
        if self.kind == "logistic":
            coef = self.model[-1].coef_[0]
            cols = names + ["fused", "gap", "log_rank"]
            rows = [
                {"feature": c, "coefficient": float(v)} for c, v in zip(cols, coef, strict=True)
            ]
            return rows + [
                {"feature": "intercept", "coefficient": float(self.model[-1].intercept_[0])}
            ]
        return [{"feature": "boosted_trees", "coefficient": float(self.model.n_iter_)}]


def _training(fit: FitSet, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = pair_features(fit.feats, fit.extra, score)
    top = _top(score, TOP)
    take = lambda a: np.take_along_axis(a, top, axis=1)  # noqa: E731
    ok = take(fit.valid) & (fit.gold.any(axis=1) | fit.rejected.any(axis=1))[:, None]
    xt = np.take_along_axis(x, top[:, :, None], axis=1)[ok]
    yt = take(fit.gold)[ok]
    return xt[:MAX_PAIRS], yt[:MAX_PAIRS].astype(int)


def _model(kind: str, seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=500))
    return HistGradientBoostingClassifier(max_iter=60, learning_rate=0.1, random_state=seed)


def _fit(kind: str, fit: FitSet, w: np.ndarray, seed: int) -> Reranker | None:
    from threadpoolctl import threadpool_limits

    x, y = _training(fit, fused(fit.feats, fit.valid, w))
    if len(set(y.tolist())) < 2:
        return None
    with threadpool_limits(1):  # OpenMP threads spin on a shared 2-core machine
        return Reranker(kind, _model(kind, seed).fit(x, y))


def train_reranker(
    fit: FitSet, w: np.ndarray, k: int = 3, seed: int = 0
) -> tuple[Reranker | None, dict]:
    """The re-ranker kept for this build (None: the fused score alone) and its figures."""
    start = time.perf_counter()
    r = np.arange(len(fit.gold))
    has = fit.gold.any(axis=1)
    base = fit.gold[r, fused(fit.feats, fit.valid, w).argmax(axis=1)]
    report: dict = {"fit_codes": int(has.sum()), "hit_at_1_fused": round(float(base.mean()), 4)}
    if has.sum() < 30:
        report["kept"] = None
        return None, report
    best_kind, best_hits = None, base
    for kind in ("logistic", "boosted"):
        hits = np.zeros(len(r), dtype=bool)
        for held in folds(len(r), k, seed):
            model = _fit(kind, fit.subset(np.setdiff1d(r, held)), w, seed)
            part = fit.subset(held)
            s = fused(part.feats, part.valid, w)
            if model is not None:
                s = model.rescore(part.feats, part.extra, s)
            hits[held] = part.gold[np.arange(len(held)), s.argmax(axis=1)]
        report[f"hit_at_1_cv_{kind}"] = round(float(hits.mean()), 4)
        if hits.sum() > best_hits.sum():
            best_kind, best_hits = kind, hits
    wins = int((best_hits & ~base).sum())
    losses = int((~best_hits & base).sum())
    keep = best_kind is not None and significant(wins, losses)
    report.update(wins=wins, losses=losses, kept=best_kind if keep else None)
    model = _fit(best_kind, fit, w, seed) if keep else None
    report["seconds"] = round(time.perf_counter() - start, 1)
    return model, report
