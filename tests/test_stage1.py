"""Stage I (`mash_kg.stage1`) on tiny sites: anchors beyond identical codes, each site's vectors,
the views fused alignment weighs, and the counterparts table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mash_kg.features import FEATURE_WEIGHTS
from mash_kg.sites import SiteData
from mash_kg.stage1 import (
    COUNTERPART_COLUMNS,
    align_to_reference,
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
