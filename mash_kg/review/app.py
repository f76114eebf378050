"""The review application (Flask, server-rendered): a queue of learned edges, one page per
edge with its evidence, and the forms that record decisions.

Routes: ``/`` the queue (filters: relation, site, domain, vocab, build, status; order by
confidence or frequency; 100 rows a page), ``/edge`` one edge (``q`` searches another
parent), ``/next`` the first open edge of the filtered queue, ``POST /decide`` (accept,
reject, discuss) and ``POST /move`` (another parent). Every form carries a CSRF token
(Flask-WTF); when the server is bound beyond the loopback every request needs the access token
printed at start (once per browser: it is kept in the signed session cookie).
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from urllib.parse import urlencode

import pandas as pd
from flask import Flask, abort, flash, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect

from mash_kg.graph import reader
from mash_kg.graph.decisions import (
    RELATIONS,
    Decision,
    DecisionError,
    decision_key,
    decisions_for,
    ensure_schema,
    record,
    record_move,
)
from mash_kg.review.disk import disk_svg
from mash_kg.review.evidence import build_evidence

PAGE_SIZE = 100
FILTERS = ("relation", "site", "domain", "vocab", "build")
STATUSES = ("open", "discuss", "decided", "all")  # open: no decision yet or 'discuss'
ORDERS = ("confidence", "frequency")


def create_app(
    driver,  # a neo4j driver (graph.connection.open_driver)
    *,
    database: str = "neo4j",
    builds: Path | None = None,
    reviewer: str = "reviewer",
    token: str | None = None,
) -> Flask:
    """The review application over `driver`'s graph. `builds`: the folder holding the build
    folders (for frequencies, candidates and evidence); `token`: required on every request
    (a server bound beyond the loopback)."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secrets.token_hex(32),
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_HTTPONLY=True,
        WTF_CSRF_TIME_LIMIT=None,  # valid for the server's lifetime (the key is per start)
    )
    CSRFProtect(app)
    ensure_schema(driver, database)
    ctx = {"driver": driver, "database": database, "builds": builds, "reviewer": reviewer}
    app.extensions["mash_kg_review"] = ctx

    @app.before_request
    def need_token():
        if token is None or session.get("token") == token:
            return None
        given = request.args.get("token", "")
        if given and hmac.compare_digest(given, token):
            session["token"] = token
            return None
        abort(403, "this server needs its access token: open the URL that `review serve` printed")

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return _error(400, f"the form's CSRF token is missing or wrong ({exc.description}): reload")

    for code in (400, 403, 404, 409):
        app.register_error_handler(code, lambda exc: _error(exc.code, exc.description))

    _routes(app, ctx)
    return app


def _error(code: int, message: str):
    return render_template("error.html", code=code, message=message), code


def _current_build(ctx: dict) -> str | None:
    rows, _, _ = ctx["driver"].execute_query(
        reader.VERSION + "RETURN active", database_=ctx["database"]
    )
    return rows[0]["active"] if rows else None


def _status(decision: str | None) -> str:
    if decision in ("accept", "reject"):
        return "decided"
    return "discuss" if decision == "discuss" else "open"


