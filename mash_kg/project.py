"""The project part of `mash-kg.toml`: where builds go, the model settings, and the sites.

`mash-kg init` writes `TEMPLATE`, a commented file that `load_project` reads back as is.
Relative paths are relative to the file. Unknown keys are errors, so a typo never silently
falls back to a default.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mash_kg.align import METHODS as ALIGN_METHODS
from mash_kg.config import Config
from mash_kg.errors import InputError
from mash_kg.loaders import SITE_FORMATS
from mash_kg.settings import (
    SOURCE_NAMES,
    CacheSettings,
    EncoderSettings,
    HierarchySettings,
    ModelSettings,
)


@dataclass
class SiteSpec:
    id: str
    format: str = "tables"
    codes: Path | None = None
    counts: Path | None = None
    events: Path | None = None
    path: Path | None = None  # fhir: files/folder; omop: folder
    prefer: str = "source"  # omop: source or standard concepts
    systems: dict = field(default_factory=dict)  # fhir: coding system URI -> vocabulary
    code_preference: list[str] = field(default_factory=list)  # fhir: the site's own code first
    max_bad_rows: float = 0.01  # fhir: share of resources with a bad coding skipped, then stop
    files: list[str] = field(default_factory=list)  # fhir: globs under path to read instead
    vocabularies: dict = field(default_factory=dict)  # the site's vocab name -> the graph's


@dataclass
class Project:
    name: str
    builds: Path
    model: ModelSettings
    sites: list[SiteSpec]
    path: Path
    hierarchy: HierarchySettings = field(default_factory=HierarchySettings)
    encoder: EncoderSettings = field(default_factory=EncoderSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)  # not part of config_hash

    def config_hash(self) -> str:
        """Hash of the settings that shape a build (paths by name, not by content)."""
        blob = json.dumps(
            {
                "model": asdict(self.model),
                "sites": [asdict(s) for s in self.sites],
                "hierarchy": asdict(self.hierarchy),
                "encoder": asdict(self.encoder),
            },
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _fill(obj: object, section: dict, where: str, cfg: Path) -> None:
    known = {k: type(v) for k, v in asdict(obj).items()}  # type: ignore[arg-type]
    for key, value in section.items():
        if key not in known:
            raise InputError(
                cfg, f"unknown key {where}.{key}", hint=f"known keys: {', '.join(sorted(known))}"
            )
        current = getattr(obj, key)
        if isinstance(current, bool) or (current is not None and not isinstance(current, Path)):
            kind = type(current)
            ok = isinstance(value, kind) or (kind is float and isinstance(value, int))
            if not ok or (kind is int and isinstance(value, bool)):
                raise InputError(cfg, f"{where}.{key} = {value!r} is not a {kind.__name__}")
        else:  # a path
            if not isinstance(value, str) or not value:
                raise InputError(cfg, f"{where}.{key} must be a path string")
            value = (cfg.parent / Path(value).expanduser()).resolve()
        setattr(obj, key, value)


SECTIONS = ("project", "model", "hierarchy", "encoder", "sites", "neo4j", "cache")


def load_project(config: Config) -> Project:
    """The project of a loaded config; no file or no sites is a clear error."""
    if config.path is None:
        raise InputError("mash-kg.toml", "no project file here", hint="run `mash-kg init`")
    cfg, raw = config.path, config.raw
    for key in raw:
        if key not in SECTIONS:
            raise InputError(
                cfg, f"unknown section [{key}]", hint=f"sections: {', '.join(SECTIONS)}"
            )
    proj = raw.get("project", {})
    for key in proj:
        if key not in ("name", "builds"):
            raise InputError(cfg, f"unknown key [project].{key}", hint="known keys: builds, name")
    model = _model(raw.get("model", {}), cfg)
    hierarchy = HierarchySettings()
    _fill(hierarchy, raw.get("hierarchy", {}), "[hierarchy]", cfg)
    _check_hierarchy(hierarchy, cfg)
    encoder = EncoderSettings()
    _fill(encoder, raw.get("encoder", {}), "[encoder]", cfg)
    _check_encoder(encoder, cfg)
    if "encoder" in hierarchy.sources and not encoder.enabled:
        raise InputError(
            cfg,
            "[hierarchy].sources lists encoder but [encoder] enabled = false",
            hint="set [encoder] enabled = true to train the hierarchy encoder",
        )
    sites = _sites(raw.get("sites", []), model, cfg)
    return Project(
        name=str(proj.get("name", cfg.parent.name)),
        builds=(cfg.parent / str(proj.get("builds", "builds"))).resolve(),
        model=model,
        sites=sites,
        path=cfg,
        hierarchy=hierarchy,
        encoder=encoder,
        cache=config.cache,
    )


def _model(section: dict, cfg: Path) -> ModelSettings:
    """The [model] section, filled and checked (the reference site is checked with the sites)."""
    model = ModelSettings()
    _fill(model, section, "[model]", cfg)
    if model.align_method not in ("fused", *ALIGN_METHODS):
        raise InputError(
            cfg,
            f"[model].align_method {model.align_method!r} is unknown",
            hint=f"use one of fused, {', '.join(ALIGN_METHODS)}",
        )
    if model.transport not in ALIGN_METHODS:
        raise InputError(
            cfg,
            f"[model].transport {model.transport!r} is unknown",
            hint=f"use one of {', '.join(ALIGN_METHODS)}",
        )
    if not model.sppmi_shift >= 1:  # also catches NaN
        raise InputError(
            cfg,
            f"[model].sppmi_shift = {model.sppmi_shift} must be >= 1",
            hint="SPPMI = max(PMI - log s, 0) needs s >= 1; 1.0 is plain PPMI",
        )
    if model.min_anchors < 2:
        raise InputError(cfg, f"[model].min_anchors = {model.min_anchors} must be >= 2")
    if len(model.feature_weights) != 3 or any(
        not isinstance(w, int | float) or w < 0 for w in model.feature_weights
    ):
        raise InputError(cfg, "[model].feature_weights must be three numbers >= 0")
    if model.dim < 2 or model.dim % 2:
        raise InputError(cfg, f"[model].dim = {model.dim} must be an even number >= 2")
    return model


def _sites(sections: list, model: ModelSettings, cfg: Path) -> list[SiteSpec]:
    """The [[sites]] tables, filled and checked; sets the model's default reference site."""
    sites: list[SiteSpec] = []
    for n, section in enumerate(sections, start=1):
        if "id" not in section:
            raise InputError(cfg, f"[[sites]] number {n} has no id")
        spec = SiteSpec(id=str(section["id"]))
        if isinstance(section.get("files"), str):  # one glob as itself
            section = {**section, "files": [section["files"]]}
        _fill(spec, {k: v for k, v in section.items() if k != "id"}, f"[[sites]] {spec.id}", cfg)
        _check_site(spec, cfg)
        if spec.format == "summary":  # counted at the site: its window must be the project's
            from mash_kg.summary.folder import check_window

            check_window(spec.path, model.window_days)
        sites.append(spec)
    if not sites:
        raise InputError(cfg, "no [[sites]] listed", hint="add one [[sites]] table per site")
    ids = [s.id for s in sites]
    if len(set(ids)) != len(ids):
        raise InputError(cfg, "two [[sites]] share an id")
    if not model.reference_site:
        model.reference_site = ids[0]
    elif model.reference_site not in ids:
        raise InputError(cfg, f"[model].reference_site {model.reference_site!r} is not a site")
    return sites


