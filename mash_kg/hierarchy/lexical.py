"""Spelling evidence for Stage III: character n-gram TF-IDF vectors of code names.

A sentence encoder reads meaning and blurs spelling; the spelling carries what a class shares
(drug stems such as -pril, -olol, -sartan; rare disease words common to a family). Stage III
adds the cosine of these vectors, code against candidate family, to the encoder's.
"""

from __future__ import annotations

import numpy as np


def lexical_vectors(names: list[str]):
    """Unit TF-IDF vectors (sparse) of each name's character 3-5-grams within words: the
    spelling evidence a sentence encoder blurs (drug stems such as -pril, -olol, -sartan;
    rare disease words shared by a family)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    if not names:
        return None
    tf = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, dtype=np.float64
    )
    try:
        return normalize(tf.fit_transform(names))
    except ValueError:  # no name has three characters: no spelling evidence
        return None


def lexical_families(lex, cand_rows: np.ndarray, child_rows: np.ndarray, parent_rows: np.ndarray):
    """Unit sparse vector per candidate: its name's n-grams plus its known children's."""
    import scipy.sparse as sp
    from sklearn.preprocessing import normalize

    pos = {int(r): k for k, r in enumerate(cand_rows)}
    keep = np.array([int(p) in pos for p in parent_rows], dtype=bool)
    rows = np.concatenate(
        [np.arange(len(cand_rows)), [pos[int(p)] for p in parent_rows[keep]]]
    ).astype(np.int64)
    cols = np.concatenate([cand_rows, child_rows[keep]]).astype(np.int64)
    m = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(cand_rows), lex.shape[0]))
    return normalize(m @ lex)
