"""Errors a user can hit (`mash_kg.errors`): one line naming the file, the row and what to do."""

from __future__ import annotations

from mash_kg.errors import InputError, MashError


def test_input_error_is_one_line_with_file_row_problem_and_hint():
    err = InputError("site_a/events.csv", "date is not YYYY-MM-DD", row=3, hint="fix the row")
    assert str(err) == "site_a/events.csv, row 3: date is not YYYY-MM-DD (fix the row)"
    assert (err.path, err.row, err.problem) == ("site_a/events.csv", 3, "date is not YYYY-MM-DD")
    assert isinstance(err, MashError)  # the CLI prints it as one line and exits non-zero


def test_input_error_without_row_or_hint():
    assert str(InputError("x.obo", "no terms")) == "x.obo: no terms"
