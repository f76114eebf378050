"""The weights of Stage III's evidence, chosen per build on its own held-out curated edges.

The shape of Stage I's `mash_kg.fusion`: each source's raw scores are standardised per code
over its candidates (z-scores), a binary `leaf` feature (the candidate has no known
children) stands beside them, and the fused score is their weighted sum. The weights are
those that place the build's *fit* codes best: curated codes whose parent edge Stage II hid
from every source (never a code `mash-kg eval` scores). They are found by coordinate ascent
over a grid (`SOURCE_GRID`; the leaf weight on `LEAF_GRID`, negative or positive: whether a
leaf or a family is the likelier parent is this build's answer, not a constant), then every
source whose weight can be set to 0 without losing a fit code is set to 0. Rejected pairs
(clinician review) count against a weighting that ranks them first. k-fold cross-validation
over the fit codes says whether the fusion beats the baseline source (`name`, the text
model alone) by more than chance (wins - losses >= max(2, sqrt(wins + losses))); if not,
the baseline alone ranks, and the report says so. Per domain with `MIN_FIT` fit codes,
else all domains together.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

SOURCE_GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
LEAF_GRID = (-3.0, -2.0, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0)
TEMPERATURES = tuple(np.geomspace(0.03, 3.0, 25))
FALLBACK_TEMPERATURE = 0.05  # a cosine's softmax temperature when nothing can be fitted
LEAF = "leaf"
MIN_FIT = 30
POOLED = "*"


def standardise(raw: np.ndarray) -> np.ndarray:
    """Per code (row), z-scores of each source over its candidates (axis 1); NaN -> 0."""
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        # a source with no score for any of a code's candidates: an all-NaN row, scored 0
        warnings.simplefilter("ignore", RuntimeWarning)
        mu = np.nanmean(raw, axis=1, keepdims=True)
        sd = np.nanstd(raw, axis=1, keepdims=True)
    mu = np.nan_to_num(mu)
    z = (raw - mu) / np.where(np.nan_to_num(sd) > 0, sd, 1.0)
    return np.nan_to_num(z, nan=0.0).astype(np.float32)


@dataclass
class FitSet:
    """Fit codes with their compact candidates: features (n, M, F), which candidate is a
    true parent, which exists, which a reviewer rejected, and each code's domain."""

    feats: np.ndarray
    gold: np.ndarray
    valid: np.ndarray
    rejected: np.ndarray
    domain: np.ndarray
    extra: np.ndarray  # (n, M, E) pair features for the re-ranker

    @staticmethod
    def concat(parts: list[FitSet], n_feats: int, n_extra: int) -> FitSet:
        if not parts:
            e = np.zeros((0, 1), dtype=bool)
            return FitSet(
                np.zeros((0, 1, n_feats), np.float32),
                e,
                e,
                e,
                np.zeros(0, dtype=object),
                np.zeros((0, 1, n_extra), np.float32),
            )
        width = max(p.gold.shape[1] for p in parts)

        def pad(x, fill):
            extra = width - x.shape[1]
            if extra == 0:
                return x
            shape = (x.shape[0], extra, *x.shape[2:])
            return np.concatenate([x, np.full(shape, fill, dtype=x.dtype)], axis=1)

        return FitSet(
            np.concatenate([pad(p.feats, 0) for p in parts]),
            np.concatenate([pad(p.gold, False) for p in parts]),
            np.concatenate([pad(p.valid, False) for p in parts]),
            np.concatenate([pad(p.rejected, False) for p in parts]),
            np.concatenate([p.domain for p in parts]),
            np.concatenate([pad(p.extra, 0) for p in parts]),
        )

    def subset(self, idx: np.ndarray) -> FitSet:
        return FitSet(
            self.feats[idx],
            self.gold[idx],
            self.valid[idx],
            self.rejected[idx],
            self.domain[idx],
            self.extra[idx],
        )


def fused(feats: np.ndarray, valid: np.ndarray, w: np.ndarray) -> np.ndarray:
    s = feats.astype(np.float64) @ w
    return np.where(valid, s, -np.inf)


def top1(fit: FitSet, w: np.ndarray) -> np.ndarray:
    """Per fit code the candidate its weighted features rank first."""
    return fused(fit.feats, fit.valid, w).argmax(axis=1)


def objective(fit: FitSet, w: np.ndarray) -> tuple[int, float]:
    """(true parents ranked first - rejected pairs ranked first, reciprocal rank sum)."""
    s = fused(fit.feats, fit.valid, w)
    r = np.arange(len(s))
    top = s.argmax(axis=1)
    hits = int(fit.gold[r, top].sum()) - int(fit.rejected[r, top].sum())
    best_true = np.where(fit.gold, s, -np.inf).max(axis=1)
    has = np.isfinite(best_true)
    rank = 1 + (s[has] > best_true[has, None]).sum(axis=1)
    return hits, float((1.0 / rank).sum())


