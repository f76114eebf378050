"""mash-kg: harmonise institution-specific medical codes into one hierarchy in Neo4j."""

__version__ = "0.1.0"
