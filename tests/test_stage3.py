"""Stage III wired together (mash_kg/stage3.py run_stage3) on a small hand-made space: the
tables' columns, figures that add up, points one level below the parent in its cone, and the
latent table's points those of the points table. The parts: test_placement.py, test_latent.py."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from mash_kg.poincare import distance_matrix, norm_to_radius
from mash_kg.settings import HierarchySettings
from mash_kg.stage3 import run_stage3
from mash_kg.tree_embedding import node_radius
from tests.spaces import tiny_space

VECTORS = {
    "P1": (1, 0, 0, 0, 0),
    "P1a": (1, 0.6, 0, 0, 0),
    "P2": (0, 1, 0, 0, 0),
    "P2a": (0.1, 1, 0, 0, 0),
    "u": (1, 0.25, 0, 0, 0),  # reads like P1's family
    "v": (0, 0, 1, 0.05, 0),  # v, w, x read alike and like no family: a latent group
    "w": (0, 0, 1, 0.1, 0),
    "x": (0, 0, 1, 0.08, 0.01),
    "z": (0, 0, 0, 0, 1),  # like nothing: left alone
}
EDGES = [("P1a", "P1"), ("P2a", "P2")]


def _run(c: float = 1.0):
    s = HierarchySettings(
        dim=4, curvature=c, parent_threshold=0.6, latent_cut=0.3, lexical_weight=0.0
    )
    space = tiny_space(VECTORS, EDGES, {"u", "v", "w", "x", "z"}, s=s)
    return space, s, run_stage3(space, s)


def test_the_tables_have_their_columns_and_the_figures_add_up():
    _, _, res = _run()
    assert list(res.candidates.columns) == [
        "id",
        "candidate",
        "rank",
        "score",
        "distance",
        "leaf",
        "equivalent",
    ]
    assert list(res.hierarchy.columns) == ["child", "parent", "score", "rank", "parent_label"]
    assert list(res.latent.columns) == ["id", "name", "domain", "size", "members", "norm", "point"]
    assert list(res.holdout.columns) == ["id", "parent", "rank", "text_rank", "candidates"]
    f = res.figures
    assert f["unparented_codes"] == 5 and f["placed_codes"] == 1 and f["latent_groups"] == 1
    assert f["placed_codes"] + f["codes_in_latent_groups"] + f["codes_left_unparented"] == 5
    assert f["mash_is_a_edges"] == len(res.hierarchy) and f["candidate_nodes"] == 4
    assert f["leaf_candidates"] == 2 and f["heldout_codes"] == 0


@pytest.mark.parametrize("c", [0.5, 1.0, 2.0])
def test_placed_nodes_sit_one_level_below_their_parent_in_its_cone(c):
    space, s, res = _run(c)
    pts = res.points.set_index("id")
    (group,) = res.latent.itertuples()
    first = res.hierarchy.drop_duplicates("child").set_index("child")["parent"]
    assert first["u"] == "P1" and {first["v"], first["w"], first["x"]} == {group.id}
    all_points = np.stack(pts["point"].to_numpy())
    assert (np.linalg.norm(all_points, axis=1) < 1 / np.sqrt(c)).all()
    for child in ["u", "v", "w", "x"]:
        parent = first[child]
        assert pts.loc[child, "depth"] == pts.loc[parent, "depth"] + 1
        radius = norm_to_radius(pts.loc[child, "point"][None], c)[0]
        assert radius == pytest.approx(node_radius(pts.loc[child, "depth"], s.tree()), abs=1e-9)
    # u is nearer its parent P1 than any other node but P1's own child
    d = distance_matrix(pts.loc[["u"], "point"].iloc[0][None], all_points, c)[0]
    others = [k for k, i in enumerate(pts.index) if i not in ("u", "P1", "P1a")]
    assert d[list(pts.index).index("P1")] < d[others].min()
    # a latent group's point and norm are those of the points table; z is a root
    np.testing.assert_array_equal(group.point, pts.loc[group.id, "point"])
    assert group.norm == pts.loc[group.id, "norm"] and pts.loc[group.id, "role"] == "latent"
    assert pts.loc["z", "depth"] == 1


def test_stage3_and_the_picture_import_no_torch():
    code = (
        "import sys; import mash_kg.stage3, mash_kg.plot; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
