"""Stage II on a tiny curated tree (mash_kg/stage2.py): the node table, the held-out split,
the curated forest on the ball, the GNN's message graph, and run_stage2 end to end with the
frozen text vectors (no model is loaded); the encoder's inputs (held-out codes never in its
pairs, Excludes1 notes as pairs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mash_kg.hierarchy.stage2 import (
    choose_holdout,
    curated_forest,
    encoder_pairs,
    excludes_pairs,
    message_graph,
    node_table,
    run_stage2,
    split_edges,
)
from mash_kg.hierarchy.tree_embedding import node_radius
from mash_kg.poincare import norm_to_radius
from mash_kg.settings import EncoderSettings, HierarchySettings

# R -> A, B; A -> A1, A2; B -> B1. Site codes: A1, A2, B1 (curated), L1, L2 (local, no parent)
CONTEXT = pd.DataFrame(
    {
        "id": ["X:R", "X:A", "X:B", "X:A1", "X:A2", "X:B1"],
        "name": ["root", "group a", "group b", "a one", "a two", None],
        "domain": "diagnosis",
        "vocab": "X",
        "kind": "code",
    }
)
EDGES = pd.DataFrame(
    {
        "child": ["X:A", "X:B", "X:A1", "X:A2", "X:B1", "L:1"],
        "parent": ["X:R", "X:R", "X:A", "X:A", "X:B", "X:A1"],
        "type": ["IS_A"] * 5 + ["MAPS_TO"],
    }
)
CODES = pd.DataFrame(
    {
        "id": ["X:A1", "X:A2", "X:B1", "L:1", "L:2", "L:1"],
        "name": ["site a one", "site a two", "site b one", "local one", "local two", "dup"],
        "domain": "diagnosis",
        "vocab": ["X", "X", "X", "L", "L", "L"],
    }
)


def test_node_table_has_one_row_per_id_with_the_graphs_name():
    nodes = node_table(CODES, CONTEXT)
    assert list(nodes["id"]) == sorted(set(CODES["id"]) | set(CONTEXT["id"]))
    at = nodes.set_index("id")
    assert at.loc["X:A1", "name"] == "a one"  # the graph's name wins for a curated code
    assert at.loc["X:B1", "name"] == "X:B1"  # no name anywhere: the id
    assert at.loc["L:1", "name"] == "local one"  # the first site row of a code
    assert at.loc["X:A1", "role"] == "code" and at.loc["X:R", "role"] == "context"
    assert at["curated"].to_dict() == {i: i.startswith("X:") for i in at.index}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_holdout_is_a_share_of_the_build_codes_with_a_parent(seed):
    is_a = EDGES[EDGES["type"] == "IS_A"][["child", "parent"]]
    held = choose_holdout(CODES["id"], is_a, 0.7, seed)
    assert len(held) == 2 and set(held["child"]) <= {"X:A1", "X:A2", "X:B1"}
    assert held.equals(choose_holdout(CODES["id"], is_a, 0.7, seed))  # the seed decides
    assert choose_holdout(CODES["id"], is_a, 0.0, seed).empty


def test_split_edges_keeps_held_out_codes_out_of_training():
    held = pd.DataFrame({"child": ["X:A2"], "parent": ["X:A"]})
    edges = split_edges(CODES["id"], EDGES, 0.5, 0, heldout=held)
    assert len(edges.is_a) == 5 and list(edges.maps["child"]) == ["L:1"]
    assert edges.hidden == {"X:A2"} and "X:A2" not in set(edges.train["child"])
    assert len(edges.train) == 4


@pytest.mark.parametrize("c", [0.5, 1.0, 2.0])
def test_the_curated_forest_puts_depth_on_the_norm(c):
    nodes = node_table(CODES, CONTEXT)
    row = {x: i for i, x in enumerate(nodes["id"])}
    train = EDGES[EDGES["type"] == "IS_A"][["child", "parent"]]
    s = HierarchySettings(dim=4, curvature=c)
    points, depth, figures = curated_forest(nodes, row, train, s, seed=0)
    at = dict(zip(nodes["id"], depth, strict=True))
    assert (at["X:R"], at["X:A"], at["X:A1"], at["L:1"]) == (1, 2, 3, 0)
    inside = depth > 0
    assert np.isnan(points[~inside]).all() and np.isfinite(points[inside]).all()
    radius = norm_to_radius(points[inside], c)
    np.testing.assert_allclose(radius, node_radius(depth[inside], s.tree()), atol=1e-9)
    assert figures["reconstruction_map"] > 0.9
    empty = curated_forest(nodes, row, train.iloc[:0], s, seed=0)
    assert np.isnan(empty[0]).all() and (empty[1] == 0).all() and empty[2] == {}


def test_the_message_graph_is_undirected_without_duplicates_or_loops():
    row = {x: i for i, x in enumerate(["a", "b", "c", "d"])}
    edges = [pd.DataFrame({"child": ["a", "a", "b"], "parent": ["b", "b", "b"]})]
    cooc = pd.DataFrame({"code_a": ["a", "a", "b"], "code_b": ["c", "d", "d"], "count": [5, 1, 9]})
    counterparts = pd.DataFrame({"id": ["d", "c"], "other_id": ["c", "b"], "rank": [1, 2]})
    g = message_graph(row, edges, cooc, counterparts, neighbours=1)
    pairs = set(zip(g[0].tolist(), g[1].tolist(), strict=True))
    # a-b curated (once), c-d aligned at rank 1 (c-b at rank 2 is not), each code's strongest
    # co-occurrence: a-c and b-d (a-d is the second of both a and d)
    assert pairs == {(0, 1), (1, 0), (2, 3), (3, 2), (0, 2), (2, 0), (1, 3), (3, 1)}
    assert g.shape[1] == len(pairs)


def test_run_stage2_embeds_the_context_and_hides_the_held_out_edges():
    nodes = node_table(CODES, CONTEXT)
    text = np.random.default_rng(0).standard_normal((len(nodes), 6)).astype(np.float32)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    held = pd.DataFrame({"child": ["X:A2"], "parent": ["X:A"]})
    space = run_stage2(
        CODES,
        CONTEXT,
        EDGES,
        nodes,
        text,
        pd.DataFrame(columns=["id", "other_id", "rank"]),
        pd.DataFrame(columns=["site", "code_a", "code_b", "count"]),
        HierarchySettings(dim=4),
        EncoderSettings(enabled=False),
        heldout=held,
    )
    assert list(space.nodes["id"]) == list(nodes["id"])
    np.testing.assert_array_equal(space.text, text)  # the frozen model: not fine-tuned
    assert space.heldout.equals(held) and "X:A2" not in set(space.train_edges["child"])
    at = dict(zip(space.nodes["id"], space.depth, strict=True))
    assert at["X:A2"] == 0 and at["X:A1"] == 3  # the held-out code waits for Stage III
    assert space.roots == 1 and space.gnn_points is None and space.lexical is not None
    fig = space.figures
    assert (fig["nodes"], fig["train_edges"], fig["heldout_edges"]) == (len(nodes), 4, 1)
    assert fig["encoder_steps"] == 0 and "reconstruction_map" in fig


def test_held_out_codes_never_reach_the_encoder():
    train = pd.DataFrame({"child": ["a", "b"], "parent": ["P", "Q"]})
    maps = pd.DataFrame({"child": ["x", "h"], "parent": ["a", "b"]})
    pairs = encoder_pairs(train, maps, hidden={"h"})
    assert set(zip(pairs["child"], pairs["parent"], strict=True)) == {
        ("a", "P"),
        ("b", "Q"),
        ("x", "P"),
    }


def test_excludes1_notes_become_pairs_of_known_codes():
    ctx = pd.DataFrame(
        {
            "id": ["ICD10CM:A04", "ICD10CM:A28.2", "ICD10CM:A32"],
            "vocab": "ICD10CM",
            "excludes1": [
                ["extraintestinal yersiniosis (A28.2)", "listeriosis (A32.-)", "unknown (Z99.9)"],
                None,
                [],
            ],
        }
    )
    pairs = excludes_pairs(ctx)
    assert set(zip(pairs["a"], pairs["b"], strict=True)) == {
        ("ICD10CM:A04", "ICD10CM:A28.2"),
        ("ICD10CM:A04", "ICD10CM:A32"),
    }
