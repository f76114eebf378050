"""The graph layer: the only part of mash-kg that talks to Neo4j."""

from mash_kg.graph.connection import apply_schema, connect

__all__ = ["apply_schema", "connect"]
