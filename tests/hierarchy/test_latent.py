"""Stage III latent groups (mash_kg/latent.py): clusters of the codes left without a parent, per
domain, two members or more, with stable ids, readable names and member scores in [0, 1]."""

from __future__ import annotations

import numpy as np
import pytest

from mash_kg.hierarchy.latent import clusters, latent_groups, latent_id, latent_name, member_edges
from mash_kg.settings import HierarchySettings


def _unit(rows: list[tuple]) -> np.ndarray:
    v = np.array(rows, dtype=np.float64)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clusters_find_tight_groups_and_leave_the_loners(seed):
    rng = np.random.default_rng(seed)
    centres = np.eye(6)[:3]
    rows = [c + rng.normal(0, 0.02, 6) for c in centres for _ in range(4)]
    rows.append(np.eye(6)[5])  # a loner
    labels = clusters(_unit(rows), cut=0.6)
    assert [len(set(labels[k * 4 : k * 4 + 4])) for k in range(3)] == [1, 1, 1]
    assert len(set(labels[:12])) == 3 and labels[12] not in set(labels[:12])


def test_groups_never_cross_a_domain_and_singletons_are_no_group():
    ids = ["a1", "a2", "b1", "b2", "c1"]
    text = _unit([(1, 0, 0), (1, 0.05, 0), (1, 0.02, 0.01), (0, 1, 0), (0, 0, 1)])
    names = ["Blood pressure sys", "Blood pressure dia", "Blood x", "Other", "Alone"]
    domain = np.array(["lab", "lab", "diagnosis", "diagnosis", "lab"])
    row = {c: i for i, c in enumerate(ids)}
    groups = latent_groups(ids, text, names, row, domain, HierarchySettings(latent_cut=0.6))
    (g,) = [g for g in groups if g.domain == "lab"]
    assert g.members == ["a1", "a2"] and g.size == 2 and g.id == latent_id(["a2", "a1"])
    assert g.name == "Blood pressure group (2 codes)"
    np.testing.assert_allclose(np.linalg.norm(g.centre), 1.0)
    assert all(set(x.members) <= {"b1", "b2"} for x in groups if x.domain == "diagnosis")
    assert latent_groups([], text, names, row, domain, HierarchySettings()) == []


def test_member_scores_are_cosines_to_the_centre_clipped_to_unit_range():
    text = _unit([(1, 0), (1, 0.2), (-1, 0)])
    row = {"a": 0, "b": 1, "c": 2}
    # with c far away, a and b are well under latent_cut x the median distance
    unplaced, names, domain = ["a", "b", "c"], ["x a", "x b", "y"], np.array(["d"] * 3)
    groups = latent_groups(unplaced, text, names, row, domain, HierarchySettings())
    (g,) = groups
    edges = member_edges(g, text, row)
    assert [e[:2] for e in edges] == [("a", g.id), ("b", g.id)]
    assert all(0 < e[2] <= 1 and e[3:] == (1, "Latent") for e in edges)
    g.members.append("c")  # a member opposite the centre scores 0, not a negative
    assert member_edges(g, text, row)[-1][2] == 0.0


def test_ids_are_stable_hashes_and_names_deterministic():
    assert latent_id(["b", "a"]) == latent_id(["a", "b"]) != latent_id(["a", "c"])
    assert latent_id(["a"]).startswith("LATENT:") and len(latent_id(["a"])) == 19
    names = ["Systolic blood pressure", "Diastolic blood pressure", "Blood pressure panel"]
    assert latent_name(names) == latent_name(list(reversed(names)))
    assert latent_name(["of the", "and or"]) == "Unnamed group (2 codes)"
