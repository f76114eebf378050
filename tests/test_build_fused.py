"""`mash-kg build` with the default alignment (`fused`) on sites whose co-occurrence carries
the evidence: fusion adopts the co-occurrence view, and the build still writes every site's
aligned vectors in the reference's width (issue 20: it crashed stacking the 64-wide
co-occurrence block under the features)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from click.testing import CliRunner

from mash_kg.cli import cli

N = 60  # lab codes both sites share (every one an anchor)
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]


def _walks(seed: int, graph: list[np.ndarray]) -> pd.DataFrame:
    """Patients' records as walks over one graph of codes: the sites' co-occurrence agrees."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(400):
        c = int(rng.integers(N))
        for d in range(6):
            rows.append((f"p{p}", f"2021-01-{1 + d:02d}", str(1000 + c)))
            c = int(rng.choice(graph[c]))
    return pd.DataFrame(rows, columns=["patient_id", "date", "code"])


def test_the_default_build_adopting_cooccurrence_writes_aligned_vectors(tmp_path):
    rng = np.random.default_rng(0)
    graph = [rng.choice(N, 3, replace=False) for _ in range(N)]
    # names that say nothing about the code (B's are shuffled): the co-occurrence decides
    names = [f"item {WORDS[i % 8]} {i // 8}" for i in range(N)]
    shuffled = [names[j] for j in np.random.default_rng(5).permutation(N)]
    for site, seed, site_names in (("a", 1, names), ("b", 2, shuffled)):
        (tmp_path / site).mkdir()
        pd.DataFrame(
            {
                "code": [str(1000 + i) for i in range(N)],
                "vocab": "LOINC",
                "domain": "lab",
                "name": site_names,
            }
        ).to_csv(tmp_path / site / "codes.csv", index=False)
        _walks(seed, graph).to_csv(tmp_path / site / "events.csv", index=False)
    cfg = tmp_path / "mash-kg.toml"
    cfg.write_text(  # align_method left at its default
        "[model]\ndim = 16\n[hierarchy]\nenabled = false\n"
        '[[sites]]\nid = "A"\ncodes = "a/codes.csv"\nevents = "a/events.csv"\n'
        '[[sites]]\nid = "B"\ncodes = "b/codes.csv"\nevents = "b/events.csv"\n'
    )
    res = CliRunner().invoke(cli, ["--config", str(cfg), "build"])
    assert res.exit_code == 0, res.output
    (folder,) = (tmp_path / "builds").iterdir()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["model"]["align_method"] == "fused"
    assert "cooc" in manifest["sites"]["B"]["alignment"]["weights"]["lab"]
    assert manifest["sites"]["B"]["names"]["name_sources"] == {"name": N}
    emb = pq.read_table(folder / "embeddings.parquet").to_pandas()
    widths = {site: {len(v) for v in rows["aligned"]} for site, rows in emb.groupby("site")}
    assert widths == {"A": {24}, "B": {24}}  # [text; co-occurrence; context] = 3 x dim/2
    cp = pd.read_parquet(folder / "counterparts.parquet")
    top = cp[cp["rank"] == 1]
    assert (top["id"].str.removeprefix("B/") == top["other_id"]).mean() > 0.25
