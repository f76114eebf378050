"""One reconcile engine for the graph: `mash-kg load` and `mash-kg sync` are two uses of it.

    target tables ──read_*──▶ what the graph holds ──diff_* (pure)──▶ Plan ──apply──▶ one tx

- `engine`: `Plan` (its `Step`s: batched statements), the one `Report` type, `apply(plan, tx)`
  (the only writer), `write` (lock checked inside the transaction, one commit) and `reconcile`
  (lock taken before the read, retire guard, dry run).
- `ontology`: an ontology release (`OntologyTables`) against the graph: `read_ontology`,
  `diff_ontology`.
- `learned`: a build's learned content (`content.Target`) against the graph: `read_learned`,
  `diff_learned`.
"""

from mash_kg.graph.reconcile.engine import (
    DEFAULT_BATCH,
    MAX_RETIRE_SHARE,
    Counts,
    Plan,
    Report,
    RetireGuard,
    RetireRefused,
    Step,
    TakeoverRefused,
    apply,
    check_retire,
    reconcile,
    write,
)
from mash_kg.graph.reconcile.learned import LearnedHeld, diff_learned, read_learned
from mash_kg.graph.reconcile.ontology import OntologyHeld, diff_ontology, read_ontology

__all__ = [
    "DEFAULT_BATCH",
    "MAX_RETIRE_SHARE",
    "Counts",
    "LearnedHeld",
    "OntologyHeld",
    "Plan",
    "Report",
    "RetireGuard",
    "RetireRefused",
    "Step",
    "TakeoverRefused",
    "apply",
    "check_retire",
    "diff_learned",
    "diff_ontology",
    "read_learned",
    "read_ontology",
    "reconcile",
    "write",
]
