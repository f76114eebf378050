"""A combinatorial Poincaré embedding of a curated forest (Stage II), in float64.

Every node gets a direction u on the unit sphere and a hyperbolic radius
r = root_radius + step x (depth - 1), so depth follows the norm exactly. The roots spread over
the whole sphere; a node's children sit at well-separated directions on a cone around its own
direction, of half-angle `spread * shrink**(depth - 1)` (the roots' cone narrowed so that two
roots' subtrees never meet; each cone turned by its own rotation, so that cones never repeat
one pattern). Related codes (ancestor and descendant) are thereby nearer than unrelated ones:
what Nickel & Kiela's reconstruction measures. The idea is Sarkar's (2011) and Sala, De Sa,
Gu and Ré's (2018) combinatorial construction, with cones rather than exact tree distances
so that both directions of the transitive closure are recovered.

Math in small functions (numpy, float64), tested against closed forms; `embed_forest` wires
them. A node with several parents is placed under the first (in the order given); the others
stay edges of the graph.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from mash_kg.poincare import distance_matrix, norm_to_radius, radius_to_norm
from mash_kg.settings import TreeSettings


def node_radius(depth: np.ndarray | int, s: TreeSettings) -> np.ndarray:
    """Hyperbolic radius of a node at `depth` (1 = root): deeper is farther out."""
    return s.root_radius + s.step * (np.asarray(depth, np.float64) - 1)


@lru_cache(maxsize=256)
def spread_directions(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """n unit vectors in R^dim far apart: +-basis vectors while 2*dim allows, else points
    pushed apart by a few steps of repulsion from a seeded start (deterministic)."""
    if n <= 0:
        return np.zeros((0, dim))
    if n <= 2 * dim:
        base = np.concatenate([np.eye(dim), -np.eye(dim)])
        order = [k // 2 + (dim if k % 2 else 0) for k in range(2 * dim)]  # e1, -e1, e2, ...
        return base[order[:n]].copy()
    x = np.random.default_rng(seed).standard_normal((n, dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    for _ in range(200):
        diff = x[:, None, :] - x[None, :, :]
        d2 = (diff**2).sum(-1) + np.eye(n)
        force = (diff / d2[..., None] ** 2).sum(1)
        x = x + 0.05 * force / max(np.abs(force).max(), 1e-12)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


@lru_cache(maxsize=64)
def root_spread(n_roots: int, dim: int, spread: float) -> float:
    """The cone of a root's children: `spread`, narrowed to a third of the smallest angle
    between two of the `n_roots` roots, so that two roots' subtrees never meet."""
    if n_roots < 2:
        return spread
    roots = spread_directions(n_roots, dim)
    cos = np.clip(roots @ roots.T - 2 * np.eye(n_roots), -1, 1)
    return float(min(spread, np.arccos(cos.max()) / 3))


def cone_directions(axis: np.ndarray, n: int, angle: float, seed: int = 0) -> np.ndarray:
    """n unit vectors at `angle` from the unit vector `axis`, spread around it; the spread is
    turned by a rotation drawn from `seed`, so that two cones never repeat one pattern."""
    dim = len(axis)
    rng = np.random.default_rng(seed)
    # an orthonormal basis of axis's complement, in a random orientation
    q, _ = np.linalg.qr(np.column_stack([axis, rng.standard_normal((dim, dim - 1))]))
    w = spread_directions(n, dim - 1) @ q[:, 1:dim].T
    return np.cos(angle) * axis[None, :] + np.sin(angle) * w


