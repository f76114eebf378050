"""One line and a non-zero exit for every failure of a command: errors a user can hit say what
to do; anything else (a bug) says where its traceback was logged."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from mash_kg import __version__
from mash_kg.cli.render import err_console, labelled
from mash_kg.errors import MashError


def first_line(text: object) -> str:
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    return lines[0] if lines else ""


def one_line(exc: Exception) -> str | None:
    """The line a user sees for an error they can hit; None for a bug (logged, see below)."""
    from mash_kg.graph.connection import neo4j_error_line

    if isinstance(exc, MashError):
        return first_line(exc)
    line = neo4j_error_line(exc)
    if line is not None:
        return line
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc.__class__.__name__}"
    return None


def log_internal_error(exc: BaseException) -> Path | None:
    """Write the traceback of an unexpected error to a log file; its path, or None."""
    import tempfile
    import traceback
    from datetime import UTC, datetime

    text = "".join(traceback.format_exception(exc))
    for base in (Path.home() / ".cache" / "mash-kg" / "logs", Path(tempfile.gettempdir())):
        try:
            base.mkdir(parents=True, exist_ok=True)
            path = base / f"mash-kg-error-{datetime.now(UTC):%Y%m%dT%H%M%S}-{os.getpid()}.log"
            path.write_text(f"mash-kg {__version__}\n{' '.join(sys.argv)}\n{text}")
            path.chmod(0o600)
            return path
        except OSError:
            continue
    return None


def _fail(line: str, code: int) -> None:
    err_console.print(labelled("error:", "bold red", line), highlight=False, soft_wrap=True)
    sys.exit(code)


def _usage_line(exc: click.ClickException) -> str:
    line = first_line(exc.format_message())
    if isinstance(exc, click.UsageError) and exc.ctx is not None:
        line += f" (see `{exc.ctx.command_path} --help`)"
    return line


def _internal_line(exc: Exception) -> str:
    log = log_internal_error(exc)
    where = f"the details are in {log}" if log else "no log could be written"
    return (
        f"internal error ({exc.__class__.__name__}: {first_line(exc)[:200]}); "
        f"{where}; please report it"
    )


class MashGroup(click.Group):
    """Turns every error into one line on stderr and exit status 1 (click's own usage errors
    keep their status): nothing reaches the user as a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort):
            raise
        except click.ClickException as exc:  # usage errors too: one line, not click's block
            _fail(_usage_line(exc), exc.exit_code)
        except Exception as exc:
            _fail(one_line(exc) or _internal_line(exc), 1)
