"""Spelling evidence (`mash_kg.hierarchy.lexical`): character n-grams find a drug stem."""

from __future__ import annotations

import numpy as np

from mash_kg.hierarchy.lexical import lexical_families, lexical_vectors


def test_spelling_evidence_finds_a_drug_stem():
    names = [
        "enalapril",
        "lisinopril",
        "ACE inhibitors",
        "atenolol",
        "metoprolol",
        "beta blocking agents",
        "ramipril",
    ]
    lex = lexical_vectors(names)
    fam = lexical_families(lex, np.array([2, 5]), np.array([0, 1, 3, 4]), np.array([2, 2, 5, 5]))
    sims = (lex[[6]] @ fam.T).toarray()[0]
    assert sims[0] > sims[1] > -1  # ramipril reads like the -pril family
