"""Bounded reading of the files a user names: what kind of file it is, how big, how deeply
nested. A pipe without a writer (hangs), /dev/zero (reads until memory runs out), a folder or
a link loop given as a file, and JSON or TOML nested deeper than a parser's recursion are each
one clear line (`InputError`) before anything reads them.

`check_input` looks at a path with stat() only (which never blocks, unlike open() on a FIFO);
`read_text`, `load_json` and `load_toml` read a checked file; `InputPath` is the click type of
`--file` options and file arguments.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import tomllib
from pathlib import Path

import click

from mash_kg.errors import InputError

MAX_TEXT_BYTES = 256 * 2**20  # a config or JSON document read whole into memory
MAX_NESTING = 64  # JSON arrays/objects, TOML tables and arrays: deeper is not a real input
_KINDS = {
    stat.S_ISFIFO: "a pipe (FIFO), which may never end",
    stat.S_ISCHR: "a character device, which may never end",
    stat.S_ISBLK: "a block device",
    stat.S_ISSOCK: "a socket",
}
_KERNEL = ("/proc", "/sys", "/dev")


def _kind(mode: int) -> str:
    for test, what in _KINDS.items():
        if test(mode):
            return what
    return "not a regular file"


def check_input(
    path: Path | str, what: str = "input file", *, dir_ok: bool = False, limit: int | None = None
) -> Path:
    """`path` if it is a regular file (or, with `dir_ok`, a folder) that can be read, of at most
    `limit` bytes; else one InputError naming it and what is wrong. Looks, never opens."""
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(path, f"{what} not found", hint="check the path") from None
    except OSError as exc:
        why = "a symbolic link loop" if exc.errno == errno.ELOOP else exc.strerror
        raise InputError(path, f"cannot read the {what} ({why})", hint="check the path") from None
    real = os.path.realpath(path)
    if any(real == k or real.startswith(k + "/") for k in _KERNEL):
        raise InputError(
            path, f"is a system file (under /proc, /sys or /dev), not a {what}", hint="pass a file"
        )
    if stat.S_ISDIR(st.st_mode):
        if dir_ok:
            return path
        raise InputError(path, f"is a folder, not a {what}", hint="pass the file inside it")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(path, f"is {_kind(st.st_mode)}, not a {what}", hint="pass a file")
    if limit is not None and st.st_size > limit:
        raise InputError(
            path,
            f"is {st.st_size / 2**20:,.0f} MiB, more than a {what} may be "
            f"({limit / 2**20:,.0f} MiB)",
            hint="check that this is the right file",
        )
    if not os.access(path, os.R_OK):
        raise InputError(path, f"the {what} is not readable (permission denied)")
    return path


def read_text(path: Path | str, what: str = "input file", limit: int = MAX_TEXT_BYTES) -> str:
    """The UTF-8 text of a checked file (at most `limit` bytes)."""
    path = check_input(path, what, limit=limit)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read the {what} ({exc.strerror})") from None
    if b"\x00" in data:
        raise InputError(path, f"the {what} holds NUL bytes (a binary file?)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def nesting(value: object, limit: int = MAX_NESTING) -> int:
    """How deeply lists and dicts nest in `value` (iteratively; stops counting past `limit`)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _too_deep(path: Path, what: str) -> InputError:
    return InputError(
        path,
        f"the {what} nests deeper than {MAX_NESTING} levels",
        hint="a real input is far flatter: check the file",
    )


def _bracket_depth(text: str) -> int:
    """The deepest nesting of [ and { in `text` outside strings (a quick bound taken before a
    recursive parser sees it)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


class InvalidJson(InputError):
    """A file that is not one JSON document; `reason` is the parser's message (for example
    "Extra data": a second document follows the first, as in NDJSON)."""

    def __init__(self, path: Path, exc: json.JSONDecodeError) -> None:
        super().__init__(path, f"not valid JSON ({exc.msg}, line {exc.lineno})")
        self.reason = exc.msg


def load_json(path: Path | str, what: str = "JSON file", limit: int = MAX_TEXT_BYTES) -> object:
    """The JSON document of a checked file; too deep, too big or malformed is one line."""
    path = Path(path)
    text = read_text(path, what, limit)
    if _bracket_depth(text) > MAX_NESTING:
        raise _too_deep(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidJson(path, exc) from None
    except RecursionError:
        raise _too_deep(path, what) from None


def load_toml(path: Path | str, what: str = "config file") -> dict:
    """The TOML document of a checked file; too deep, too big or malformed is one line."""
    path = Path(path)
    text = read_text(path, what, limit=16 * 2**20)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, f"not valid TOML: {exc}") from None
    except RecursionError:
        raise _too_deep(path, what) from None
    if nesting(doc) > MAX_NESTING:
        raise _too_deep(path, what)
    return doc


class InputPath(click.ParamType):
    """A click parameter naming an input file (or, with `dir_ok`, a folder): checked with
    `check_input` when parsed, so a FIFO or a device never reaches a loader."""

    name = "path"

    def __init__(self, dir_ok: bool = True, what: str = "input file") -> None:
        self.dir_ok = dir_ok
        self.what = what

    def convert(self, value, param, ctx) -> Path:
        return check_input(Path(value).expanduser(), self.what, dir_ok=self.dir_ok)
