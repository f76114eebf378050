"""Named, parameterised Cypher views (cypher/views/*.cypher), run in read transactions. Every
view reads one synced build's version of the learned content (``-p build=ID``, default the
active one; graph/versions.py)."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from importlib import resources

from neo4j import Driver, RoutingControl

from mash_kg.errors import MashError

TYPES = {"string": str, "integer": int, "float": float}


@dataclass
class View:
    name: str
    purpose: str
    parameters: dict[str, str]  # name -> description
    example: str
    query: str
    defaults: dict = field(default_factory=dict)  # from "(type, default VALUE)" in the header
    types: dict[str, str] = field(default_factory=dict)  # name -> string | integer | float
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)  # "(..., 1..1000)"
    choices: dict[str, list[str]] = field(default_factory=dict)  # "- 'a', 'b' or 'c'"

    def check(self, raw: dict[str, str]) -> dict:
        """Typed parameters from `-p name=value` strings, checked against the header's contract
        (names, types, ranges, allowed values); defaults filled in. One clear line on the
        first problem."""
        import difflib

        out = dict(self.defaults)
        for key, value in raw.items():
            if key not in self.parameters:
                close = difflib.get_close_matches(key, list(self.parameters), n=1)
                known = ", ".join(self.parameters) or "none"
                hint = f"did you mean {close[0]}? " if close else ""
                raise MashError(
                    f"view {self.name} has no parameter {key!r} ({hint}its parameters: {known})"
                )
            out[key] = self._value(key, value)
        missing = [p for p in self.parameters if p not in out]
        if missing:
            p = missing[0]
            raise MashError(f"view {self.name} needs -p {p}=VALUE ({self.parameters[p]})")
        return out

    def _value(self, key: str, value):
        kind = self.types.get(key, "string")
        if kind != "string" and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = repr(int(value) if kind == "integer" and float(value).is_integer() else value)
        elif not isinstance(value, str):
            value = str(value)
        if kind == "string":
            allowed = self.choices.get(key)
            if allowed:
                match = [a for a in allowed if a.lower() == value.strip().lower()]
                if not match:
                    raise MashError(
                        f"view {self.name}: {key}={value!r} is not one of {', '.join(allowed)}"
                    )
                return match[0]
            return value
        try:
            number = TYPES[kind](value.strip())
        except ValueError:
            article = "an" if kind == "integer" else "a"
            raise MashError(f"view {self.name}: {key}={value!r} is not {article} {kind}") from None
        if kind == "float" and number != number:  # NaN
            raise MashError(f"view {self.name}: {key}={value!r} is not a number")
        low, high = self.ranges.get(key, (None, None))
        if low is not None and not (low <= number <= high):
            raise MashError(f"view {self.name}: {key}={value} is outside {_fmt(low)}..{_fmt(high)}")
        return number


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


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
    defaults, types, ranges, choices = {}, {}, {}, {}
    for pname, desc in params.items():  # "(integer, default 100, 1..10000) - most rows"
        m = re.match(r"^\(([^)]*)\)\s*(?:-\s*(.*))?$", desc)
        if not m:
            continue
        parts = [x.strip() for x in m.group(1).split(",")]
        types[pname] = parts[0]
        for part in parts[1:]:
            if part.startswith("default "):
                defaults[pname] = json.loads(part[len("default ") :].replace("'", '"'))
            elif r := re.match(r"^(-?[\d.]+)\.\.(-?[\d.]+)$", part):
                ranges[pname] = (float(r.group(1)), float(r.group(2)))
        said = (m.group(2) or "").strip()
        allowed = re.fullmatch(r"('[\w-]+'(?:, '[\w-]+')*) or '([\w-]+)'", said)
        if allowed:
            choices[pname] = re.findall(r"'([\w-]+)'", allowed.group(1)) + [allowed.group(2)]
    return View(
        name,
        header["purpose"],
        params,
        header["example"],
        "\n".join(body).strip().rstrip(";"),
        defaults,
        types,
        ranges,
        choices,
    )


@functools.cache
def list_views() -> dict[str, View]:
    """Every view of the package, parsed once per process (they are package files)."""
    folder = resources.files("mash_kg.cypher").joinpath("views")
    views = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".cypher"):
            name = entry.name[: -len(".cypher")]
            views[name] = _parse(name, entry.read_text("utf-8"))
    return views


def get_view(name: str) -> View:
    """The view `name`; an unknown name is one clear line listing the known ones."""
    views = list_views()
    if name not in views:
        raise MashError(f"no view named {name!r}: known views are {', '.join(views)}")
    return views[name]


def run_view(driver: Driver, name: str, params: dict, database: str = "neo4j") -> list[dict]:
    """The rows of view `name`. Its `build` parameter (every view has one; '' for the active
    build) names the version read: an unknown build is one clear line. A reader that must see
    one build throughout pins it once (`versions.pin`) and passes its id to every view."""
    view = get_view(name)
    params = view.check(params)
    if params.get("build"):
        from mash_kg.graph.versions import pin

        pin(driver, params["build"], database)
    records, _, _ = driver.execute_query(
        view.query, params, database_=database, routing_=RoutingControl.READ
    )
    return [dict(r) for r in records]
