"""Structure-aware text features (`mash_kg.features`) on hand-made trees and co-occurrences."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from mash_kg.features import neighbour_text, parent_index, tree_context

# a tree R <- A <- A1 <- A1x, and B outside it; text: one axis per code
IDS = ["R", "A", "A1", "A1x", "B"]
TEXT = np.eye(5)


def test_parent_index_takes_the_first_parent_among_the_ids():
    parents = parent_index(IDS, ["A", "A1", "A1x", "A1", "Z"], ["R", "A", "A1", "B", "R"])
    # A1's second parent (B) is ignored; Z is no id; R and B have no parent
    assert parents.tolist() == [-1, 0, 1, 2, -1]


def test_tree_context_stacks_the_weighted_text_of_each_ancestor():
    parents = parent_index(IDS, ["A", "A1", "A1x"], ["R", "A", "A1"])
    ctx = tree_context(TEXT, parents, weights=(1.0, 0.5, 0.25))
    assert ctx.shape == (5, 15)
    a1x = ctx[3].reshape(3, 5)  # itself, its parent A1, its grandparent A
    np.testing.assert_array_equal(a1x, [TEXT[3], 0.5 * TEXT[2], 0.25 * TEXT[1]])
    root = ctx[0].reshape(3, 5)  # zeros above the root
    np.testing.assert_array_equal(root, [TEXT[0], np.zeros(5), np.zeros(5)])


def test_neighbour_text_is_the_weighted_mean_of_co_occurring_codes():
    w = np.zeros((5, 5))
    w[0, 1] = w[1, 0] = 3.0  # R with A, weight 3
    w[0, 2] = w[2, 0] = 1.0  # R with A1, weight 1
    ctx = neighbour_text(TEXT, sp.csr_matrix(w))
    expected = np.array([0, 3, 1, 0, 0]) / np.sqrt(10)  # (3 A + 1 A1) / 4, unit norm
    np.testing.assert_allclose(ctx[0], expected)
    np.testing.assert_allclose(ctx[1], TEXT[0])  # A's only neighbour is R
    assert not ctx[3:].any()  # no neighbours: zero
