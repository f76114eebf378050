"""Serving the review application: waitress (a production WSGI server, pure Python) on
127.0.0.1 by default. Any other address needs `allow_remote` and then an access token (random,
per start) that every browser must present once (the printed URL carries it)."""

from __future__ import annotations

import ipaddress
import secrets
import socket
from collections.abc import Callable
from pathlib import Path

from mash_kg.errors import MashError


def is_loopback(host: str) -> bool:
    """Whether `host` names only this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def access_token(host: str, allow_remote: bool) -> str | None:
    """None on the loopback; beyond it, a fresh token, or one clear line without the flag."""
    if is_loopback(host):
        return None
    if not allow_remote:
        raise MashError(
            f"--host {host} would let other machines reach the review page: pass --allow-remote "
            "as well (the server then asks for the access token it prints)"
        )
    return secrets.token_urlsafe(24)


def make_server(app, host: str, port: int):
    """A waitress server for `app` on host:port (port 0: a free one); one clear line when
    the address cannot be bound."""
    from waitress.server import create_server

    try:
        return create_server(app, host=host, port=port, threads=4, ident="mash-kg review")
    except OSError as exc:
        raise MashError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    except socket.gaierror as exc:  # pragma: no cover - covered by OSError on most systems
        raise MashError(f"cannot listen on {host}:{port} ({exc})") from None


def serve(
    driver,  # a neo4j driver (graph.connection.open_driver)
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    allow_remote: bool = False,
    builds: Path | None = None,
    reviewer: str = "reviewer",
    database: str = "neo4j",
    say: Callable[[str], None] = print,
) -> None:
    """Run the review page until interrupted, after saying its URL."""
    from mash_kg.review.app import create_app

    token = access_token(host, allow_remote)
    app = create_app(driver, database=database, builds=builds, reviewer=reviewer, token=token)
    server = make_server(app, host, port)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{server.effective_port}/"
    say(f"reviewing as {reviewer} at {url}{'?token=' + token if token else ''} (Ctrl-C stops)")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
