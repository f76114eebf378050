"""Errors a user can hit: each renders as one clear line (what, where, what to do)."""

from __future__ import annotations


class MashError(Exception):
    """An error the CLI prints as one line and exits non-zero on."""


class InputError(MashError):
    """Malformed input: names the file, the row (1-based, header = row 1) and the problem."""

    def __init__(self, path: object, problem: str, row: int | None = None, hint: str = "") -> None:
        self.path = str(path)
        self.row = row
        self.problem = problem
        where = f"{self.path}, row {row}" if row is not None else self.path
        msg = f"{where}: {problem}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)


class Neo4jUnavailable(MashError):
    """Neo4j could not be reached or started."""