def _check_hierarchy(h: HierarchySettings, cfg: Path) -> None:
    checks = [
        (h.dim >= 2, "dim must be >= 2"),
        (h.curvature > 0, "curvature must be > 0"),
        (0 <= h.gnn_layers <= 8, "gnn_layers must be between 0 and 8"),
        (h.epochs >= 0, "epochs must be >= 0"),
        (0 <= h.holdout < 1, "holdout must be in [0, 1)"),
        (0 < h.parent_threshold <= 1, "parent_threshold must be in (0, 1]"),
        (h.max_parents >= 1, "max_parents must be >= 1"),
        (h.latent_cut > 0, "latent_cut must be > 0"),
        (h.cooc_neighbours >= 0, "cooc_neighbours must be >= 0"),
        (h.top_candidates >= 1, "top_candidates must be >= 1"),
        (h.fit_edges >= 0, "fit_edges must be >= 0"),
        (h.retrieval_k >= 1, "retrieval_k must be >= 1"),
        (h.exact_limit >= 0, "exact_limit must be >= 0"),
        (h.root_radius > 0 and h.step > 0, "root_radius and step must be > 0"),
        (0 < h.spread < 3.1416 / 2, "spread must be in (0, pi/2)"),
        (0 < h.shrink < 1, "shrink must be in (0, 1)"),
    ]
    for ok, problem in checks:
        if not ok:
            raise InputError(cfg, f"[hierarchy].{problem}")
    _check_sources(h, cfg)


def _check_sources(h: HierarchySettings, cfg: Path) -> None:
    """[hierarchy] sources: known names, and the ones that need a setting have it."""
    if not isinstance(h.sources, list) or not all(isinstance(x, str) for x in h.sources):
        raise InputError(cfg, "[hierarchy].sources must be a list of source names")
    for name in h.sources:
        if name not in SOURCE_NAMES:
            raise InputError(
                cfg,
                f"[hierarchy].sources: unknown source {name!r}",
                hint=f"use some of {', '.join(SOURCE_NAMES)} (empty: every available one)",
            )
    if "gnn" in h.sources and h.gnn_layers == 0:
        raise InputError(
            cfg,
            "[hierarchy].sources lists gnn but gnn_layers = 0",
            hint="set [hierarchy] gnn_layers (e.g. 2) to train the GNN",
        )


