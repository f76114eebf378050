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


# ---------------------------------------------------------------- values, read once, newest


def _edited(tmp_path, table: str, change) -> Build:
    src = _write(tmp_path / "builds")

    def edit(folder):
        if table is None:
            change(folder)
            return
        df = pd.read_parquet(folder / f"{table}.parquet")
        change(df)
        df.to_parquet(folder / f"{table}.parquet", index=False)

    return derive(src, tmp_path / "edited", "edited", edit)


def _nan_aligned(folder):
    """Row 2's aligned vector gets a NaN (written as a float, not as a missing value)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(folder / "embeddings.parquet")
    vectors = table.column("aligned").to_pylist()
    vectors[1] = [float("nan"), 0.0]
    column = pa.array(vectors, type=table.schema.field("aligned").type, from_pandas=False)
    table = table.set_column(table.schema.get_field_index("aligned"), "aligned", column)
    pq.write_table(table, folder / "embeddings.parquet")


@pytest.mark.parametrize(
    "table, change, message",
    [
        ("counterparts", lambda df: df.__setitem__("score", np.nan), "score = nan is not a finite"),
        ("counterparts", lambda df: df.__setitem__("score", np.inf), "score = inf is not a finite"),
        (None, _nan_aligned, "aligned holds a NaN or infinite value"),
        ("counterparts", lambda df: df.__setitem__("other_id", "X:9"), "other_id 'X:9' is not"),
    ],
)
def test_values_are_checked_once_the_checksums_match(tmp_path, table, change, message):
    """A resealed build (checksums match) with a NaN, an infinity or a dangling reference: sync
    and eval read it as valid before the fix (NaN vectors were stored as zeros)."""
    folder = _edited(tmp_path, table, change)
    with pytest.raises(InputError, match=message) as exc:
        Build.open(folder)
    assert f"{table or 'embeddings'}.parquet, row " in str(exc.value)


def test_points_outside_the_ball_are_refused(tmp_path):
    pd.DataFrame(
        {
            "id": ["X:1", "X:2"],
            "role": "code",
            "point": [np.array([0.3, 0.4]), np.array([0.9, 0.9])],
            "norm": [0.5, 1.27],
            "depth": 1,
        }
    ).to_parquet(tmp_path / "poincare.parquet", index=False)
    with pytest.raises(InputError, match="row 2: point of norm 1.2728 lies outside the ball"):
        artefact._check_points(Build(tmp_path, {"id": "x"}))


def test_a_build_made_with_top_k_zero_is_refused(tmp_path):
    folder = _write(tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["settings"] = {"model": {"top_k": 0}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="top_k = 0: it has no counterparts"):
        Build.open(folder)


def test_what_was_verified_is_what_is_read(tmp_path):
    """A table replaced between the check and the read: the verified bytes are read."""
    folder = _write(tmp_path)
    build = Build.open(folder)
    codes = pd.read_parquet(folder / "codes.parquet")
    codes.assign(name="swapped").to_parquet(folder / "codes.parquet", index=False)
    assert build.frame("codes")["name"].tolist() == ["one", "two", "one"]


def test_the_newest_build_is_chosen_by_creation_time_not_name(tmp_path):
    new = _write(tmp_path, "20260101T000000-new")
    old = _write(tmp_path, "old-copy-20250101")
    for folder, when in ((new, "2026-01-01T00:00:00+00:00"), (old, "2025-01-01T00:00:00+00:00")):
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["created_at"] = when
        (folder / "manifest.json").write_text(json.dumps(manifest))
    assert artefact.latest_build(tmp_path) == new


# ---------------------------------------------------------------- deferred tables (sync)


def test_a_deferred_table_is_checked_whole_when_first_read(tmp_path):
    """sync opens a build with its embeddings deferred: a NaN vector in a resealed build is not
    read at open, and is refused (row named) the first time the vectors are read, and again on
    every later read: nothing unchecked is ever returned."""
    folder = _edited(tmp_path, None, _nan_aligned)
    build = Build.open(folder, defer=("embeddings",))
    assert build.frame("codes").shape[0] == 3  # the other tables were verified at open
    for _ in range(2):
        with pytest.raises(InputError, match="aligned holds a NaN or infinite value") as exc:
            build.table("embeddings", ["id", "aligned"])
        assert "embeddings.parquet, row 2" in str(exc.value)


def test_a_deferred_table_replaced_after_open_is_refused_when_read(tmp_path):
    """Same rows, other values, after the open: its digest is taken of the bytes read then."""
    folder = _write(tmp_path)
    build = Build.open(folder, defer=("embeddings",))
    emb = pd.read_parquet(folder / "embeddings.parquet")
    emb.assign(site="Z").to_parquet(folder / "embeddings.parquet", index=False)
    with pytest.raises(InputError, match="embeddings.parquet.*differs from the build's manifest"):
        build.frame("embeddings")


def test_a_truncated_deferred_table_is_refused_at_open(tmp_path):
    folder = _write(tmp_path)
    path = folder / "embeddings.parquet"
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(InputError, match="embeddings.parquet.*differs from the build's manifest"):
        Build.open(folder, defer=("embeddings",))
    emb = pd.read_parquet(_write(tmp_path / "other") / "embeddings.parquet")
    emb.iloc[:1].to_parquet(path, index=False)  # a readable table of another row count
    with pytest.raises(InputError, match="differs from the build's manifest"):
        Build.open(folder, defer=("embeddings",))
