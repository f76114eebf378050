"""A small reviewed graph: two sites' local codes with learned parents and a cross-site match,
written by hand so every decision test knows its edges."""

from __future__ import annotations

import pytest

GRAPH = """
CREATE (b1:Build {id: 'B1', seq: 1, active: false}), (b2:Build {id: 'B2', seq: 2, active: true})
CREATE (root:Code {id: 'T:R', name: 'Laboratory tests', vocab: 'T', domain: 'lab',
                   poincare: [0.1, 0.0, 0.0]})
CREATE (chem:Code {id: 'T:CHEM', name: 'Chemistry', vocab: 'T', domain: 'lab',
                   poincare: [0.3, 0.1, 0.0]})
CREATE (glu:Code {id: 'T:GLU', name: 'Glucose measurement', vocab: 'T', domain: 'lab',
                  poincare: [0.45, 0.2, 0.05]})
CREATE (hem:Code {id: 'T:HEM', name: 'Haematology', vocab: 'T', domain: 'lab'})
CREATE (chem)-[:IS_A {vocab: 'T'}]->(root), (glu)-[:IS_A {vocab: 'T'}]->(chem),
       (hem)-[:IS_A {vocab: 'T'}]->(root)
CREATE (a1:Code {id: 'A/LAB:1', name: 'glucose serum', site: 'A', vocab: 'LAB', domain: 'lab',
                 poincare: [0.5, 0.1, 0.0]})
CREATE (a2:Code {id: 'A/LAB:2', name: 'haemoglobin', site: 'A', vocab: 'LAB', domain: 'lab'})
CREATE (a3:Code {id: 'A/LAB:3', name: 'sodium', site: 'A', vocab: 'LAB', domain: 'lab'})
CREATE (b9:Code {id: 'B/LAB:9', name: 'Glukose', site: 'B', vocab: 'LAB', domain: 'lab'})
CREATE (a1)-[:MASH_IS_A {score: 0.41, rank: 1, build: 'B2'}]->(glu)
CREATE (a2)-[:MASH_IS_A {score: 0.30, rank: 1, build: 'B2'}]->(chem)
CREATE (a3)-[:MASH_IS_A {score: 0.20, rank: 1, build: 'B1'}]->(chem)
CREATE (b9)-[:ALIGNED_WITH {score: 2.0, transport: 0.35, rank: 1, method: 'fused',
                            build: 'B2'}]->(a1)
"""


@pytest.fixture
def review_graph(graph):
    """The graph above (schema applied, decisions constraint ensured)."""
    from mash_kg.graph.decisions import ensure_schema

    graph.execute_query(GRAPH)
    ensure_schema(graph)
    return graph