def _check_encoder(e: EncoderSettings, cfg: Path) -> None:
    checks = [
        (e.steps >= 0, "steps must be >= 0"),
        (e.max_seconds > 0, "max_seconds must be > 0"),
        (e.batch >= 2, "batch must be >= 2"),
        (
            e.family_size >= 0 and e.hard_negatives >= 0,
            "family_size and hard_negatives must be >= 0",
        ),
        (8 <= e.max_length <= 512, "max_length must be between 8 and 512"),
        (e.freeze_layers >= 0, "freeze_layers must be >= 0"),
        (e.lr > 0 and e.temperature > 0, "lr and temperature must be > 0"),
        (
            e.margin >= 0 and e.centripetal_margin >= 0 and e.centripetal_weight >= 0,
            "margins and centripetal_weight must be >= 0",
        ),
        (e.log_every >= 1, "log_every must be >= 1"),
    ]
    for ok, problem in checks:
        if not ok:
            raise InputError(cfg, f"[encoder].{problem}")


VOCAB_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


def _check_site(spec: SiteSpec, cfg: Path) -> None:
    where = f"[[sites]] {spec.id}"
    if "/" in spec.id or ":" in spec.id or not spec.id:
        raise InputError(cfg, f"{where}: a site id may not contain '/' or ':'")
    if spec.format not in SITE_FORMATS:
        raise InputError(
            cfg,
            f"{where}: format {spec.format!r} is unknown",
            hint=f"use one of {', '.join(SITE_FORMATS)}",
        )
    if spec.format == "tables":
        if spec.codes is None or (spec.counts is None) == (spec.events is None):
            raise InputError(
                cfg, f"{where}: format 'tables' needs codes and one of counts or events"
            )
    elif spec.path is None:
        raise InputError(cfg, f"{where}: format {spec.format!r} needs path")
    if not 0 <= spec.max_bad_rows < 1:
        raise InputError(cfg, f"{where}: max_bad_rows = {spec.max_bad_rows} must be in [0, 1)")
    bad = [f"{k} = {v!r}" for k, v in spec.systems.items() if not isinstance(v, str) or not v]
    if bad:
        raise InputError(
            cfg,
            f"{where}: systems: {bad[0]} is not a vocabulary name",
            hint='map a coding system URI to a vocabulary, e.g. "http://loinc.org" = "LOINC"',
        )
    if any(not isinstance(v, str) or not v for v in spec.files):
        raise InputError(cfg, f'{where}: files must be glob patterns (strings), e.g. ["*.txt"]')
    if spec.files and spec.format != "fhir":
        raise InputError(cfg, f"{where}: files is read by format 'fhir' only")
    if any(not isinstance(v, str) for v in spec.code_preference):
        raise InputError(cfg, f"{where}: code_preference must be a list of vocabulary names")
    for local, graph in spec.vocabularies.items():
        if not isinstance(graph, str) or not VOCAB_NAME.match(graph.upper()):
            raise InputError(
                cfg,
                f"{where}: vocabularies: {local} = {graph!r} is not a vocabulary name",
                hint='e.g. vocabularies = {LABS = "MYLABS"}: '
                "the site's vocab -> a vocabulary loaded in the graph",
            )


