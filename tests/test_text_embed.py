"""Text embeddings with the real bundled all-MiniLM-L6-v2 model, offline, cached on disk."""

from __future__ import annotations

import numpy as np
import pytest

from mash_kg.errors import InputError
from mash_kg.text_embed import TextEmbedder, resolve_model


def test_real_model_embeds_and_ranks_meaning(tmp_path):
    emb = TextEmbedder(cache_dir=tmp_path)
    texts = [
        "Type 2 diabetes mellitus without complications",
        "diabetes mellitus type II, uncomplicated",
        "Fracture of shaft of right femur",
    ]
    v = emb.embed(texts)
    assert v.shape == (3, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.3


def test_cache_is_reused_and_keyed_by_text(tmp_path):
    first = TextEmbedder(cache_dir=tmp_path)
    a = first.embed(["glucose in serum", "potassium"])
    assert first.model_loads == 1
    second = TextEmbedder(cache_dir=tmp_path)
    b = second.embed(["potassium", "glucose in serum", "potassium"])
    assert second.model_loads == 0  # everything came from the cache
    np.testing.assert_allclose(b[1], a[0])
    np.testing.assert_allclose(b[0], b[2])
    third = TextEmbedder(cache_dir=tmp_path, batch_size=1)
    c = third.embed(["sodium", "potassium"])
    assert third.model_loads == 1
    np.testing.assert_allclose(c[1], a[1], atol=1e-6)


def test_batching_does_not_change_vectors(tmp_path):
    texts = [f"code description number {i}" for i in range(7)]
    one = TextEmbedder(batch_size=1).embed(texts)
    many = TextEmbedder(batch_size=5).embed(texts)
    np.testing.assert_allclose(one, many, atol=1e-5)


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="not a local transformers model folder"):
        resolve_model(str(tmp_path / "coder"))
