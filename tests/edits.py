"""Editing a copied project file in a test: an edit that finds nothing fails the test instead of
silently leaving the file as it was (the example changed: update the test with it)."""

from __future__ import annotations

from pathlib import Path


def replace_once(path: Path, *edits: tuple[str, str]) -> str:
    """Apply each (old, new) edit to the file in order, each `old` occurring exactly once in
    the text it is applied to; write the file and return its new text."""
    text = Path(path).read_text()
    for old, new in edits:
        found = text.count(old)
        assert found == 1, f"{path}: {old!r} occurs {found} times, expected once"
        text = text.replace(old, new)
    Path(path).write_text(text)
    return text
