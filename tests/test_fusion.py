"""Evidence fusion (`mash_kg.fusion`) validated on held-out anchors: a map is adopted only where it
validates, per domain."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ortho_group

from mash_kg.fusion import View, fuse


def _pair(n=300, d=12, text_noise=1.2, seed=0):
    """A cloud and its rotated, shuffled copy (the structure evidence: exact), and text
    vectors in one shared space that are right only sometimes (noisy copies)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    perm = rng.permutation(n)
    y = (x @ ortho_group.rvs(d, random_state=seed))[perm]
    match = np.argsort(perm)  # source row i is target row match[i]
    tx = rng.standard_normal((n, 16))
    ty = np.zeros_like(tx)
    ty[match] = tx + text_noise * rng.standard_normal(tx.shape)
    return x, y, tx, ty, match


def _text_top1(tx, ty):
    tn = tx / np.linalg.norm(tx, axis=1, keepdims=True)
    un = ty / np.linalg.norm(ty, axis=1, keepdims=True)
    return (tn @ un.T).argmax(axis=1)


def test_too_few_anchors_keep_the_text_ranking_and_say_so():
    x, y, tx, ty, match = _pair()
    anchors = np.stack([np.arange(5), match[:5]], axis=1)
    f = fuse(
        {"text": View(tx, ty), "transport": View(x, y, "sinkhorn", alignment=True)},
        anchors,
        min_anchors=20,
    )
    assert (f.idx[:, 0] == _text_top1(tx, ty)).all()  # exactly the text model's ranking
    assert f.weights == {"all": {"text": 1.0}} and set(f.evidence) == {"text"}
    assert f.notes and "5 anchor(s), too few to validate a map (need 20)" in f.notes[0]
    assert np.isnan(f.transport).all() and f.mapped is None


def test_a_map_that_validates_on_held_out_anchors_is_adopted():
    x, y, tx, ty, match = _pair()
    anchors = np.stack([np.arange(60), match[:60]], axis=1)
    f = fuse({"text": View(tx, ty), "transport": View(x, y, "sinkhorn", alignment=True)}, anchors)
    ev = np.arange(60, len(x))
    fused, text = (f.idx[ev, 0] == match[ev]).mean(), (_text_top1(tx, ty)[ev] == match[ev]).mean()
    assert text < 0.8 and fused > 0.95
    assert f.weights["all"].get("transport", 0) > 0 and "transport" in f.evidence[0]
    v = f.validation["all"]
    assert v["adopted"] and v["p_at_1_best"] > v["p_at_1_text"] and v["held_out"] == 60
    assert f.mapped is not None and np.isfinite(f.transport).all()


def test_a_map_that_does_not_validate_is_not_adopted():
    # the structure evidence is noise (an unrelated cloud), the text is nearly right
    x, _, tx, ty, match = _pair(text_noise=0.3)
    y = np.random.default_rng(9).standard_normal(x.shape)
    anchors = np.stack([np.arange(60), match[:60]], axis=1)
    f = fuse({"text": View(tx, ty), "transport": View(x, y, "procrustes")}, anchors)
    assert f.weights["all"] == {"text": 1.0}
    assert (f.idx[:, 0] == _text_top1(tx, ty)).all()
    assert "no weighting beat text alone" in f.notes[0]


def test_weights_are_chosen_per_domain_and_a_domain_without_anchors_keeps_text():
    x, y, tx, ty, match = _pair(n=400)
    domains = np.where(np.arange(400) < 200, "lab", "diagnosis")
    anchors = np.stack([np.arange(60), match[:60]], axis=1)  # all of them labs
    f = fuse(
        {"text": View(tx, ty), "transport": View(x, y, "sinkhorn", alignment=True)},
        anchors,
        domains=domains,
    )
    assert "transport" in f.weights["lab"] and f.weights["diagnosis"] == {"text": 1.0}
    dx = np.arange(200, 400)
    assert (f.idx[dx, 0] == _text_top1(tx, ty)[dx]).all()
    assert set(f.evidence[dx]) == {"text"} and np.isnan(f.transport[dx]).all()
    assert any(n.startswith("domain diagnosis: 0 anchor(s)") for n in f.notes)


def test_domains_with_a_few_anchors_each_are_validated_together():
    x, y, tx, ty, match = _pair(n=400)
    domains = np.array(["lab", "diagnosis", "procedure", "medication"] * 100)
    rows = np.flatnonzero(np.isin(domains, ["lab", "diagnosis"]))[:24]  # 12 each, < 20
    f = fuse(
        {"text": View(tx, ty), "transport": View(x, y, "sinkhorn", alignment=True)},
        np.stack([rows, match[rows]], axis=1),
        domains=domains,
    )
    for d in ("lab", "diagnosis"):
        assert "transport" in f.weights[d]
        assert f.validation[d]["validated_with"] == "diagnosis+lab"
    assert f.weights["procedure"] == f.weights["medication"] == {"text": 1.0}


def test_fusion_needs_a_text_view():
    with pytest.raises(ValueError, match="needs a 'text' view"):
        fuse({"transport": View(np.eye(3), np.eye(3), "sinkhorn")}, np.zeros((0, 2)))
    with pytest.raises(ValueError, match="unknown view fit"):
        fuse({"text": View(np.eye(3), np.eye(3), "magic")}, np.zeros((0, 2)))
