"""The local server's password and the modes of its folders.

No default password: on the first start mash-kg generates one (`secrets`) into HOME/password,
mode 0600, and the CLI, the demo and the tests read it from there when NEO4J_PASSWORD is unset.
HOME and its data, logs, conf, run and import folders are owner-only (0700), so neither the
store (system database included) nor the logs are readable by other local users. The password
is never printed or logged: messages name the file, not its content.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from mash_kg.config import Neo4jSettings, password_path, read_password_file
from mash_kg.errors import MashError

# The password older mash-kg releases documented for every local store; used only to move such
# a store to a generated password on its next start, never to create one.
LEGACY_PASSWORD = "mash-kg-local"
LOCAL_USER = "neo4j"  # the admin user a new Neo4j store has
SUBDIRS = ("conf", "data", "logs", "run", "import")
MIN_LENGTH = 8  # Neo4j 5 refuses shorter passwords


def secure_home(home: Path) -> None:
    """Create HOME and its server folders owner-only (0700), tightening folders (and the
    password file) that an older mash-kg or a loose umask made readable by others."""
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(home, 0o700)
    for sub in SUBDIRS:
        (home / sub).mkdir(exist_ok=True, mode=0o700)
        os.chmod(home / sub, 0o700)
    if password_path(home).exists():
        os.chmod(password_path(home), 0o600)


def _write_secret(path: Path, secret: str) -> None:
    """Write `secret` into `path` with mode 0600 from the first byte, whole or not at all."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secret + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def local_password(settings: Neo4jSettings, echo: Callable[[str], None]) -> str:
    """The password of the local server: NEO4J_PASSWORD or [neo4j].password unless `uri`
    names another server, else HOME/password, generated on first use. HOME must exist."""
    password = settings.explicit_password if settings.names_local_server else None
    if password is None:
        password = read_password_file(settings.home)
    if password is None:
        password = secrets.token_urlsafe(24)
        _write_secret(password_path(settings.home), password)
        echo(
            f"Generated a password for the local Neo4j into {password_path(settings.home)} "
            "(readable by you only); mash-kg reads it from there when NEO4J_PASSWORD is unset."
        )
    if len(password) < MIN_LENGTH:
        raise MashError(
            f"the local Neo4j's password must have at least {MIN_LENGTH} characters "
            "(Neo4j 5): set a longer NEO4J_PASSWORD"
        )
    return password
