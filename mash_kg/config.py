"""Project configuration: `mash-kg.toml` in the working folder, overridden by environment.

Secrets never need to live in the file: NEO4J_URI, NEO4J_USER and NEO4J_PASSWORD win over it.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from mash_kg.errors import InputError

DEFAULT_PASSWORD = "mash-kg-local"  # documented local default of the bundled server only
CONFIG_NAME = "mash-kg.toml"


def _default_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "mash-kg" / "neo4j"


def _default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mash-kg"


@dataclass
class Neo4jSettings:
    """Where the graph lives and how to reach it; `home` is used by the bundled server only."""

    uri: str | None = None  # None: the bundled local server on 127.0.0.1:bolt_port
    user: str = "neo4j"
    password: str = DEFAULT_PASSWORD
    database: str = "neo4j"
    home: Path = field(default_factory=_default_home)
    cache: Path = field(default_factory=_default_cache)
    bolt_port: int = 7687
    http_port: int = 7474
    heap: str = "2g"
    pagecache: str = "512m"
    start_timeout: float = 180.0

    @property
    def bolt_uri(self) -> str:
        return self.uri or f"bolt://127.0.0.1:{self.bolt_port}"


@dataclass
class Config:
    neo4j: Neo4jSettings
    path: Path | None = None
    raw: dict = field(default_factory=dict)


_NEO4J_KEYS = {
    "uri": str,
    "user": str,
    "password": str,
    "database": str,
    "home": Path,
    "cache": Path,
    "bolt_port": int,
    "http_port": int,
    "heap": str,
    "pagecache": str,
    "start_timeout": float,
}


def load_config(path: Path | None = None) -> Config:
    """Read mash-kg.toml (if present; `path` may name another file) and apply the environment."""
    raw: dict = {}
    cfg_path = Path(path) if path else Path.cwd() / CONFIG_NAME
    if path and not cfg_path.exists():
        raise InputError(cfg_path, "config file not found", hint="run `mash-kg init` to write one")
    if cfg_path.exists():
        try:
            raw = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise InputError(cfg_path, f"not valid TOML: {exc}") from None
    settings = Neo4jSettings()
    section = raw.get("neo4j", {})
    for key, value in section.items():
        if key not in _NEO4J_KEYS:
            raise InputError(
                cfg_path,
                f"unknown key [neo4j].{key}",
                hint=f"known keys: {', '.join(sorted(_NEO4J_KEYS))}",
            )
        try:
            value = _NEO4J_KEYS[key](value)
        except (TypeError, ValueError):
            raise InputError(cfg_path, f"[neo4j].{key} has an invalid value {value!r}") from None
        if isinstance(value, Path):
            value = (cfg_path.parent / value.expanduser()).resolve()
        setattr(settings, key, value)
    env = os.environ
    if env.get("NEO4J_URI"):
        settings.uri = env["NEO4J_URI"]
    if env.get("NEO4J_USER"):
        settings.user = env["NEO4J_USER"]
    if env.get("NEO4J_PASSWORD"):
        settings.password = env["NEO4J_PASSWORD"]
    if env.get("NEO4J_DATABASE"):
        settings.database = env["NEO4J_DATABASE"]
    if env.get("MASH_KG_NEO4J_HOME"):
        settings.home = Path(env["MASH_KG_NEO4J_HOME"]).expanduser().resolve()
    if env.get("MASH_KG_CACHE"):
        settings.cache = Path(env["MASH_KG_CACHE"]).expanduser().resolve()
    if env.get("MASH_KG_BOLT_PORT"):
        settings.bolt_port = int(env["MASH_KG_BOLT_PORT"])
    if env.get("MASH_KG_HTTP_PORT"):
        settings.http_port = int(env["MASH_KG_HTTP_PORT"])
    return Config(neo4j=settings, path=cfg_path if cfg_path.exists() else None, raw=raw)
