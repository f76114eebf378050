"""HGCNConv maths: points stay on the ball, closed forms at small sizes, finite gradients."""

from __future__ import annotations

import geoopt
import numpy as np
import pytest
import torch

from mash_kg.nn.conv import HGCNConv

CURVATURES = [0.5, 1.0, 2.0]


def _log0(y: np.ndarray, c: float) -> np.ndarray:
    """Closed form: log_0(y) = artanh(sqrt(c)|y|) y / (sqrt(c)|y|)."""
    n = np.linalg.norm(y, axis=-1, keepdims=True)
    return np.arctanh(np.sqrt(c) * n) * y / (np.sqrt(c) * n)


def _exp0(v: np.ndarray, c: float) -> np.ndarray:
    """Closed form: exp_0(v) = tanh(sqrt(c)|v|) v / (sqrt(c)|v|)."""
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.tanh(np.sqrt(c) * n) * v / (np.sqrt(c) * n)


def _points(n: int, d: int, c: float, seed: int, max_norm: float = 0.9) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(n, d, generator=g, dtype=torch.float64)
    r = torch.rand(n, 1, generator=g, dtype=torch.float64) * max_norm / c**0.5
    return v / v.norm(dim=-1, keepdim=True) * r


@pytest.mark.parametrize("c", CURVATURES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_outputs_stay_inside_the_ball(c, seed):
    ball = geoopt.PoincareBall(c=c)
    conv = HGCNConv(6, 4, ball, act=torch.nn.Tanh()).double()
    torch.nn.init.normal_(conv.bias, std=3.0)  # push towards the boundary
    x = _points(30, 6, c, seed, max_norm=0.999)
    edges = torch.randint(0, 30, (2, 90), generator=torch.Generator().manual_seed(seed))
    out = conv(x, edges)
    assert out.shape == (30, 4) and torch.isfinite(out).all()
    assert (out.norm(dim=-1) < 1 / c**0.5).all()
    ball.assert_check_point_on_manifold(out)


def _identity_conv(dim: int, c: float) -> HGCNConv:
    """A float64 layer with W = I and no bias: only the aggregation acts."""
    conv = HGCNConv(dim, dim, geoopt.PoincareBall(c=c), bias=False).double()
    with torch.no_grad():
        conv.weight.copy_(torch.eye(dim))
    return conv


@pytest.mark.parametrize("c", CURVATURES)
def test_identity_layer_returns_its_input(c):
    conv = _identity_conv(5, c)
    x = _points(7, 5, c, seed=3)
    out = conv(x, torch.empty(2, 0, dtype=torch.long))  # self-loops only
    torch.testing.assert_close(out, x, atol=1e-10, rtol=1e-8)


@pytest.mark.parametrize("c", CURVATURES)
def test_aggregation_matches_the_closed_form(c):
    conv = _identity_conv(3, c)
    x = _points(3, 3, c, seed=4)
    edges = torch.tensor([[1, 2], [0, 0]])  # 1 -> 0, 2 -> 0; node 0 also hears itself
    weights = torch.tensor([2.0, 1.0], dtype=torch.float64)
    out = conv(x, edges, weights).detach().numpy()
    xs = x.numpy()
    tangent = (1.0 * _log0(xs[0], c) + 2.0 * _log0(xs[1], c) + 1.0 * _log0(xs[2], c)) / 4.0
    np.testing.assert_allclose(out[0], _exp0(tangent, c), atol=1e-10)
    np.testing.assert_allclose(out[1], xs[1], atol=1e-10)  # only its self-loop


@pytest.mark.parametrize("c", CURVATURES)
def test_mobius_linear_matches_the_closed_form(c):
    ball = geoopt.PoincareBall(c=c)
    conv = HGCNConv(4, 2, ball, bias=False).double()
    x = _points(5, 4, c, seed=5).numpy()
    m = conv.weight.detach().numpy()
    mx = x @ m.T
    nx, nmx = np.linalg.norm(x, axis=1, keepdims=True), np.linalg.norm(mx, axis=1, keepdims=True)
    sc = np.sqrt(c)
    expected = np.tanh(nmx / nx * np.arctanh(sc * nx)) * mx / (nmx * sc)
    np.testing.assert_allclose(conv.linear(torch.tensor(x)).detach().numpy(), expected, atol=1e-10)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gradients_are_finite_near_the_boundary(dtype):
    ball = geoopt.PoincareBall(c=1.0)
    conv = HGCNConv(8, 8, ball, act=torch.nn.ReLU()).to(dtype)
    x = _points(20, 8, 1.0, seed=6, max_norm=0.99999).to(dtype).requires_grad_(True)
    edges = torch.randint(0, 20, (2, 60), generator=torch.Generator().manual_seed(6))
    loss = ball.dist0(conv(x, edges)).sum()
    loss.backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(conv.weight.grad).all()