def ascend(fit: FitSet, names: list[str], start: str, passes: int = 3) -> np.ndarray:
    """Grid coordinate ascent from `start` alone, then every weight that can be 0 is 0."""
    w = np.zeros(len(names))
    w[names.index(start)] = 1.0
    best = objective(fit, w)
    for _ in range(passes):
        moved = False
        for j, nm in enumerate(names):
            for v in LEAF_GRID if nm == LEAF else SOURCE_GRID:
                if v == w[j]:
                    continue
                trial = w.copy()
                trial[j] = v
                if not (trial[[i for i, n in enumerate(names) if n != LEAF]] > 0).any():
                    continue
                got = objective(fit, trial)
                if got > best:
                    w, best, moved = trial, got, True
        if not moved:
            break
    for j in np.argsort(w):  # prune: a source that does not help gets weight 0
        if w[j] == 0:
            continue
        trial = w.copy()
        trial[j] = 0.0
        if (trial[[i for i, n in enumerate(names) if n != LEAF]] > 0).any() and objective(
            fit, trial
        )[0] >= best[0]:
            w, best = trial, objective(fit, trial)
    return w


def folds(n: int, k: int, seed: int) -> list[np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return [order[f::k] for f in range(k)]


def significant(wins: int, losses: int) -> bool:
    return wins - losses >= max(2.0, np.sqrt(wins + losses))


@dataclass
class Choice:
    """One domain's weights (feature -> weight, zeros kept out), temperature and figures."""

    weights: dict[str, float]
    temperature: float
    report: dict = field(default_factory=dict)
    # without fit codes: softmax(raw score of the one source / this), in the source's units
    raw_temperature: float | None = None

    def vector(self, names: list[str]) -> np.ndarray:
        return np.array([self.weights.get(n, 0.0) for n in names])


def calibrate(fit: FitSet, w: np.ndarray) -> float:
    """The temperature T maximising the fit codes' mean log softmax(fused / T) of a true
    parent (so that scores are probabilities the parent threshold can read)."""
    s = fused(fit.feats, fit.valid, w)
    has = fit.gold.any(axis=1)
    if not has.any():
        return 1.0
    s = s[has]
    best_true = np.where(fit.gold[has], s, -np.inf).max(axis=1)
    top = s.max(axis=1, keepdims=True)
    out = []
    for t in TEMPERATURES:
        lse = np.log(np.exp((s - top) / t).sum(axis=1)) + top[:, 0] / t
        out.append(float((best_true / t - lse).mean()))
    return float(TEMPERATURES[int(np.argmax(out))])


def choose_domain(fit: FitSet, names: list[str], baseline: str, k: int, seed: int) -> Choice:
    """Weights for one domain's fit codes (see the module docstring)."""
    r = np.arange(len(fit.gold))
    base = np.zeros(len(names))
    base[names.index(baseline)] = 1.0
    alone = {
        n: round(float(fit.gold[r, top1(fit, np.eye(len(names))[j])].mean()), 4)
        for j, n in enumerate(names)
        if n != LEAF
    }
    cv_hits = np.zeros(len(r), dtype=bool)
    for held in folds(len(r), k, seed):
        train = np.setdiff1d(r, held)
        w = ascend(fit.subset(train), names, baseline)
        part = fit.subset(held)
        cv_hits[held] = part.gold[np.arange(len(held)), top1(part, w)]
    base_hits = fit.gold[r, top1(fit, base)]
    wins, losses = int((cv_hits & ~base_hits).sum()), int((~cv_hits & base_hits).sum())
    adopted = significant(wins, losses)
    w = ascend(fit, names, baseline) if adopted else base
    report = {
        "fit_codes": int(len(r)),
        "hit_at_1_alone": alone,
        "hit_at_1_cv_fused": round(float(cv_hits.mean()), 4),
        "hit_at_1_baseline": round(float(base_hits.mean()), 4),
        "baseline": baseline,
        "wins": wins,
        "losses": losses,
        "adopted": bool(adopted),
    }
    weights = {n: float(v) for n, v in zip(names, w, strict=True) if v != 0}
    return Choice(weights, calibrate(fit, w), report)


def choose_weights(
    fit: FitSet, names: list[str], baseline: str, k: int = 3, seed: int = 0
) -> tuple[dict[str, Choice], list[str]]:
    """Per domain (and POOLED for domains with fewer than MIN_FIT fit codes) the Choice;
    notes say where the baseline alone ranks."""
    notes: list[str] = []
    out: dict[str, Choice] = {}
    base = Choice({baseline: 1.0}, 1.0, {"fit_codes": 0, "adopted": False}, FALLBACK_TEMPERATURE)
    if 0 < len(fit.gold) < MIN_FIT:
        one = np.array([float(n == baseline) for n in names])
        report = {"fit_codes": len(fit.gold), "adopted": False}
        base = Choice({baseline: 1.0}, calibrate(fit, one), report)
    if len(fit.gold) >= MIN_FIT:
        out[POOLED] = choose_domain(fit, names, baseline, k, seed)
    else:
        out[POOLED] = base
        notes.append(
            f"{len(fit.gold)} fit code(s), too few to weigh the sources (need {MIN_FIT}): "
            f"ranked by {baseline} alone"
        )
    for d in sorted(set(fit.domain.tolist())):
        idx = np.flatnonzero(fit.domain == d)
        if len(idx) >= MIN_FIT and len(set(fit.domain.tolist())) > 1:
            out[d] = choose_domain(fit.subset(idx), names, baseline, k, seed)
    for d, c in out.items():
        if "hit_at_1_cv_fused" in c.report and not c.report["adopted"]:
            notes.append(
                f"domain {d or '(none)'}: no weighting beat {baseline} alone on "
                f"{c.report['fit_codes']} fit codes (cross-validated hit@1 "
                f"{c.report['hit_at_1_cv_fused']} vs {c.report['hit_at_1_baseline']}): "
                f"ranked by {baseline} alone"
            )
    return out, notes
