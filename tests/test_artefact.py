"""The build folder (mash_kg/artefact.py): written through BuildWriter, opened through Build,
refused in one line when damaged or of another layout version."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mash_kg import artefact
from mash_kg.artefact import SCHEMA_VERSION, TABLES, Build, BuildWriter, empty_table
from mash_kg.content import content_table, derive
from mash_kg.errors import InputError


def _stage1_tables() -> dict[str, pd.DataFrame]:
    codes = pd.DataFrame(
        {
            "id": ["X:1", "X:2", "X:1"],
            "site": ["A", "A", "B"],
            "vocab": "X",
            "code": ["1", "2", "1"],
            "name": ["one", "two", "one"],
            "domain": "lab",
            "frequency": 1,
        }
    )
    vec = [np.array([1.0, 0.0], dtype=np.float32)] * 3
    emb = codes[["id", "site"]].assign(
        text=vec, cooc=vec, context=vec, vector=vec, aligned=vec, in_graph=[True, True, False]
    )
    counterparts = pd.DataFrame(
        {
            "site": ["B"],
            "id": ["X:1"],
            "other_site": ["A"],
            "other_id": ["X:1"],
            "rank": [1],
            "score": [0.9],
            "transport": [np.nan],
            "method": ["text_nn"],
        }
    )
    cooc = empty_table("cooccurrence")
    return {"codes": codes, "embeddings": emb, "counterparts": counterparts, "cooccurrence": cooc}


def _write(builds, build_id="b1", fail: bool = False):
    with BuildWriter(builds) as out:
        for name, df in _stage1_tables().items():
            out.write(name, df)
        if fail:
            raise RuntimeError("a stage failed")
        out.write("content", content_table(out.reading()))
        return out.seal({"id": build_id, "stages": ["I"], "reference_site": "A"})


def test_a_sealed_build_opens_with_its_tables_and_version(tmp_path):
    folder = _write(tmp_path)
    assert folder == tmp_path / "b1"
    build = Build.open(folder)
    assert build.id == "b1" and build.manifest["schema_version"] == SCHEMA_VERSION
    assert sorted(build.manifest["tables"]) == sorted(
        TABLES[n].file(n)
        for n in ("codes", "embeddings", "counterparts", "cooccurrence", "content")
    )
    assert list(build.frame("codes")["id"]) == ["X:1", "X:2", "X:1"]
    assert build.frame_or_empty("hierarchy").columns.tolist() == list(TABLES["hierarchy"].columns)
    assert artefact.latest_build(tmp_path) == folder


def test_a_failed_build_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        _write(tmp_path, fail=True)
    assert list(tmp_path.iterdir()) == []


def test_sealing_a_build_without_a_table_of_its_stages_is_refused(tmp_path):
    with pytest.raises(ValueError, match="lacks content"), BuildWriter(tmp_path) as out:
        for name, df in _stage1_tables().items():
            out.write(name, df)
        out.seal({"id": "b1", "stages": ["I"]})
    assert list(tmp_path.iterdir()) == []


def test_writing_a_table_without_its_columns_is_refused(tmp_path):
    with BuildWriter(tmp_path) as out, pytest.raises(ValueError, match="lacks column"):
        out.write("codes", pd.DataFrame({"id": ["X:1"]}))


@pytest.mark.parametrize("version", [1, 2, SCHEMA_VERSION + 1])
def test_another_layout_version_is_one_line_naming_it(tmp_path, version):
    folder = _write(tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    if version == 1:
        del manifest["schema_version"]  # builds from before the field
    else:
        manifest["schema_version"] = version
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError) as err:
        Build.open(folder)
    line = str(err.value)
    assert "\n" not in line and f"build layout version {version}" in line
    assert ("older" if version < SCHEMA_VERSION else "newer") in line


def test_a_table_that_differs_from_the_manifest_is_refused(tmp_path):
    folder = _write(tmp_path)
    codes = pd.read_parquet(folder / "codes.parquet")
    codes.iloc[:1].to_parquet(folder / "codes.parquet", index=False)
    with pytest.raises(InputError, match="differs from the build's manifest"):
        Build.open(folder)
    assert Build.open(folder, verify=False).frame("codes").shape[0] == 1


def test_a_missing_column_is_named(tmp_path):
    folder = _write(tmp_path)
    pd.DataFrame({"id": ["X:1"]}).to_parquet(folder / "codes.parquet", index=False)
    with pytest.raises(InputError, match="missing column.*site"):
        Build.open(folder, verify=False).frame("codes")


def test_derive_reseals_an_edited_copy(tmp_path):
    src = _write(tmp_path / "builds")

    def edit(folder):
        df = pd.read_parquet(folder / "counterparts.parquet")
        df.assign(score=0.5).to_parquet(folder / "counterparts.parquet", index=False)

    dest = derive(src, tmp_path / "b2", "b2", edit)
    build = Build.open(dest)
    assert build.id == "b2" and build.frame("counterparts")["score"].tolist() == [0.5]
    before = Build.open(src).frame("content").set_index("id")["edges_hash"]
    after = build.frame("content").set_index("id")["edges_hash"]
    assert (before != after).tolist() == [True, False]  # X:1's outgoing edge changed, X:2 not
