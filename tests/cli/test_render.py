"""What the CLI prints (mash_kg/cli/render.py): cells verbatim, rows as CSV / JSON."""

from __future__ import annotations

import json

from mash_kg.cli.render import console, format_rows, print_rows


def test_table_cells_are_printed_verbatim():
    with console.capture() as captured:
        print_rows([{"name": "hemoglobin [mass fraction] in blood"}])
    assert "[mass fraction]" in captured.get()


def test_rows_as_csv_and_json():
    rows = [{"id": "ICD10CM:E11.9", "depth": 3}, {"id": "ICD10CM:E11", "depth": None}]
    assert format_rows(rows, "csv").splitlines() == ["id,depth", "ICD10CM:E11.9,3", "ICD10CM:E11,"]
    assert json.loads(format_rows(rows, "json")) == rows
    assert format_rows([], "csv") == ""


# ---------------------------------------------------------------- data is never markup or control

MARKUP = "[/]MK:[bold]1[/bold]"  # closes a tag never opened: rich raised MarkupError on it


def _report(subject: str, vocab: str):
    from mash_kg.graph.reconcile.engine import Counts, Report

    return Report(
        subject=subject,
        kinds={f"{vocab} codes": Counts(added=1)},
        vocabularies=[vocab],
        skipped=1,
        skipped_examples=[f"{vocab}:1 -> {vocab}:2"],
    )


def test_markup_in_data_is_text_in_every_report():
    """A `[/]` in an OBO prefix, a build id, a phenotype id or a path prints as itself: before
    the fix each of these raised MarkupError after the write had committed."""
    from mash_kg.cli import render

    with console.capture() as captured:
        render.print_report(_report(MARKUP, MARKUP))
        render.print_sync(_report(f"build {MARKUP}", "b"), dry_run=False)
        render.line(f"imported 1 phenotype(s) ({MARKUP}), 2 items")
        render.say(f"wrote /tmp/{MARKUP}/CONCEPT.csv")
        render.print_rows([{"id": MARKUP}], title=MARKUP)
    out = captured.get()
    assert out.count(MARKUP) >= 5, out


def test_notes_and_warnings_keep_data_verbatim(capsys):
    from mash_kg.cli import render

    render.notice(f"prefix {MARKUP}")
    render.warn(f"build {MARKUP}")
    err = capsys.readouterr().err
    assert f"note: prefix {MARKUP}" in err and f"warning: build {MARKUP}" in err


def test_terminal_escapes_in_data_are_shown_not_obeyed():
    """An OSC sequence in a name would retitle the terminal, ESC[2J clear it, U+202E reverse
    what follows: each is printed as a visible escape."""
    from rich.console import Console

    from mash_kg.cli import render

    term = render.SafeConsole(force_terminal=True, width=200)
    evil = "Glucose\x1b]0;owned\x07 \x1b[2J\u202eevil\x9b31m\u2028next"
    with term.capture() as captured:
        term.print(evil)
        term.print(render.Text(evil, style="bold"))
        table = render.Table()
        table.add_column("name")
        table.add_row(evil)
        term.print(table)
    out = captured.get()
    data = out.replace("\x1b[1m", "").replace("\x1b[0m", "")  # rich's own bold and reset
    assert "\x1b]" not in data and "\x1b[2J" not in data and "\u202e" not in data
    assert "\x9b" not in data and "\u2028" not in data
    assert "\\x1b]0;owned" in out and "\\u202eevil" in out and "\\x9b31m" in out
    plain = Console(force_terminal=True, width=200)
    with plain.capture() as raw:
        plain.print(evil, markup=False, highlight=False)
    assert "\x1b[2J" in raw.get()  # what a plain rich console lets through


def test_printable_keeps_tabs_newlines_and_text():
    from mash_kg.cli.render import printable

    assert printable("a\tb\nc ü 😀 [/]") == "a\tb\nc ü 😀 [/]"
    assert printable("\x00\x1b\x7f\x85") == "\\x00\\x1b\\x7f\\x85"


def test_error_line_keeps_markup_of_the_message(capsys):
    import pytest

    from mash_kg.cli.errors import _fail

    with pytest.raises(SystemExit) as exc:
        _fail(f"{MARKUP}: not a build \x1b[2J", 1)
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert err.strip() == f"error: {MARKUP}: not a build \\x1b[2J"
