"""The reading half of `mash-kg load SOURCE`: a release into checked tables, before anything
connects. The writing half is `graph.writer.write_tables` (diff, lock, one transaction)."""

from __future__ import annotations

from pathlib import Path

from mash_kg.errors import MashError
from mash_kg.tables import OntologyTables


def source_help() -> str:
    """The sources `load` knows, with a line each (for `mash-kg load --help`)."""
    from mash_kg.loaders import REGISTRY

    return "; ".join(f"{k}: {v[1]}" for k, v in REGISTRY.items())


def read_source(source: str, files: list[Path] | None = None, **options) -> OntologyTables:
    """The release of `source` (its default files unless `files` name others) as validated
    tables; an unknown source or a malformed file is one MashError, before any connection."""
    from mash_kg.loaders import REGISTRY, get_loader
    from mash_kg.tables import validate

    if source not in REGISTRY:
        raise MashError(f"unknown source {source!r}: one of {', '.join(REGISTRY)}")
    tables = get_loader(source)(files=files or None, **options)
    validate(tables)
    return tables
