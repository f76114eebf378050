"""The build and model settings: one home for the dataclasses behind `mash-kg.toml`.

Plain dataclasses only (no torch, geoopt or PyG import), so reading a project file stays
cheap; `project.load_project` fills and checks them, the stages only read them. The Neo4j
connection settings live in `config.Neo4jSettings`, the site inputs in `project.SiteSpec`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from mash_kg.features import FEATURE_WEIGHTS


def default_cache() -> Path:
    """MASH_KG_CACHE, else $XDG_CACHE_HOME/mash-kg, else ~/.cache/mash-kg."""
    if os.environ.get("MASH_KG_CACHE"):
        return Path(os.environ["MASH_KG_CACHE"]).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mash-kg"


@dataclass
class CacheSettings:
    """Where mash-kg keeps what it can rebuild: text vectors, the Neo4j and cypher-shell jars,
    the demo's summaries and builds ([cache] root, or MASH_KG_CACHE)."""

    root: Path = field(default_factory=default_cache)

    @property
    def text(self) -> Path:
        """The text-vector cache of `text_embed.TextEmbedder`."""
        return self.root / "text"


@dataclass
class ModelSettings:
    """The [model] section (Stage I: embeddings and alignment)."""

    text_model: str = "all-MiniLM-L6-v2"  # or a local folder (CODER, SapBERT, ...)
    dim: int = 128  # Stage I vector: dim/2 text + dim/2 co-occurrence
    window_days: int = 30
    min_cell_count: int = 0  # counts below this are dropped before use (small-cell rule)
    sppmi_shift: float = 1.0
    align_method: str = "fused"  # fused (validated evidence fusion) or one METHODS map alone
    transport: str = "sinkhorn"  # the transport evidence of `fused` (one of METHODS)
    min_anchors: int = 20  # held-out anchors needed to validate a map (per domain, per site)
    reference_site: str = ""  # default: the first site
    top_k: int = 5
    anchor_vocabs: list[str] = field(default_factory=list)  # default: every standard vocab
    feature_weights: list[float] = field(default_factory=lambda: list(FEATURE_WEIGHTS))
    epochs: int = 300  # training steps of the neural OT map
    seed: int = 0


@dataclass
class TreeSettings:
    """The curated forest on the ball (`tree_embedding.embed_forest`)."""

    # measured on ICD-10-CM at 10 dimensions (bench/hierarchy.py icd10cm_reconstruction)
    root_radius: float = 6.0  # hyperbolic radius of depth-1 nodes
    step: float = 1.5  # hyperbolic radius added per level
    spread: float = 0.6  # cone half-angle (radians) of a depth-1 node's children
    shrink: float = 0.425  # each level's cone is this share of the one above


# the evidence sources of Stage III's parent scores (one module each in hierarchy/sources/)
SOURCE_NAMES = (
    "name",
    "family",
    "spelling",
    "encoder",
    "gnn",
    "counterparts",
    "members",
    "member_spelling",
)


@dataclass
class HierarchySettings:
    """The [hierarchy] section of mash-kg.toml (Stages II-III)."""

    enabled: bool = True  # Stages II-III (they read the curated graph from Neo4j)
    dim: int = 32
    curvature: float = 1.0
    root_radius: float = TreeSettings.root_radius  # the curated forest on the ball
    step: float = TreeSettings.step
    spread: float = TreeSettings.spread
    shrink: float = TreeSettings.shrink
    gnn_layers: int = 0  # HGCN layers of the `gnn` evidence source (0: that source is off)
    epochs: int = 300  # training steps of the GNN
    holdout: float = 0.0  # share of curated parent edges hidden, for `mash-kg eval`
    parent_threshold: float = 0.3  # a candidate at or above this score becomes a parent
    max_parents: int = 3
    latent_cut: float = 0.6  # cluster cut, as a share of the median distance of the codes
    cooc_neighbours: int = 5  # co-occurrence neighbours per code in the GNN's message passing
    top_candidates: int = 10  # parent candidates kept per code
    # evidence sources of the parent scores (hierarchy.sources.SOURCES); empty: every one
    # the build has (encoder: [encoder] enabled; gnn: gnn_layers > 0; counterparts: Stage I)
    sources: list[str] = field(default_factory=list)
    fit_edges: int = 2000  # curated edges hidden from the sources to choose their weights
    retrieval_k: int = 100  # candidates per code and index before exact scoring
    exact_limit: int = 5000  # pools up to this many candidates are scored exactly
    rerank: bool = True  # a learned re-ranker over the top candidates, kept when it helps

    def tree(self) -> TreeSettings:
        return TreeSettings(self.root_radius, self.step, self.spread, self.shrink)


@dataclass
class EncoderSettings:
    """The [encoder] section of mash-kg.toml."""

    enabled: bool = False  # fine-tune the text model (measured to hurt placement: README)
    steps: int = 600  # optimiser steps at most ...
    max_seconds: float = 900.0  # ... and wall-clock seconds at most (CPU budget)
    batch: int = 16  # families (a parent and some of its children) per step, one anchor each
    family_size: int = 4  # children per family that describe it (besides its own name)
    hard_negatives: int = 1  # confusable families per anchor: parent siblings, Excludes1
    balance_depth: bool = True  # every depth of the tree gets the same share of families
    max_length: int = 32  # tokens per text
    freeze_layers: int = 3  # lower transformer layers kept frozen (and the embeddings)
    lr: float = 2e-5
    margin: float = 1.0  # clustering margin (hyperbolic distance)
    centripetal_margin: float = 0.1
    centripetal_weight: float = 1.0
    temperature: float = 0.05  # of the in-batch softmax over cos(anchor, family)
    log_every: int = 25


@dataclass
class TrainSettings:
    """Training of `hyperbolic.PoincareModel` (features -> ball, optional HGCN layers)."""

    dim: int = 32
    curvature: float = 1.0
    hidden: int = 512
    gnn_layers: int = 0
    epochs: int = 400
    batch: int = 2048
    negatives: int = 1024  # random negatives, shared by a batch
    hard_negatives: int = 8
    lr: float = 3e-3
    order_weight: float = 0.1
    order_margin: float = 0.05
    similarity_weight: float = 0.1
    temperature: float = 0.1
    seed: int = 0
