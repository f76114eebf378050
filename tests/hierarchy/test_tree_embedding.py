"""The curated forest on the Poincaré ball (tree_embedding.py), in float64 (the ball's maths
itself: tests/test_poincare.py)."""

from __future__ import annotations

import numpy as np
import pytest

from mash_kg.hierarchy.tree_embedding import (
    child_slot,
    closure,
    cone_directions,
    embed_forest,
    node_radius,
    reconstruction,
    spread_directions,
)
from mash_kg.poincare import distance_matrix, norm_to_radius
from mash_kg.settings import TreeSettings

CURVATURES = (0.5, 1.0, 2.0)


def _tree(branching: tuple[int, ...]) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """A full tree: `branching[k]` children per node at depth k+1, several roots."""
    level, n, child, parent, depth = list(range(branching[0])), branching[0], [], [], []
    depth = [1] * n
    for d, b in enumerate(branching[1:], start=2):
        nxt = []
        for p in level:
            for _ in range(b):
                child.append(n)
                parent.append(p)
                depth.append(d)
                nxt.append(n)
                n += 1
        level = nxt
    return n, np.array(child), np.array(parent), np.array(depth)


def test_spread_and_cone_directions_are_unit_and_apart():
    for n, dim in ((3, 4), (8, 4), (20, 4), (34, 9)):
        w = spread_directions(n, dim)
        assert w.shape == (n, dim) and np.allclose(np.linalg.norm(w, axis=1), 1)
        gram = w @ w.T - 2 * np.eye(n)
        assert gram.max() < 0.9, (n, dim)  # no two directions nearly the same
    axis = np.array([0.0, 0.6, 0.8, 0.0])
    cone = cone_directions(axis, 5, 0.3)
    assert np.allclose(np.linalg.norm(cone, axis=1), 1)
    assert np.allclose(cone @ axis, np.cos(0.3))  # every child at the cone's angle


@pytest.mark.parametrize("c", CURVATURES)
def test_forest_depth_follows_the_norm_and_relatives_are_nearest(c):
    n, child, parent, depth = _tree((3, 4, 3, 2))
    pts, got = embed_forest(n, child, parent, 6, c=c)
    assert np.array_equal(got, depth)
    radius = norm_to_radius(pts, c)
    assert np.allclose(radius, node_radius(depth, TreeSettings()), atol=1e-6)
    assert np.isfinite(pts).all() and (np.linalg.norm(pts, axis=1) < 1 / np.sqrt(c)).all()
    fig = reconstruction(pts, child, parent, got, sample=n, c=c)
    # a shallow node cannot have all its deep descendants before every unrelated node (the
    # cone geometry trades this for leaves, which are most codes): high, not perfect
    assert fig["reconstruction_map"] > 0.8 and fig["depth_norm_spearman"] > 0.99
    # every node's parent is nearer to it than any node outside its closure
    related = closure(n, child, parent)
    d = distance_matrix(pts, pts, c)
    for ch, pa in zip(child, parent, strict=True):
        unrelated = [k for k in range(n) if k not in related[ch] and k != ch]
        assert d[ch, pa] < d[ch, unrelated].min()


def test_reconstruction_of_random_points_is_poor():
    """The metric can fail: the same tree with shuffled points scores far lower."""
    n, child, parent, depth = _tree((3, 4, 3, 2))
    pts, _ = embed_forest(n, child, parent, 6)
    shuffled = pts[np.random.default_rng(0).permutation(n)]
    assert reconstruction(shuffled, child, parent, sample=n)["reconstruction_map"] < 0.5


def test_closure_holds_ancestors_and_descendants():
    related = closure(4, np.array([1, 2, 3]), np.array([0, 1, 0]))
    assert related == [{1, 2, 3}, {0, 2}, {0, 1}, {0}]


def test_a_parent_cycle_does_not_hang_and_every_node_gets_a_point():
    pts, depth = embed_forest(3, np.array([0, 1]), np.array([1, 0]), 4)
    assert np.isfinite(pts).all() and (depth >= 1).all()


def test_child_slot_is_one_level_deeper_and_nearest_its_parent():
    n, child, parent, depth = _tree((2, 3, 2))
    pts, _ = embed_forest(n, child, parent, 5)
    p = int(child[0])  # a depth-2 node
    new = child_slot(pts[p], 2, np.ones(5), n_roots=2)
    assert norm_to_radius(new[None])[0] == pytest.approx(float(node_radius(3, TreeSettings())))
    d = distance_matrix(new[None], pts)[0]
    others = [k for k in range(n) if k not in (p, int(parent[0])) and depth[k] <= 2]
    assert d[p] < d[others].min()
