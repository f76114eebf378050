"""Bounded input reading (mash_kg/inputs.py) and its wiring into the CLI: a FIFO, a device, a
folder, a link loop, deep JSON or TOML are each one clear line, never a hang or a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from mash_kg.errors import InputError
from mash_kg.inputs import check_input, load_json, load_toml, nesting, read_text

DEEP = 100_000


def test_a_fifo_without_a_writer_is_refused_without_opening_it(tmp_path):
    fifo = tmp_path / "in.csv"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(InputError, match=r"is a pipe \(FIFO\), which may never end"):
        read_text(fifo)
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("path", ["/dev/zero", "/dev/stdin", "/proc/self/mem"])
def test_devices_and_kernel_files_are_refused(path):
    with pytest.raises(InputError, match="system file"):
        check_input(path)


def test_folders_loops_missing_and_big_files(tmp_path):
    with pytest.raises(InputError, match="is a folder, not a input file"):
        check_input(tmp_path)
    assert check_input(tmp_path, dir_ok=True) == tmp_path
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(InputError, match="symbolic link loop"):
        check_input(loop)
    with pytest.raises(InputError, match="input file not found"):
        check_input(tmp_path / "nope")
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 2048)
    with pytest.raises(InputError, match="more than a input file may be"):
        check_input(big, limit=1024)


def test_deep_json_and_toml_are_one_line(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * DEEP + "]" * DEEP)
    with pytest.raises(InputError, match="nests deeper than 64 levels"):
        load_json(deep)
    toml = tmp_path / "deep.toml"
    toml.write_text("x = " + "[" * DEEP + "]" * DEEP + "\n")
    with pytest.raises(InputError, match="nests deeper than 64 levels"):
        load_toml(toml)
    tables = tmp_path / "tables.toml"
    tables.write_text("[" + ".".join(["a"] * 500) + "]\nx = 1\n")
    with pytest.raises(InputError, match="nests deeper than 64 levels"):
        load_toml(tables)
    ok = tmp_path / "ok.json"
    ok.write_text('{"a": [1, {"b": "[[[[ in a string"}]}')
    assert load_json(ok) == {"a": [1, {"b": "[[[[ in a string"}]}
    assert nesting({"a": [1, {"b": []}]}) == 4


def test_binary_and_non_utf8_text_are_one_line(tmp_path):
    nul = tmp_path / "nul.toml"
    nul.write_bytes(b"x = 1\x00")
    with pytest.raises(InputError, match="NUL bytes"):
        load_toml(nul)
    latin = tmp_path / "latin.json"
    latin.write_bytes('{"a": "Prot\xe9ine"}'.encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8 text"):
        load_json(latin)


def _cli(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mash_kg", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["load", "edges", "--vocab", "LAB", "--file", "{fifo}"],
        ["load", "obo", "--file", "/dev/zero"],
        ["phenotype", "import", "{fifo}"],
        ["phenotype", "import", "{deep}"],
        ["--config", "{fifo}", "build"],
        ["--config", "{deep_toml}", "build"],
    ],
)
def test_the_cli_answers_hostile_inputs_in_one_line(tmp_path, args):
    """Before the fix: a FIFO hung, /dev/zero read until memory ran out, deep JSON or TOML was
    'internal error (RecursionError)'. None of these reaches the graph."""
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    deep = tmp_path / "deep.json"
    deep.write_text('{"ConceptSets": ' + "[" * DEEP + "]" * DEEP + "}")
    deep_toml = tmp_path / "mash.toml"
    deep_toml.write_text("x = " + "[" * DEEP + "]" * DEEP + "\n")
    argv = [a.format(fifo=fifo, deep=deep, deep_toml=deep_toml) for a in args]
    proc = _cli(*argv, cwd=tmp_path)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:") and "internal error" not in lines[0], lines


def test_deep_fhir_json_is_one_line(tmp_path):
    """A FHIR bundle nested 100,000 deep: RecursionError ('internal error') before the fix."""
    from loaders.fhir import Source, _resources

    deep = tmp_path / "Condition.json"
    deep.write_text('{"resourceType": "Bundle", "entry": ' + "[" * DEEP + "]" * DEEP + "}")
    with pytest.raises(InputError, match="nests deeper than 64 levels"):
        list(_resources(Source(deep, explicit=True)))