def queue_page(ctx: dict, args: dict) -> dict:
    """The queue under `args` (filters, status, order, page): its rows of one page, the
    counts of reviewed and remaining edges, and the choices of each filter."""
    filters = {k: args.get(k, "") for k in FILTERS}
    status = args.get("status") if args.get("status") in STATUSES else "open"
    order = args.get("order") if args.get("order") in ORDERS else "confidence"
    page = max(1, _int(args.get("page"), 1))
    rows = reader.read_review_queue(ctx["driver"], filters, ctx["database"])
    current = _current_build(ctx)
    ev = build_evidence(ctx["builds"], current)
    rows["status"] = [_status(d) for d in rows["decision"]]
    rows["frequency"] = [ev.frequency.get(c) for c in rows["child"]]
    counts = rows["status"].value_counts().to_dict()
    counts = {s: int(counts.get(s, 0)) for s in ("open", "discuss", "decided")}
    counts["all"] = int(len(rows))
    if status != "all":
        rows = rows[rows["status"] == status]
    if order == "frequency":
        rows = rows.sort_values(["frequency", "confidence"], ascending=[False, True])
    else:
        rows = rows.sort_values(["confidence", "child"], na_position="last", kind="stable")
    total = len(rows)
    rows = rows.iloc[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return {
        "rows": rows.to_dict("records"),
        "counts": counts,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "filters": filters,
        "status": status,
        "order": order,
        "facets": reader.read_facets(ctx["driver"], ctx["database"]),
        "relations": RELATIONS,
        "statuses": STATUSES,
        "orders": ORDERS,
        "current": current,
        "note": ev.note,
        "query": _query(filters, status, order),
    }


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _query(filters: dict, status: str, order: str) -> str:
    """The queue's state as a query string (to come back to it after a decision)."""
    keep = {k: v for k, v in filters.items() if v}
    return urlencode({**keep, "status": status, "order": order})


def edge_page(ctx: dict, relation: str, child: str, parent: str, q: str = "") -> dict:
    """Everything the page of one edge shows; 404 for an edge whose ends are unknown."""
    if relation not in RELATIONS:
        abort(404, f"unknown edge relation {relation!r}: one of {', '.join(RELATIONS)}")
    edge = reader.read_review_edge(ctx["driver"], relation, child, parent, ctx["database"])
    if edge is None:
        abort(404, f"unknown edge {child} -[{relation}]-> {parent}: no such code or group")
    current = _current_build(ctx)
    ev = build_evidence(ctx["builds"], current)
    if relation == "MASH_IS_A":
        columns, cands = ev.candidates_of(child)
        other = "candidate"
    else:
        columns, cands = ev.counterparts_of(child)
        other = "other_id"
    near = edge["neighbours"]
    ids = {child, parent, *(i for i, _ in edge["path"] or [])}
    ids |= {c[other] for c in cands} | {r[0] for r in near.get("sibling", [])}
    names_points = reader.read_points(ctx["driver"], sorted(ids), ctx["database"])
    key = decision_key(relation, child, parent)
    decided = decisions_for(ctx["driver"], [key], ctx["database"]).get(key)
    return {
        "relation": relation,
        "child": edge["child"],
        "parent": edge["parent"],
        "edge": edge["edge"],
        "path": edge["path"] or [],
        "neighbours": near,
        "frequency": ev.frequency.get(child),
        "columns": columns,
        "candidates": cands,
        "other": other,
        "names": {i: v[0] for i, v in names_points.items()},
        "svg": _picture(edge, cands, other, near, names_points, ev.points),
        "decision": decided,
        "current": current,
        "note": ev.note,
        "q": q,
        "results": reader.search_codes(ctx["driver"], q, 15, ctx["database"]) if q else [],
    }


def _picture(edge, cands, other, near, names_points, build_points) -> str:
    """The Poincaré-disk SVG: the synced points, else the build's."""
    child, parent = edge["child"]["id"], edge["parent"]["id"]
    roles = {i: "path" for i, _ in edge["path"] or []}
    roles.update({r[0]: "sibling" for r in near.get("sibling", [])})
    roles.update({c[other]: "candidate" for c in cands[:8]})
    roles.update({parent: "parent", child: "child"})
    nodes = []
    for i, role in roles.items():
        name, point = names_points.get(i, (None, None))
        point = point if point is not None else build_points.get(i)
        nodes.append({"id": i, "name": name, "role": role, "point": point})
    path = [i for i, _ in edge["path"] or []]
    edges = [(child, parent)] + list(zip(path, path[1:], strict=False))
    edges += [(r[0], parent) for r in near.get("sibling", [])]
    return disk_svg(nodes, edges)


def _routes(app: Flask, ctx: dict) -> None:
    @app.get("/")
    def queue():
        return render_template("queue.html", **queue_page(ctx, request.args), **_who(ctx))

    @app.get("/next")
    def next_edge():
        args = {**request.args.to_dict(), "status": "open", "page": "1"}
        page = queue_page(ctx, args)
        if not page["rows"]:
            flash("nothing left to review under these filters")
            return redirect(url_for("queue") + "?" + page["query"])
        r = page["rows"][0]
        return redirect(_edge_url(r["relation"], r["child"], r["parent"], page["query"]))

    @app.get("/edge")
    def edge():
        a = request.args
        rel, child, parent = a.get("relation", ""), a.get("child", ""), a.get("parent", "")
        data = edge_page(ctx, rel, child, parent, a.get("q", ""))
        return render_template("edge.html", back=a.get("back", ""), **data, **_who(ctx))

    @app.post("/decide")
    def decide():
        f = request.form
        d = Decision(
            f.get("relation", ""),
            f.get("child", ""),
            f.get("parent", ""),
            f.get("decision", ""),
            ctx["reviewer"],
            f.get("build") or None,
            f.get("comment", "").strip(),
        )
        try:
            record(ctx["driver"], d, ctx["database"])
        except DecisionError as exc:
            abort(409, str(exc))
        flash(f"{d.decision}: {d.child} -> {d.parent}")
        return redirect(url_for("next_edge") + "?" + f.get("back", ""))

    @app.post("/move")
    def move():
        f = request.form
        try:
            record_move(
                ctx["driver"],
                f.get("child", ""),
                f.get("parent", ""),
                f.get("new_parent", ""),
                ctx["reviewer"],
                f.get("build") or None,
                f.get("comment", "").strip(),
                ctx["database"],
            )
        except DecisionError as exc:
            abort(409, str(exc))
        flash(f"moved: {f.get('child')} -> {f.get('new_parent')} (was {f.get('parent')})")
        return redirect(url_for("next_edge") + "?" + f.get("back", ""))


def _edge_url(relation: str, child: str, parent: str, back: str) -> str:
    return (
        url_for("edge")
        + "?"
        + urlencode({"relation": relation, "child": child, "parent": parent, "back": back})
    )


def _who(ctx: dict) -> dict:
    return {"reviewer": ctx["reviewer"], "edge_url": _edge_url, "is_na": pd.isna}
