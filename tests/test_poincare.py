"""The Poincaré-ball maths (mash_kg/poincare.py) against closed forms, in float64, over several
curvatures and seeds (hypothesis draws the seeds, sizes and radii); the torch path (geoopt's
maths) agrees with the NumPy one."""

from __future__ import annotations

import subprocess
import sys

import geoopt
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mash_kg import poincare

CURVATURES = (0.5, 1.0, 2.0)
curvature = st.sampled_from(CURVATURES)
seed = st.integers(0, 2**32 - 1)
rim = st.floats(0.05, 0.99)  # the largest radius drawn, as a share of the ball's 1/sqrt(c)


def _points(n: int, dim: int, c: float, seed: int, max_share: float = 0.95) -> np.ndarray:
    """n points of R^dim inside the ball of curvature -c, norms up to max_share/sqrt(c)."""
    rng = np.random.default_rng(seed)
    d = rng.standard_normal((n, dim))
    r = rng.uniform(0, max_share, (n, 1)) / np.sqrt(c)
    return d / np.linalg.norm(d, axis=1, keepdims=True) * r


def _rotation(dim: int, seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, dim)))
    return q


@settings(max_examples=60, deadline=None)
@given(c=curvature, seed=seed, n=st.integers(2, 12), dim=st.integers(1, 8), share=rim)
def test_distance_is_a_metric(c, seed, n, dim, share):
    x = _points(n, dim, c, seed, share)
    d = poincare.distance_matrix(x, x, c)
    assert d.dtype == np.float64 and d.shape == (n, n)
    np.testing.assert_allclose(d, d.T, atol=1e-9)
    np.testing.assert_allclose(np.diag(d), 0.0, atol=1e-6)
    assert (d >= 0).all()
    # triangle inequality d(i, k) <= d(i, j) + d(j, k) for every triple
    assert (d[:, None, :] <= d[:, :, None] + d[None, :, :] + 1e-7).all()


@settings(max_examples=60, deadline=None)
@given(c=curvature, seed=seed, dim=st.integers(1, 8), share=rim)
def test_distance_row_by_row_matches_the_matrix_and_rotations_keep_it(c, seed, dim, share):
    x, y = _points(6, dim, c, seed, share), _points(6, dim, c, seed + 1, share)
    d = poincare.distance_matrix(x, y, c)
    np.testing.assert_allclose(poincare.distance(x, y, c), np.diag(d), rtol=1e-9, atol=1e-7)
    np.testing.assert_allclose(poincare.distance(x[:, None], y[None], c), d, atol=1e-7)
    q = _rotation(dim, seed)  # rotations about the origin are isometries
    np.testing.assert_allclose(poincare.distance_matrix(x @ q, y @ q, c), d, atol=1e-7)


@settings(max_examples=60, deadline=None)
@given(c=curvature, seed=seed, dim=st.integers(1, 8), share=rim)
def test_distance_to_the_origin_is_the_closed_form(c, seed, dim, share):
    x = _points(8, dim, c, seed, share)
    expected = 2 / np.sqrt(c) * np.arctanh(np.sqrt(c) * np.linalg.norm(x, axis=1))
    np.testing.assert_allclose(poincare.norm_to_radius(x, c), expected, rtol=1e-12)
    to_origin = poincare.distance_matrix(x, np.zeros((1, dim)), c)[:, 0]
    np.testing.assert_allclose(to_origin, expected, rtol=1e-9, atol=1e-7)


@pytest.mark.parametrize("c", CURVATURES)
def test_radius_and_norm_are_inverse_out_to_the_deep_levels(c):
    # the curated forest's deep levels reach radius 20; float64 holds a norm below the rim up
    # to sqrt(c) r / 2 ~ 18.7 (where tanh rounds to 1)
    r = np.linspace(0.0, 25.0, 51)
    x = poincare.radius_to_norm(r, c)
    assert (x < 1 / np.sqrt(c)).all() and (np.diff(x) > 0).all()
    points = np.stack([x, np.zeros_like(x)], axis=1)
    back = poincare.norm_to_radius(points, c)
    np.testing.assert_allclose(back[:21], r[:21], atol=1e-9)  # out to radius 10
    # near the rim a norm's last bit is a share 1e-16 / (1 - sqrt(c)|x|) of the radius
    np.testing.assert_allclose(back[:41], r[:41], rtol=1e-4)


