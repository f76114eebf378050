"""Poincaré-ball maths in one place: small pure functions on the ball of curvature -c (c > 0).

Every function takes NumPy arrays or torch tensors and returns the same kind:
- torch tensors go to geoopt's stereographic maths (`geoopt.manifolds.stereographic.math`,
  the library Riemannian Adam trains with), except the distance matrix, which geoopt only
  forms by broadcasting (a batch x candidates x dim intermediate): here it is one matrix
  product;
- NumPy arrays are computed here in closed form, in float64. The curated forest's points lie
  within 1e-8 of the rim (radius 20 and more), where geoopt's clamps for float32 (artanh at
  1 - 1e-7) would flatten the deep levels' distances.

torch is imported only when a tensor is passed, so NumPy callers (Stage III, the picture) do
not load it. The stages and models call these; no other module writes a Poincaré formula.
"""

from __future__ import annotations

import math
import sys

import numpy as np

# geoopt's projection margin for float64 (geoopt.manifolds.stereographic.math.project)
BALL_EPS = 1e-5  # the NumPy path computes in float64
TINY = np.finfo(np.float64).tiny  # floors a denominator that only the rim's points reach


def _is_tensor(x) -> bool:
    torch = sys.modules.get("torch")  # a tensor exists only once torch is imported
    return torch is not None and isinstance(x, torch.Tensor)


def _k(x, c: float):
    """geoopt's curvature argument: k = -c as a tensor of x's dtype and device."""
    import torch

    return torch.as_tensor(-c, dtype=x.dtype, device=x.device)


def _geoopt():
    import geoopt.manifolds.stereographic.math as gmath

    return gmath


def _f64(x) -> np.ndarray:
    return np.asarray(x, np.float64)


def _acosh_argument(u, v, c: float, tiny: float):
    """1 + 2c|u - v|^2 / ((1 - c|u|^2)(1 - c|v|^2)) for every row pair, |u - v|^2 expanded
    into one matrix product (NumPy or torch alike)."""
    uu = (u * u).sum(-1)[:, None]
    vv = (v * v).sum(-1)[None, :]
    sq = (uu + vv - 2 * u @ v.T).clip(min=0.0)
    denom = ((1 - c * uu) * (1 - c * vv)).clip(min=tiny)
    return 1 + 2 * c * sq / denom


def distance_matrix(u, v, c: float = 1.0):
    """Distances between every row of u and every row of v: a (len(u), len(v)) matrix."""
    if _is_tensor(u):
        import torch

        info = torch.finfo(u.dtype)
        arg = _acosh_argument(u, v, c, info.tiny)
        # acosh's gradient is infinite at 1: stay one unit in the last place above it
        return torch.acosh(arg.clamp_min(1 + info.eps)) / math.sqrt(c)
    u, v = _f64(u), _f64(v)
    return np.arccosh(_acosh_argument(u, v, c, TINY)) / math.sqrt(c)


def distance(x, y, c: float = 1.0):
    """Distance between x and y row by row (broadcasting over leading dimensions)."""
    if _is_tensor(x):
        return _geoopt().dist(x, y, k=_k(x, c))
    x, y = _f64(x), _f64(y)
    sq = ((x - y) ** 2).sum(-1)
    denom = np.maximum((1 - c * (x * x).sum(-1)) * (1 - c * (y * y).sum(-1)), TINY)
    return np.arccosh(1 + 2 * c * sq / denom) / math.sqrt(c)


def norm_to_radius(x, c: float = 1.0):
    """Hyperbolic radius (distance from the origin) of points, rows of x: 2/sqrt(c) artanh(
    sqrt(c)|x|)."""
    if _is_tensor(x):
        return _geoopt().dist0(x, k=_k(x, c))
    n = np.clip(math.sqrt(c) * np.linalg.norm(_f64(x), axis=-1), 0, 1 - 1e-16)
    return 2 * np.arctanh(n) / np.sqrt(c)


def radius_to_norm(r, c: float = 1.0):
    """Euclidean norm of a point at hyperbolic radius r (the inverse of `norm_to_radius`)."""
    if _is_tensor(r):
        return (math.sqrt(c) * r / 2).tanh() / math.sqrt(c)
    return np.tanh(np.sqrt(c) * _f64(r) / 2) / np.sqrt(c)


def expmap0(v, c: float = 1.0):
    """Tangent vectors at the origin -> points: tanh(sqrt(c)|v|) v / (sqrt(c)|v|)."""
    if _is_tensor(v):
        return _geoopt().expmap0(v, k=_k(v, c))
    v = _f64(v)
    n = np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-15)
    return np.tanh(math.sqrt(c) * n) * v / (math.sqrt(c) * n)


def logmap0(x, c: float = 1.0):
    """Points -> tangent vectors at the origin: artanh(sqrt(c)|x|) x / (sqrt(c)|x|)."""
    if _is_tensor(x):
        return _geoopt().logmap0(x, k=_k(x, c))
    x = _f64(x)
    n = np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-15)
    return np.arctanh(np.minimum(math.sqrt(c) * n, 1 - 1e-16)) * x / (math.sqrt(c) * n)


def project(x, c: float = 1.0, eps: float | None = None):
    """Points pulled inside the ball: a norm above (1 - eps)/sqrt(c) is set to it (geoopt's
    margin for the dtype when eps is None); points inside are returned unchanged."""
    if _is_tensor(x):
        return _geoopt().project(x, k=_k(x, c), eps=-1 if eps is None else eps)
    x = _f64(x)
    eps = BALL_EPS if eps is None else eps
    top = (1 - eps) / math.sqrt(c)
    n = np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-15)
    return np.where(n > top, x / n * top, x)


def mobius_scalar(r: float, x, c: float = 1.0):
    """r ⊗ x: the point at r times x's radius, in x's direction."""
    if _is_tensor(x):
        return _geoopt().mobius_scalar_mul(x.new_tensor(r), x, k=_k(x, c))
    x = _f64(x)
    n = np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-15)
    sc = math.sqrt(c)
    return np.tanh(r * np.arctanh(np.minimum(sc * n, 1 - 1e-16))) * x / (sc * n)


def midpoint(x, c: float = 1.0, weights=None):
    """The weighted gyromidpoint of the rows of x (Ungar; geoopt's `weighted_midpoint`):
    1/2 ⊗ (Σ w_i λ_i x_i / Σ w_i (λ_i - 1)), λ_i = 2 / (1 - c|x_i|^2). Of two points it is
    the geodesic's midpoint."""
    if _is_tensor(x):
        return _geoopt().weighted_midpoint(x, weights, k=_k(x, c), reducedim=[0])
    x = _f64(x)
    w = np.ones(len(x)) if weights is None else _f64(weights)
    lam = 2 / np.maximum(1 - c * (x * x).sum(-1), TINY)
    two_mean = (w * lam) @ x / (w * (lam - 1)).sum()
    return mobius_scalar(0.5, two_mean, c)


def tangent_mean(x, c: float = 1.0, weights=None):
    """exp_0 of the (weighted) mean over the first axis of log_0(x): the mean taken in the
    tangent space at the origin (the GNN's residual, the encoder's family prototypes)."""
    t = logmap0(x, c)
    if weights is None:
        return expmap0(t.mean(0), c)
    w = weights if _is_tensor(weights) else _f64(weights)
    return expmap0((w.reshape((-1,) + (1,) * (t.ndim - 1)) * t).sum(0) / w.sum(), c)
