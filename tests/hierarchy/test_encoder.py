"""The hierarchy encoder (`hierarchy.encoder`): hard negatives, family sampling, training into an
ordinary model folder. Its ball maths are mash_kg.poincare's (tests/test_poincare.py)."""

from __future__ import annotations

import numpy as np

from mash_kg.hierarchy.encoder import (
    EncoderSettings,
    family_weights,
    hard_negative_table,
    sample_families,
    train_encoder,
)
from mash_kg.text_embed import TextEmbedder, model_key, resolve_model

# rows: 0 root; 1, 2 its children; 3, 4 under 1; 5, 6 under 2
CHILD = np.array([1, 2, 3, 4, 5, 6])
PARENT = np.array([0, 0, 1, 1, 2, 2])


def test_hard_negatives_are_the_parents_siblings_and_excludes1_partners():
    hard = hard_negative_table(CHILD, PARENT, excludes=np.array([[3, 5]]))
    assert set(hard[3]) == {2, 5}  # its parent's sibling, and its Excludes1 partner
    assert set(hard[5]) == {1, 3}
    assert 0 not in hard.get(1, [])  # a root's children have no parent sibling


def test_every_depth_gets_the_same_share_of_families():
    parent_of = dict(zip(CHILD.tolist(), PARENT.tolist(), strict=True))
    families = np.array([0, 1, 2])
    w = family_weights(families, parent_of)
    assert np.isclose(w[0], 0.5) and np.isclose(w[1] + w[2], 0.5)


def test_a_family_batch_leaves_its_anchor_out():
    kids = {0: [1, 2], 1: [3, 4], 2: [5, 6]}
    parent_of = dict(zip(CHILD.tolist(), PARENT.tolist(), strict=True))
    hard = hard_negative_table(CHILD, PARENT)
    s = EncoderSettings(batch=2, family_size=4, hard_negatives=1)
    for seed in range(10):
        b = sample_families(np.array([1, 2]), kids, hard, parent_of, s, np.random.default_rng(seed))
        assert len(b.anchors) == len(b.target) > 0
        for a, t in zip(b.anchors, b.target, strict=True):
            fam = b.members[t]
            assert a in kids[int(fam[0])] and a not in fam  # its family, itself left out
        assert len(b.members) == len({int(m[0]) for m in b.members}) == 2


def test_training_writes_an_ordinary_model_folder_and_its_table(tmp_path):
    names = [
        "Diseases",
        "Diabetes mellitus",
        "Hypertension",
        "Type 1 diabetes mellitus",
        "Type 2 diabetes mellitus",
        "Essential hypertension",
        "Secondary hypertension",
    ]
    s = EncoderSettings(steps=3, batch=2, log_every=1, max_length=16)
    steps = []
    table = train_encoder(names, CHILD, PARENT, tmp_path / "enc", s, log=steps.append)
    assert list(table["step"]) == [1, 2, 3] and sum(steps) == 3
    assert np.isfinite(table[["loss", "clustering", "centripetal", "infonce"]].to_numpy()).all()
    assert (table["pairs"].diff().dropna() > 0).all()
    tuned = TextEmbedder(str(tmp_path / "enc")).embed(names[:2])
    base = TextEmbedder().embed(names[:2])
    assert tuned.shape == base.shape and not np.allclose(tuned, base)  # it did train
    # the text cache tells a fine-tuned copy from its base model (same file sizes)
    assert model_key(tmp_path / "enc") != model_key(resolve_model())


def test_a_time_budget_stops_training():
    s = EncoderSettings(steps=10_000, max_seconds=0.5, batch=2, log_every=1000)
    names = [f"name {i}" for i in range(7)]
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        table = train_encoder(names, CHILD, PARENT, tmp, s)
    assert 0 < table["step"].iloc[-1] < 10_000
