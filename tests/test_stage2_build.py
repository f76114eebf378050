"""Stage II's inputs to the hierarchy encoder (`mash_kg.stage2`): the pairs it trains on never
include held-out codes; Excludes1 notes become pairs of known codes. (tests/test_stage2.py: Stage
II's space.)"""

from __future__ import annotations

import pandas as pd

from mash_kg.stage2 import encoder_pairs, excludes_pairs


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
