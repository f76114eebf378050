"""Stages II-III: the hyperbolic space and the learned hierarchy (MASH).

- `stage2`: the hierarchy encoder and the Poincaré space of the curated forest
  (`encoder`, `tree_embedding`, `hyperbolic` for the optional GNN term);
- `sources/`: one module per evidence source that scores (code, candidate) pairs;
- `retrieval`: the candidates of each code from a nearest-neighbour index;
- `fusion`: the sources' weights chosen per build on its own held-out curated edges;
- `rerank`: a second stage over the top candidates, trained on the build's curated edges;
- `placement`, `latent`, `stage3`: parents, latent groups and points of the codes without
  a curated parent; `evaluate`: `mash-kg eval`.
"""
