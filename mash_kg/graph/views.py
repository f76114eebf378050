"""Named, parameterised Cypher views (cypher/views/*.cypher), run in read transactions."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib import resources

from neo4j import Driver, RoutingControl

from mash_kg.errors import MashError


@dataclass
class View:
    name: str
    purpose: str
    parameters: dict[str, str]  # name -> description
    example: str
    query: str
    defaults: dict = field(default_factory=dict)  # from "(type, default VALUE)" in the header


def _parse(name: str, text: str) -> View:
    header = dict.fromkeys(("purpose", "parameters", "example"), "")
    body = []
    for line in text.splitlines():
        m = re.match(r"^//\s*(purpose|parameters|example):\s*(.*)$", line)
        if m:
            header[m.group(1)] = m.group(2).strip()
        elif not line.startswith("//"):
            body.append(line)
    params = {}
    for part in filter(None, (p.strip() for p in header["parameters"].split(";"))):
        pname, _, desc = part.partition(" ")
        if pname.lower() != "none":
            params[pname] = desc.strip()
    defaults = {}
    for pname, desc in params.items():  # "(string, default 'curated')" -> 'curated'
        m = re.match(r"^\(\w+, default ([^)]+)\)", desc)
        if m:
            defaults[pname] = json.loads(m.group(1).replace("'", '"'))
    return View(
        name, header["purpose"], params, header["example"],
        "\n".join(body).strip().rstrip(";"), defaults,
    )  # fmt: skip


def list_views() -> dict[str, View]:
    folder = resources.files("mash_kg.cypher").joinpath("views")
    views = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".cypher"):
            name = entry.name[: -len(".cypher")]
            views[name] = _parse(name, entry.read_text("utf-8"))
    return views


def run_view(driver: Driver, name: str, params: dict, database: str = "neo4j") -> list[dict]:
    views = list_views()
    if name not in views:
        raise MashError(f"no view named {name!r}: known views are {', '.join(views)}")
    view = views[name]
    params = {**view.defaults, **params}
    missing = [p for p in view.parameters if p not in params]
    if missing:
        raise MashError(f"view {name} needs -p {missing[0]}=VALUE ({view.parameters[missing[0]]})")
    records, _, _ = driver.execute_query(
        view.query, params, database_=database, routing_=RoutingControl.READ
    )
    return [dict(r) for r in records]