@settings(max_examples=60, deadline=None)
@given(c=curvature, seed=seed, dim=st.integers(1, 8), length=st.floats(1e-6, 8.0))
def test_expmap0_and_logmap0_are_inverse(c, seed, dim, length):
    # tangent vectors of sqrt(c)|v| up to `length` (8: radius 16/sqrt(c), near the float64 rim)
    v = np.random.default_rng(seed).standard_normal((5, dim))
    v *= np.random.default_rng(seed + 1).uniform(0, length, (5, 1))
    v /= np.sqrt(c) * np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-300)
    x = poincare.expmap0(v, c)
    assert (np.sqrt(c) * np.linalg.norm(x, axis=1) < 1).all()
    np.testing.assert_allclose(poincare.logmap0(x, c), v, rtol=1e-6, atol=1e-9)
    # the metric at the origin is twice the Euclidean one: d(0, exp_0(v)) = 2|v|
    np.testing.assert_allclose(
        poincare.norm_to_radius(x, c), 2 * np.linalg.norm(v, axis=1), rtol=1e-6
    )
    y = _points(5, dim, c, seed)
    np.testing.assert_allclose(poincare.expmap0(poincare.logmap0(y, c), c), y, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(c=curvature, seed=seed, dim=st.integers(1, 8), share=rim)
def test_the_midpoint_of_two_points_halves_their_geodesic(c, seed, dim, share):
    x = _points(2, dim, c, seed, share)
    m = poincare.midpoint(x, c)
    d = poincare.distance(x, m, c)
    whole = poincare.distance(x[0], x[1], c)
    np.testing.assert_allclose(d, [whole / 2, whole / 2], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("c", CURVATURES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_midpoint_of_symmetric_points_is_the_origin_and_weights_pull(c, seed):
    x = _points(1, 4, c, seed)[0]
    np.testing.assert_allclose(poincare.midpoint(np.stack([x, -x]), c), 0.0, atol=1e-12)
    y = _points(1, 4, c, seed + 10)[0]
    pair = np.stack([x, y])
    heavy = poincare.midpoint(pair, c, weights=[3.0, 1.0])
    assert poincare.distance(heavy, x, c) < poincare.distance(heavy, y, c)
    np.testing.assert_allclose(poincare.midpoint(x[None], c), x, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(c=curvature, seed=seed, dim=st.integers(1, 8), scale=st.floats(0.01, 100.0))
def test_projection_keeps_points_inside_and_leaves_inner_ones(c, seed, dim, scale):
    x = np.random.default_rng(seed).standard_normal((7, dim)) * scale / np.sqrt(c)
    p = poincare.project(x, c)
    top = (1 - poincare.BALL_EPS) / np.sqrt(c)
    assert (np.linalg.norm(p, axis=1) <= top * (1 + 1e-12)).all()
    inside = np.linalg.norm(x, axis=1) <= top
    np.testing.assert_array_equal(p[inside], x[inside])
    # the direction is kept
    cos = (p * x).sum(1) / (np.linalg.norm(p, axis=1) * np.linalg.norm(x, axis=1))
    np.testing.assert_allclose(cos, 1.0, atol=1e-12)


@pytest.mark.parametrize("c", CURVATURES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tangent_mean_is_exp_of_the_mean_log(c, seed):
    x = _points(5, 3, c, seed)
    w = np.arange(1.0, 6.0)
    t = np.arctanh(np.sqrt(c) * np.linalg.norm(x, axis=1, keepdims=True)) * x
    t /= np.sqrt(c) * np.linalg.norm(x, axis=1, keepdims=True)  # closed-form log_0
    mean = (w[:, None] * t).sum(0) / w.sum()
    n = np.linalg.norm(mean)
    expected = np.tanh(np.sqrt(c) * n) * mean / (np.sqrt(c) * n)  # closed-form exp_0
    np.testing.assert_allclose(poincare.tangent_mean(x, c, weights=w), expected, atol=1e-12)
    np.testing.assert_allclose(poincare.tangent_mean(np.stack([x[0], -x[0]]), c), 0, atol=1e-12)


@pytest.mark.parametrize("c", CURVATURES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_torch_path_is_geoopt_and_agrees_with_numpy(c, seed):
    # norms up to 0.8 of the ball's: beyond, geoopt's artanh clamp (1 - 1e-7, for float32)
    # moves its float64 distances by 1e-7 and more, which is why NumPy has its own path
    x, y = _points(6, 4, c, seed, 0.8), _points(5, 4, c, seed + 1, 0.8)
    tx, ty = torch.tensor(x), torch.tensor(y)
    ball = geoopt.PoincareBall(c=c).to(torch.float64)
    d = poincare.distance_matrix(tx, ty, c)
    assert isinstance(d, torch.Tensor) and d.dtype == torch.float64
    expected = ball.dist(tx[:, None], ty[None])
    torch.testing.assert_close(d, expected, atol=1e-9, rtol=1e-7)
    np.testing.assert_allclose(d.numpy(), poincare.distance_matrix(x, y, c), atol=1e-9)
    pairs = {
        "distance": (poincare.distance(tx, tx.flip(0), c), poincare.distance(x, x[::-1], c)),
        "radius": (poincare.norm_to_radius(tx, c), poincare.norm_to_radius(x, c)),
        "exp": (poincare.expmap0(tx, c), poincare.expmap0(x, c)),
        "log": (poincare.logmap0(tx, c), poincare.logmap0(x, c)),
        "project": (poincare.project(tx * 3, c), poincare.project(x * 3, c)),
        "midpoint": (poincare.midpoint(tx, c), poincare.midpoint(x, c)),
        "tangent_mean": (poincare.tangent_mean(tx, c), poincare.tangent_mean(x, c)),
    }
    for name, (ours_t, ours_np) in pairs.items():
        assert isinstance(ours_t, torch.Tensor), name
        np.testing.assert_allclose(ours_t.numpy(), ours_np, atol=1e-9, err_msg=name)


def test_float32_training_distances_stay_finite_with_finite_gradients():
    x = torch.tensor(_points(6, 4, 1.0, 0, 0.999), dtype=torch.float32, requires_grad=True)
    d = poincare.distance_matrix(x, x)  # the diagonal sits at acosh's infinite slope
    assert d.dtype == torch.float32 and torch.isfinite(d).all()
    d.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_numpy_callers_do_not_import_torch():
    code = (
        "import sys, numpy as np; from mash_kg import poincare; "
        "poincare.distance_matrix(np.zeros((1, 2)), np.zeros((1, 2))); "
        "poincare.midpoint(np.eye(2) / 2); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
