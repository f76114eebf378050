"""The Poincaré-disk picture: a 2-D hyperbolic layout of the subtree itself."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mash_kg.hierarchy.tree_embedding import node_radius
from mash_kg.plot import DISK, disk_tree_layout, draw_subtree
from mash_kg.poincare import norm_to_radius


def test_the_layout_keeps_the_tree():
    # R -> A, B; A -> A1, A2; B -> B1; a learned child L under A1
    child = ["A", "B", "A1", "A2", "B1", "L"]
    parent = ["R", "R", "A", "A", "B", "A1"]
    ids = ["R", "A", "B", "A1", "A2", "B1", "L", "stray"]
    xy = disk_tree_layout(ids, child, parent, "R")
    norm = dict(zip(ids, np.linalg.norm(xy, axis=1), strict=True))
    assert norm["R"] == 0 and np.isclose(norm["A"], norm["B"])
    assert np.isclose(norm["A1"], norm["B1"])
    assert norm["A"] < norm["A1"] < norm["L"] < 1  # depth follows the norm
    # at the hyperbolic radius of its depth (root at depth 1, in the centre)
    depth = {"A": 2, "B": 2, "A1": 3, "A2": 3, "B1": 3, "L": 4}
    radius = norm_to_radius(xy[[ids.index(k) for k in depth]])
    np.testing.assert_allclose(radius, node_radius(np.array(list(depth.values())), DISK))
    angle = dict(zip(ids, np.arctan2(xy[:, 1], xy[:, 0]) % (2 * np.pi), strict=True))
    # a node's children sit in its wedge: A's children on A's side of B
    assert abs(angle["A1"] - angle["A"]) < abs(angle["A1"] - angle["B"])
    assert abs(angle["B1"] - angle["B"]) < 1e-9  # an only child on its parent's ray
    assert np.isclose(norm["stray"], 0.98)  # not below the root: on the rim, never dropped


def test_the_picture_is_written(tmp_path):
    nodes = pd.DataFrame({"id": ["R", "A", "B", "LATENT:x"], "name": ["root", "a", "b", "grp"]})
    edges = pd.DataFrame(
        {
            "child": ["A", "B", "LATENT:x"],
            "parent": ["R", "R", "A"],
            "type": ["IS_A", "IS_A", "MASH_IS_A"],
        }
    )
    out = draw_subtree(nodes, edges, "R", tmp_path / "disk.png", "t")
    assert out.is_file() and out.read_bytes()[:4] == b"\x89PNG"