TEMPLATE = """\
# mash-kg project file. `mash-kg build` reads it; paths are relative to this file.
# Secrets stay out of it: NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD override [neo4j].

[project]
name = "my-project"
builds = "builds"              # each `mash-kg build` writes builds/<build id>/*.parquet

[model]
text_model = "all-MiniLM-L6-v2"  # the bundled model, or a local folder (CODER, SapBERT)
dim = 128                      # Stage I vector: dim/2 text + dim/2 co-occurrence (SPPMI+SVD)
window_days = 30               # co-occurrence window over a patient's record
min_cell_count = 0             # drop co-occurrence counts below this (small-cell rule)
sppmi_shift = 1.0              # s in SPPMI = max(PMI - log s, 0)
align_method = "fused"         # fused: text, co-occurrence and transport evidence weighted
                               #   by accuracy on held-out anchors (text alone when too few);
                               #   or one map alone: neural_ot | procrustes | sinkhorn | fused_gw
transport = "sinkhorn"         # the transport evidence of fused (one of the maps above)
min_anchors = 20               # held-out anchors needed to validate a map (per domain)
reference_site = ""            # the space the others are mapped into (default: first site)
top_k = 5                      # counterparts kept per code and site pair (CSLS scores)
anchor_vocabs = []             # vocabularies whose shared codes anchor the alignment
                               # (default: all standard ones: ICD10CM, LOINC, RXNORM, ...)
feature_weights = [1.0, 0.3, 0.3]  # alignment features: text, co-occurrence, neighbour text
epochs = 300                   # training steps of the neural OT map
seed = 0

[hierarchy]                    # Stages II-III; they read the curated graph from Neo4j
enabled = true                 # false: Stage I only (no Neo4j needed)
dim = 32                       # Poincare ball dimension
curvature = 1.0
root_radius = 6.0              # the curated forest on the ball: radius of its roots,
step = 1.5                     #   radius added per level,
spread = 0.6                   #   cone half-angle of a root's children (radians),
shrink = 0.425                 #   each level's cone as a share of the one above
gnn_layers = 0                 # HGCN layers of the gnn evidence source (0: that source is off)
epochs = 300                   # training steps of the GNN
holdout = 0.0                  # share of curated parent edges hidden, scored by `mash-kg eval`
parent_threshold = 0.3         # candidates scoring at least this become parents
max_parents = 3
latent_cut = 0.6               # latent groups: cluster cut, share of the median distance
cooc_neighbours = 5            # co-occurrence neighbours per code in the GNN's message passing
top_candidates = 10            # parent candidates kept per code
sources = []                   # evidence of the parent scores, some of name, family, spelling,
                               #   encoder, gnn, counterparts (empty: every available one);
                               #   their weights and the leaf rule are chosen per build
fit_edges = 2000               # curated edges hidden from the sources to choose those weights
retrieval_k = 100              # candidates per code from the nearest-neighbour index ...
exact_limit = 5000             # ... for pools larger than this (smaller: scored exactly)
rerank = true                  # a re-ranker over the top candidates, kept when it helps

[encoder]                      # Stage II: the text model fine-tuned on the curated hierarchy
enabled = false                # true: fine-tune (measured to place worse so far: README)
steps = 600                    # optimiser steps at most ...
max_seconds = 900.0            # ... and seconds at most (whichever comes first)
batch = 16                     # families (a parent and some children) per step
family_size = 4                # children describing a family in a step
hard_negatives = 1             # confusable families per anchor (parent siblings, Excludes1)
balance_depth = true           # every depth of the tree gets the same share of families
max_length = 32                # tokens per text
freeze_layers = 3              # lower transformer layers kept frozen
lr = 2e-5
margin = 1.0                   # hyperbolic clustering margin
centripetal_margin = 0.1       # a parent nearer the origin than its child by this
centripetal_weight = 1.0
temperature = 0.05             # in-batch softmax over cos(anchor, family) / T
log_every = 25

# One [[sites]] table per institution. Every key a [[sites]] table takes:
#   id               the site's name (required; letters, digits, _ and -)
#   format           tables (default) | fhir | omop | summary
#   codes            tables: codes (code, vocab, name[, domain, frequency, name_<lang>]),
#                    CSV or Parquet
#   counts           tables: co-occurrence counts (code_a, code_b, count[, vocab_a, vocab_b]) ...
#   events           tables: ... or events (patient_id, date, code[, vocab]) instead
#   path             fhir: a folder or file of FHIR R4 NDJSON (bulk export) or Bundle JSON
#                    (Synthea); omop: a folder with concept and condition_occurrence /
#                    drug_exposure / measurement / procedure_occurrence; summary: a folder
#                    written by `mash-kg site summarize`
#   files            fhir: glob (or list of globs) of export files to read, for files that
#                    are not .ndjson / .json; without it a folder's other files (metadata,
#                    README) are skipped and named, and a bulk-data $export manifest says
#                    which files to read
#   systems          fhir: {"http://example.org/lab" = "DE_LAB"} maps coding systems to
#                    vocabularies
#   code_preference  fhir: ["DE_LAB", "LOINC"] picks the site's own code among a concept's
#                    codings (the others become anchors)
#   max_bad_rows     fhir: share of resources with a bad coding skipped (each named with file
#                    and line) before the build stops (default 0.01)
#   prefer           omop: "source" (the site's codes, default) or "standard" concepts
#   vocabularies     {LABS = "MYLABS"}: a vocabulary name of the site -> one loaded in the
#                    graph (mash-kg load obo/edges/...): its codes get the graph's ids, and
#                    Stages II-III place the ones the tree lacks into that tree. A site none of
#                    whose codes is in the graph and that names no tree here is placed into the
#                    loaded trees of its codes' domain

[[sites]]
id = "SITE_A"
format = "tables"
codes = "site_a/codes.csv"
events = "site_a/events.csv"

[[sites]]
id = "SITE_B"
format = "fhir"
path = "site_b/fhir"

# [neo4j]                      # only when not using the bundled local server defaults
# uri = "bolt://localhost:7687"
# user = "neo4j"
"""
