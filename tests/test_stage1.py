"""Stage I (`mash_kg.stage1`) on tiny sites: anchors beyond identical codes, each site's vectors,
the views fused alignment weighs, and the counterparts table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from mash_kg.align import METHODS
from mash_kg.features import FEATURE_WEIGHTS
from mash_kg.fusion import WEIGHT_GRID, rank_with
from mash_kg.sites import SiteData
from mash_kg.stage1 import (
    COUNTERPART_COLUMNS,
    SiteVectors,
    align_to_reference,
    aligned_features,
    anchor_pairs,
    fused_views,
    site_vectors,
)


def _codes(site, rows):
    return pd.DataFrame([{"id": i, "site": site, "vocab": v, "code": c} for i, v, c in rows])


def test_anchors_come_from_shared_ids_crosswalks_and_who_icd10_codes():
    src = _codes(
        "B",
        [
            ("LOINC:2345-7", "LOINC", "2345-7"),
            ("ICD10:E11", "ICD10", "E11"),
            ("B/DE_LAB:17", "DE_LAB", "17"),
            ("ICD9CM:250.00", "ICD9CM", "250.00"),
            ("B/DE_LAB:99", "DE_LAB", "99"),
            ("B/DX:5", "DX", "5"),
        ],
    )
    tgt = _codes(
        "A",
        [
            ("LOINC:2345-7", "LOINC", "2345-7"),
            ("ICD10CM:E11", "ICD10CM", "E11"),
            ("ICD10CM:E11.9", "ICD10CM", "E11.9"),
            ("A/LAB:x", "LAB", "x"),
            ("A/DX:5", "DX", "5"),
        ],
    )
    crosswalk = pd.DataFrame(
        [
            ("ICD9CM:250.00", "ICD10CM:E11.9", "gem_icd9_icd10cm"),  # the graph's GEM
            ("B/DE_LAB:99", "LOINC:1111-1", "fhir_coding"),  # B codes 99 also as LOINC 1111-1
            ("A/LAB:x", "LOINC:1111-1", "fhir_coding"),
        ],  # ... and so does A's local lab x
        columns=["id", "other_id", "source"],
    )
    pairs = {tuple(p) for p in anchor_pairs(src, tgt, crosswalk=crosswalk)}
    # shared id; WHO E11 = ICD-10-CM E11; GEM; local 99 = LOINC 1111-1 = local x (two hops);
    # site-local codes with the same code string are not the same concept
    assert pairs == {(0, 0), (1, 1), (3, 2), (4, 3)}
    assert {tuple(p) for p in anchor_pairs(src, tgt, vocabs=["ICD10CM"])} == {(1, 1)}


# -- vectors, views and counterparts of two tiny sites ---------------------------------------
LABS = ["LOINC:1", "LOINC:2", "LOINC:3", "LOINC:4"]
# raw text vectors of the four codes (what the text model would give): 1 and 2 read alike
RAW = np.array(
    [
        [1.0, 0.2, 0.0, 0.0, 0.1, 0.0],
        [0.9, 0.3, 0.0, 0.1, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.2, 0.0, 0.3],
        [0.0, 0.1, 0.0, 0.0, 1.0, 0.5],
    ]
)


def _site(site: str, ids: list[str], events: list[tuple[str, str, str]] | None) -> SiteData:
    codes = pd.DataFrame(
        {
            "id": ids,
            "site": site,
            "vocab": "LOINC",
            "code": [i.split(":")[1] for i in ids],
            "name": ids,
            "name_de": ids,  # a name column the names step reads; never build output
            "domain": "lab",
            "frequency": 1.0,
        }
    )
    ev = None if events is None else pd.DataFrame(events, columns=["patient_id", "date", "code"])
    return SiteData(site, codes, events=ev)


# p1: 1 and 2 the same day; p2: 1 and 2 again, 3 nine days later; p3: 4 alone
EVENTS = [
    ("p1", "2020-01-01", "LOINC:1"),
    ("p1", "2020-01-01", "LOINC:2"),
    ("p2", "2020-02-01", "LOINC:1"),
    ("p2", "2020-02-01", "LOINC:2"),
    ("p2", "2020-02-10", "LOINC:3"),
    ("p3", "2020-03-01", "LOINC:4"),
]


def test_site_vectors_count_project_and_embed_each_site():
    order = [2, 0, 3, 1]  # site B lists the same codes in another order
    a = _site("A", LABS, EVENTS)
    b = _site("B", [LABS[i] for i in order], EVENTS)
    va, vb = site_vectors([a, b], [RAW, RAW[order]], dim=8, window_days=30, min_cell_count=2)
    # the counts in the codes' row order; 1-3 and 2-3 (one patient each) are small cells
    expected = np.zeros((4, 4))
    expected[0, 1] = expected[1, 0] = 2
    np.testing.assert_array_equal(va.counts.toarray(), expected)
    for half in (va.text, va.cooc, va.context):
        assert half.shape == (4, 4)
    np.testing.assert_allclose(np.linalg.norm(va.vector, axis=1), 1)
    np.testing.assert_allclose(np.linalg.norm(va.raw_text, axis=1), 1)
    # one projection for all sites: the same raw text is the same text half at both
    np.testing.assert_allclose(vb.text, va.text[order], atol=1e-12)
    # a code's context is the text of the codes it co-occurs with; none: zero
    np.testing.assert_allclose(va.context[0], va.text[1] / np.linalg.norm(va.text[1]))
    assert not va.context[2:].any() and not va.cooc[2:].any()
    assert not [c for c in va.codes.columns if c.startswith("name_")]
    assert list(va.codes["id"]) == LABS


def test_fused_views_leave_out_a_view_without_signal_at_a_site():
    with_events = site_vectors([_site("A", LABS, EVENTS), _site("B", LABS, EVENTS)], [RAW, RAW], 8)
    views = fused_views(*reversed(with_events), "both", FEATURE_WEIGHTS, "sinkhorn")
    assert set(views) == {"text", "context", "cooc", "transport"}
    assert views["text"].source is with_events[1].raw_text  # the text model's own space
    assert (views["cooc"].fit, views["transport"].fit) == ("procrustes", "sinkhorn")
    # site B brings no co-occurrence: its cooc and context halves are zero, text ranks alone
    a, b = site_vectors([_site("A", LABS, EVENTS), _site("B", LABS, None)], [RAW, RAW], 8)
    assert not b.cooc.any() and not b.context.any()
    assert set(fused_views(b, a, "both", FEATURE_WEIGHTS, "sinkhorn")) == {"text", "transport"}


def test_align_to_reference_ranks_counterparts_of_every_code():
    order = [2, 0, 3, 1]
    vectors = site_vectors(
        [_site("A", LABS, EVENTS), _site("B", [LABS[i] for i in order], EVENTS)],
        [RAW, RAW[order]],
        8,
    )
    aligned, table, report = align_to_reference(vectors, reference=0, top_k=2)
    assert list(table.columns) == COUNTERPART_COLUMNS and len(table) == 4 * 2
    assert set(table["site"]) == {"B"} and set(table["other_site"]) == {"A"}
    top = table[table["rank"] == 1].set_index("id")["other_id"]
    assert top.to_dict() == {c: c for c in LABS}  # the same codes, read the same
    # four shared codes are too few anchors to validate a map: the text ranks, and says so
    assert report["B"]["anchors"] == 4 and set(table["evidence"]) == {"text"}
    assert report["B"]["notes"] and set(aligned) == {"A", "B"}


def _random_site(site: str, n: int, half: int, seed: int) -> SiteVectors:
    rng = np.random.default_rng(seed)
    codes = pd.DataFrame({"id": [f"{site}/L:{i}" for i in range(n)], "site": site})
    return SiteVectors(
        codes,
        sp.csr_matrix((n, n)),
        rng.standard_normal((n, half)),
        rng.standard_normal((n, half)),
        rng.standard_normal((n, half)),
        raw_text=rng.standard_normal((n, 3 * half)),  # the text model's own width differs
    )


_WEIGHT = st.sampled_from([w for w in WEIGHT_GRID if w > 0])
_ADOPTED = st.fixed_dictionaries(
    {},
    optional={"text": st.just(1.0), "context": _WEIGHT, "cooc": _WEIGHT, "transport": _WEIGHT},
).filter(bool)


@settings(max_examples=30, deadline=None)
@given(
    weights=st.tuples(_ADOPTED, _ADOPTED),
    transport=st.sampled_from(METHODS),
    n_anchors=st.sampled_from([2, 6]),  # a map needs two (fuse adopts none without)
    seed=st.integers(0, 2**16),
)
def test_aligned_vectors_have_the_reference_width_whatever_views_fusion_adopts(
    weights, transport, n_anchors, seed
):
    """Every combination of adopted views (per domain) and transport maps, Procrustes
    included (the co-occurrence view's fit too): the aligned vectors are the alignment
    features in the reference's width, and only the alignment view gives a plan."""
    sv, ref = _random_site("B", 24, 4, seed), _random_site("A", 20, 4, seed + 1)
    views = fused_views(sv, ref, "both", FEATURE_WEIGHTS, transport)
    domains = np.array(["lab", "diagnosis"] * 12)
    anchors = np.stack([np.arange(n_anchors), np.arange(n_anchors)], axis=1)
    per_domain = dict(zip(("lab", "diagnosis"), weights, strict=True))
    f = rank_with(views, anchors, per_domain, domains, k=3, seed=seed, epochs=3, hidden=16)
    src, tgt = sv.features("both", FEATURE_WEIGHTS), ref.features("both", FEATURE_WEIGHTS)
    aligned = aligned_features(f, src, tgt, anchors)
    assert aligned.shape == (24, tgt.shape[1]) and np.isfinite(aligned).all()
    uses_transport = any("transport" in w for w in weights)
    assert (f.mapped is not None) == uses_transport
    for d, w in per_domain.items():
        rows = domains == d
        if "transport" not in w:
            assert np.isnan(f.transport[rows]).all()
