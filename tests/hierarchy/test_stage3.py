"""Stage III wired together (mash_kg/stage3.py run_stage3) on a small hand-made space: the
tables' columns, figures that add up, points one level below the parent in its cone, and the
latent table's points those of the points table; then placement on hand-made spaces (parents
among every curated node, leaves and equivalents, latent names). The parts alone:
test_placement.py, test_latent.py."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from mash_kg.hierarchy.latent import latent_id, latent_name
from mash_kg.hierarchy.placement import descendants, family_vectors
from mash_kg.hierarchy.stage3 import run_stage3
from mash_kg.hierarchy.tree_embedding import node_radius
from mash_kg.poincare import distance_matrix, norm_to_radius
from mash_kg.settings import HierarchySettings
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
    s = HierarchySettings(dim=4, curvature=c, parent_threshold=0.4, latent_cut=0.3)
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
        "by_name",
        "by_family",
        "by_spelling",
        "by_encoder",
        "by_gnn",
        "by_counterparts",
        "by_members",
        "by_member_spelling",
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
        "import sys; import mash_kg.hierarchy.stage3, mash_kg.plot; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# -- Stage III on a small hand-made space ----------------------------------------------------
def test_stage3_places_near_codes_and_groups_the_rest():
    # two curated families (P1 with P1a, P2 with P2a); code u reads like P1's family; v and w
    # read alike and like neither family (a latent group); z reads like nothing (left alone)
    vec = {
        "P1": (1, 0, 0, 0, 0),
        "P1a": (1, 0.6, 0, 0, 0),
        "P2": (0, 1, 0, 0, 0),
        "P2a": (0.1, 1, 0, 0, 0),
        "u": (1, 0.25, 0, 0, 0),
        "v": (0, 0, 1, 0.05, 0),
        "w": (0, 0, 1, 0.1, 0),
        "z": (0, 0, 0, 0, 1),
    }
    space = tiny_space(vec, [("P1a", "P1"), ("P2a", "P2")], {"u", "v", "w", "z"})
    s = HierarchySettings(dim=4, parent_threshold=0.5, latent_cut=0.3)
    res = run_stage3(space, s)
    top = res.candidates[res.candidates["rank"] == 1].set_index("id")["candidate"]
    assert top["u"] == "P1"
    scores = res.candidates.groupby("id")["score"].sum()
    assert np.allclose(scores, 1.0)  # four candidates each (leaves too): probabilities
    assert set(res.candidates["candidate"]) == {"P1", "P1a", "P2", "P2a"}
    code_parents = res.hierarchy[res.hierarchy["parent_label"] == "Code"]
    assert set(zip(code_parents["child"], code_parents["parent"], strict=True)) == {("u", "P1")}
    (group,) = res.latent.itertuples()
    assert sorted(group.members) == ["v", "w"] and group.id == latent_id(["w", "v"])
    members = res.hierarchy[res.hierarchy["parent"] == group.id]
    assert set(members["child"]) == {"v", "w"} and members["score"].between(0, 1).all()
    assert res.figures["codes_left_unparented"] == 1  # z
    # points: u one level below P1, in P1's cone; the group above its members; all inside
    pts = res.points.set_index("id")
    assert pts.loc["u", "depth"] == pts.loc["P1", "depth"] + 1
    assert pts.loc["v", "depth"] == pts.loc["w", "depth"] == pts.loc[group.id, "depth"] + 1
    assert group.norm < min(pts.loc["v", "norm"], pts.loc["w", "norm"])
    p = np.stack(pts["point"].to_numpy())
    assert np.isfinite(p).all() and (np.linalg.norm(p, axis=1) < 1).all()
    d = distance_matrix(np.stack([pts.loc["u", "point"]]), np.stack(pts["point"].to_numpy()))[0]
    others = [i for i, k in enumerate(pts.index) if k not in ("u", "P1")]
    assert d[list(pts.index).index("P1")] < d[others].min()


def test_stage3_never_proposes_a_code_or_its_descendants_as_its_parent():
    vec = {"R": (1, 1, 0), "A": (1, 0, 0), "A1": (1, 0.1, 0), "B": (0, 1, 0), "B1": (0.1, 1, 0)}
    edges = [("A", "R"), ("A1", "A"), ("B", "R"), ("B1", "B")]
    space = tiny_space(vec, edges, {"A", "A1"}, heldout=[("A", "R")])
    res = run_stage3(space, HierarchySettings(dim=4))
    proposed = set(res.candidates.loc[res.candidates["id"] == "A", "candidate"])
    assert proposed == {"R", "B", "B1"}  # not A itself, not A1 below it; the leaf B1 may be
    (row,) = res.holdout.itertuples()
    assert (row.id, row.parent, row.candidates) == ("A", "R", 3)
    assert descendants("R", {"R": ["A", "B"], "A": ["A1"]}) == {"A", "B", "A1"}


def test_a_leaf_can_be_the_parent_and_a_near_copy_is_its_equivalent():
    # G is a curated group whose only members were site codes (a leaf in the graph); L is a
    # curated leaf. Local code g reads like G; e repeats L's name (cosine ~1): L's child,
    # marked equivalent; the held-out code h's true parent G is a leaf once h is hidden
    vec = {
        "R": (1, 1, 1, 0),
        "G": (1, 0, 0, 0),
        "L": (0, 1, 0, 0),
        "X": (0, 0, 1, 0),
        "g": (1, 0.4, 0, 0),
        "e": (0, 1, 0.01, 0),
        "h": (1, 0, 0.4, 0),
    }
    edges = [("G", "R"), ("L", "R"), ("X", "R"), ("h", "G")]
    space = tiny_space(vec, edges, {"g", "e", "h"}, heldout=[("h", "G")])
    res = run_stage3(space, HierarchySettings(dim=4))
    top = res.candidates[res.candidates["rank"] == 1].set_index("id")
    assert top.loc["g", "candidate"] == "G" and top.loc["g", "leaf"]
    assert not top.loc["g", "equivalent"]  # close, but not a copy of G's name
    assert top.loc["e", "candidate"] == "L" and top.loc["e", "equivalent"]
    parents = res.hierarchy[res.hierarchy["parent_label"] == "Code"]
    assert {("g", "G"), ("e", "L")} <= set(zip(parents["child"], parents["parent"], strict=True))
    (row,) = res.holdout.itertuples()
    assert (row.id, row.parent, row.rank) == ("h", "G", 1)
    assert res.figures["equivalent_to_a_leaf"] == 1 and res.figures["placed_under_a_leaf"] >= 2


def test_every_held_out_code_is_in_holdout_even_without_candidates():
    # h is a lab code held out from a diagnosis tree: no candidate of its domain at all
    vec = {"R": (1, 0, 0), "A": (1, 0.1, 0), "h": (0, 1, 0)}
    space = tiny_space(vec, [("A", "R"), ("h", "R")], {"h"}, heldout=[("h", "R")])
    space.nodes.loc[space.nodes["id"] == "h", "domain"] = "lab"
    res = run_stage3(space, HierarchySettings(dim=4))
    (row,) = res.holdout.itertuples()
    assert (row.id, row.parent, row.candidates) == ("h", "R", 0) and pd.isna(row.rank)


def test_a_family_is_its_name_and_its_known_children():
    text = np.eye(4)
    fam = family_vectors(text, np.array([0, 1]), np.array([2, 3]), np.array([0, 0]))
    assert np.allclose(fam[0], np.array([1, 0, 1, 1]) / np.sqrt(3))
    assert np.allclose(fam[1], [0, 1, 0, 0])


def test_latent_names_are_readable_and_deterministic():
    names = ["Systolic blood pressure", "Diastolic blood pressure", "Blood pressure panel"]
    assert latent_name(names) == "Blood pressure group (3 codes)"
    assert latent_name(list(reversed(names))) == latent_name(names)
    assert latent_name(["Asthma (disorder)", "Childhood asthma (disorder)"]).startswith("Asthma")