def embed_forest(
    n: int,
    child: np.ndarray,
    parent: np.ndarray,
    dim: int,
    settings: TreeSettings | None = None,
    c: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Points (n, dim) in float64 and depths (n,) of nodes 0..n-1 under the (child, parent)
    edges; nodes without a parent are roots (depth 1), an isolated node too."""
    s = settings or TreeSettings()
    first: dict[int, int] = {}
    for ch, pa in zip(child.tolist(), parent.tolist(), strict=True):
        if ch != pa:
            first.setdefault(ch, pa)
    kids: dict[int, list[int]] = {}
    for ch, pa in first.items():
        kids.setdefault(pa, []).append(ch)
    roots = [v for v in range(n) if v not in first]
    # a parent cycle leaves nodes unreachable from a root: they become roots themselves
    direction = np.zeros((n, dim))
    depth = np.zeros(n, dtype=np.int64)
    seen = np.zeros(n, dtype=bool)

    def place(level: list[int], d: int, spread: float) -> None:
        while level:
            nxt = []
            for v in level:
                ks = sorted(kids.get(v, ()))
                ks = [k for k in ks if not seen[k]]
                if not ks:
                    continue
                angle = spread * s.shrink ** (d - 1)
                direction[ks] = cone_directions(direction[v], len(ks), angle, seed=v)
                depth[ks] = d + 1
                seen[ks] = True
                nxt += ks
            level, d = nxt, d + 1  # all nodes of one `level` list share one depth

    direction[roots] = spread_directions(len(roots), dim) if roots else direction[roots]
    depth[roots], seen[roots] = 1, True
    spread = root_spread(len(roots), dim, s.spread)
    place(sorted(roots), 1, spread)
    while not seen.all():  # cycles: take the smallest unplaced node as a root
        v = int(np.flatnonzero(~seen)[0])
        direction[v], depth[v], seen[v] = spread_directions(1, dim)[0], 1, True
        place([v], 1, spread)
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    points = direction * radius_to_norm(node_radius(depth, s), c)[:, None]
    return points, depth


def child_slot(
    parent_point: np.ndarray,
    parent_depth: int,
    hint: np.ndarray,
    settings: TreeSettings | None = None,
    c: float = 1.0,
    n_roots: int = 1,
) -> np.ndarray:
    """A new child's point under a placed parent of a forest with `n_roots` roots: at the
    angle of the parent's own children, towards `hint` (a direction, e.g. the code's text
    vector projected on the ball's dimensions)."""
    s = settings or TreeSettings()
    axis = parent_point / max(np.linalg.norm(parent_point), 1e-300)
    t = hint - (hint @ axis) * axis
    if np.linalg.norm(t) < 1e-12:
        t = spread_directions(1, len(axis))[0]
        t = t - (t @ axis) * axis
        if np.linalg.norm(t) < 1e-12:
            t = np.roll(axis, 1)
            t = t - (t @ axis) * axis
    t /= np.linalg.norm(t)
    angle = root_spread(n_roots, len(axis), s.spread) * s.shrink ** (parent_depth - 1)
    u = np.cos(angle) * axis + np.sin(angle) * t
    return u * radius_to_norm(node_radius(parent_depth + 1, s), c)


def closure(n: int, child: np.ndarray, parent: np.ndarray) -> list[set[int]]:
    """Every node's ancestors and descendants (the transitive closure, both directions)."""
    up: dict[int, list[int]] = {}
    for ch, pa in zip(child.tolist(), parent.tolist(), strict=True):
        up.setdefault(ch, []).append(pa)
    related: list[set[int]] = [set() for _ in range(n)]
    for v in range(n):
        todo, seen = list(up.get(v, ())), set()
        while todo:
            a = todo.pop()
            if a not in seen and a != v:
                seen.add(a)
                todo += up.get(a, ())
        related[v] |= seen
        for a in seen:
            related[a].add(v)
    return related


def reconstruction(
    points: np.ndarray,
    child: np.ndarray,
    parent: np.ndarray,
    depth: np.ndarray | None = None,
    sample: int = 2000,
    seed: int = 0,
    c: float = 1.0,
) -> dict:
    """Nickel & Kiela's reconstruction of the transitive closure: for `sample` random nodes
    that have a relative, each ancestor or descendant is ranked by distance among the node's
    unrelated nodes; mean rank and MAP. With `depth`, also the Spearman correlation of depth
    and hyperbolic norm over all nodes."""
    from scipy.stats import spearmanr

    n = len(points)
    related = closure(n, child, parent)
    have = np.array([v for v in range(n) if related[v]])
    out: dict = {"reconstruction_nodes": 0}
    if len(have):
        rng = np.random.default_rng(seed)
        us = rng.choice(have, min(sample, len(have)), replace=False)
        ranks, aps = [], []
        for u in us:
            d = distance_matrix(points[[u]], points, c)[0]
            d[u] = np.inf
            true = np.array(sorted(related[u]))
            is_true = np.zeros(n, dtype=bool)
            is_true[true] = True
            td = np.sort(d[true])
            r = 1 + np.searchsorted(np.sort(d[~is_true]), td, side="left")
            k = np.arange(1, len(td) + 1)
            ranks += r.tolist()
            aps.append(float(np.mean(k / (k + r - 1))))
        out = {
            "reconstruction_nodes": int(len(us)),
            "reconstruction_map": round(float(np.mean(aps)), 4),
            "reconstruction_mean_rank": round(float(np.mean(ranks)), 2),
        }
    if depth is not None and n > 2 and len(set(depth.tolist())) > 1:
        # rounded: equal radii differ in the last bits, which would break the ties in rank
        rho = spearmanr(depth, np.round(norm_to_radius(points, c), 6)).statistic
        out["depth_norm_spearman"] = round(float(rho), 4)
    return out
