"""The patient task's site generator (bench/patient_data.py): a share of a site's ICD-10-CM
codes relabelled to opaque local codes, their curated parents kept aside as the gold, and
nothing of the original code or its parent left in the inputs a build reads."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd
import pytest
import simple_icd_10_cm as icd

from mash_kg.sites import load_site

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from patient_data import parents_of, relabel_share, write_tables  # noqa: E402

# a real site: 12 Synthea patients with their diagnoses billed in ICD-10-CM
SITE_A = ROOT / "examples" / "two_sites" / "site_a"


@pytest.fixture(scope="module")
def site():
    return load_site("A", SITE_A / "codes.csv", events=SITE_A / "events.csv")


@pytest.fixture(scope="module")
def parents(site):
    """Curated parents from the ICD-10-CM release (simple-icd-10-cm) of the site's codes."""
    codes = site.codes[site.codes["vocab"] == "ICD10CM"]["code"]
    return {f"ICD10CM:{c}": [f"ICD10CM:{icd.get_parent(c)}"] for c in codes}


def test_a_share_is_relabelled_to_opaque_codes(site, parents):
    out = relabel_share(site, 0.5, parents, seed=3)
    gold = out.gold
    n_icd = int((site.codes["vocab"] == "ICD10CM").sum())
    assert gold["local_id"].nunique() == round(0.5 * n_icd)
    local = out.site.codes[out.site.codes["vocab"] == "LOCAL_DX"]
    assert set(local["id"]) == set(gold["local_id"])
    assert all(re.fullmatch(r"A/LOCAL_DX:\d{6}", i) for i in local["id"])
    # opaque: the local numbers do not follow the original codes' order
    pairs = gold.drop_duplicates("local_id").sort_values("original_id")
    assert list(pairs["local_id"]) != sorted(pairs["local_id"])
    # the rest untouched; every event follows its code
    kept = out.site.codes[out.site.codes["vocab"] != "LOCAL_DX"]
    assert len(kept) + len(local) == len(site.codes)
    assert set(kept["id"]) <= set(site.codes["id"])
    before = site.events["code"].value_counts()
    after = out.site.events["code"].value_counts()
    for loc, orig in zip(gold["local_id"], gold["original_id"], strict=True):
        assert after[loc] == before[orig]
    assert len(out.site.events) == len(site.events)


def test_parents_hidden_and_kept_as_gold(site, parents):
    out = relabel_share(site, 0.5, parents, seed=3)
    for orig, parent in zip(out.gold["original_id"], out.gold["parent"], strict=True):
        assert parents[orig] == [parent]
    originals = set(out.gold["original_id"])
    # the relabelled codes are gone from the inputs: no row, no event, no crosswalk
    assert not originals & set(out.site.codes["id"])
    assert not originals & set(out.site.events["code"])
    assert out.site.crosswalk is None
    # no trace of the original code or of its parent in a local row's code or name
    local = out.site.codes[out.site.codes["vocab"] == "LOCAL_DX"].set_index("id")
    for loc, orig, parent in out.gold.itertuples(index=False):
        row = local.loc[loc]
        for secret in (orig.split(":", 1)[1], parent.split(":", 1)[1]):
            assert secret not in row["code"] and secret.lower() not in row["name"].lower()


def test_deterministic_per_seed(site, parents):
    a = relabel_share(site, 0.5, parents, seed=3).gold
    b = relabel_share(site, 0.5, parents, seed=3).gold
    c = relabel_share(site, 0.5, parents, seed=4).gold
    pd.testing.assert_frame_equal(a, b)
    assert list(a["local_id"]) != list(c["local_id"])


def test_written_tables_read_back_as_the_build_reads_them(site, parents, tmp_path):
    out = relabel_share(site, 0.3, parents, seed=1)
    files = write_tables(out.site, tmp_path / "A")
    back = load_site("A", files["codes"], events=files["events"])
    assert set(back.codes["id"]) == set(out.site.codes["id"])
    assert len(back.events) == len(out.site.events.drop_duplicates())
    raw = files["codes"].read_text() + files["events"].read_text()
    for orig in out.gold["original_id"]:
        assert f",{orig.split(':', 1)[1]}," not in raw


def test_parents_of_reads_is_a_edges_only():
    edges = pd.DataFrame(
        {
            "start": ["ICD10CM:I10", "ICD10CM:I10", "ICD9CM:401.9"],
            "end": ["ICD10CM:I10-I1A", "ICD9CM:401.9", "ICD10CM:I10"],
            "type": ["IS_A", "MAPS_TO", "MAPS_TO"],
        }
    )
    assert parents_of(edges) == {"ICD10CM:I10": ["ICD10CM:I10-I1A"]}
