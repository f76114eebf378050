"""A small Poincaré-disk picture (SVG) of an edge's neighbourhood from the synced points.

The points live on a ball of many dimensions; the picture keeps what the ball says about
depth and closeness: each point keeps its own norm (depth follows the norm), and its direction
is its projection onto the two directions that spread the neighbourhood most (the top two
singular vectors of the points). Edges are drawn as straight chords.
"""

from __future__ import annotations

from html import escape

import numpy as np

SIZE = 240
RADIUS = 110
COLOURS = {
    "child": "#c0392b",
    "parent": "#1f5fa8",
    "path": "#7f8c8d",
    "sibling": "#b0b7bd",
    "candidate": "#e67e22",
}


def disk_coordinates(points: np.ndarray) -> np.ndarray:
    """(n, 2) points in the unit disk: each row's norm kept, its direction projected onto the
    rows' top two singular directions."""
    points = np.asarray(points, dtype=np.float64)
    if not len(points):
        return np.zeros((0, 2))
    norms = np.linalg.norm(points, axis=1)
    if points.shape[1] < 2:
        return np.stack([points[:, 0], np.zeros(len(points))], axis=1)
    _, _, vt = np.linalg.svd(points, full_matrices=False)
    flat = points @ vt[:2].T
    length = np.linalg.norm(flat, axis=1)
    unit = np.where(length[:, None] > 1e-12, flat / np.maximum(length, 1e-12)[:, None], [1.0, 0.0])
    return unit * np.minimum(norms, 0.999)[:, None]


def disk_svg(nodes: list[dict], edges: list[tuple[str, str]]) -> str:
    """An SVG of `nodes` (id, name, role, point) with `edges` (child id, parent id) between
    those that have a point; '' when fewer than two nodes have one."""
    have = [n for n in nodes if n.get("point") is not None and len(n["point"])]
    if len(have) < 2:
        return ""
    xy = disk_coordinates(np.stack([np.asarray(n["point"], dtype=float) for n in have]))
    c = SIZE / 2
    at = {n["id"]: (c + RADIUS * x, c - RADIUS * y) for n, (x, y) in zip(have, xy, strict=True)}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE}" '
        f'viewBox="0 0 {SIZE} {SIZE}" role="img" aria-label="Poincaré disk of the neighbourhood">',
        f'<circle cx="{c}" cy="{c}" r="{RADIUS}" fill="#fbfbfd" stroke="#555" />',
    ]
    for a, b in edges:
        if a in at and b in at:
            (x1, y1), (x2, y2) = at[a], at[b]
            parts.append(
                f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                'stroke="#999" stroke-width="1" />'
            )
    order = ["sibling", "candidate", "path", "parent", "child"]
    for n in sorted(have, key=lambda n: order.index(n["role"]) if n["role"] in order else 0):
        x, y = at[n["id"]]
        r = 5 if n["role"] in ("child", "parent") else 3.5
        title = escape(f"{n['id']} {n.get('name') or ''} ({n['role']})")
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{COLOURS.get(n["role"], "#333")}">'
            f"<title>{title}</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)
