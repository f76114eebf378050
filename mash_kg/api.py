"""The Python API for notebooks: the project's graph, its views, phenotypes, builds and their
figures as pandas DataFrames.

```python
import mash_kg.api as mk

g = mk.open_graph("examples/two_sites")          # the project's graph, in one line
g.view("ancestors", code="ICD10CM:E11.9")       # any named view -> DataFrame
g.expand_phenotype("type2_diabetes", site="A")  # a phenotype's codes at a site
mk.build_table("hierarchy", project_dir="examples/two_sites")  # a build's table
mk.eval_figures(project_dir="examples/two_sites")               # `mash-kg eval`'s figures
```

The command line calls the same functions (`mash-kg query`, `phenotype import|expand`, `eval`):
one path, the same checks, the same one-line errors (`mash_kg.errors.MashError`). Parameters
are checked against a view's header before anything connects. Where the graph lives comes from
the project's `mash-kg.toml` and the environment (NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD), as
for the command line.
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pandas as pd

from mash_kg.config import CONFIG_NAME, Config, Neo4jSettings, load_config
from mash_kg.errors import MashError

if TYPE_CHECKING:
    from mash_kg.artefact import Build
    from mash_kg.graph.cypher import Driver  # neo4j's, imported by the graph layer only

PathArg = str | PathLike[str]

__all__ = [
    "Graph",
    "build_table",
    "build_tables",
    "check_view_params",
    "eval_figures",
    "eval_metrics",
    "expand_phenotype_rows",
    "import_phenotypes",
    "open_build",
    "open_graph",
    "project_config",
    "view_rows",
    "views",
]


# -- the project ---------------------------------------------------------------------------
def project_config(project_dir: PathArg | None = None, config: PathArg | None = None) -> Config:
    """The project's configuration: `config` (a mash-kg.toml file), else `project_dir`'s
    mash-kg.toml, else ./mash-kg.toml when present; the environment applied on top.

    Raises:
        InputError: the file named is missing or wrong (one line naming file and key).
    """
    if config is not None:
        return load_config(Path(config))
    if project_dir is not None:
        return load_config(Path(project_dir) / CONFIG_NAME)
    return load_config(None)


# -- views -----------------------------------------------------------------------------------
def views() -> pd.DataFrame:
    """Every named view (cypher/views): name, purpose, parameters, example."""
    from mash_kg.graph import views as named

    rows = [
        {
            "name": v.name,
            "purpose": v.purpose,
            "parameters": "; ".join(f"{k} {d}".strip() for k, d in v.parameters.items()),
            "example": v.example,
        }
        for v in named.list_views().values()
    ]
    return pd.DataFrame(rows, columns=["name", "purpose", "parameters", "example"])


def check_view_params(name: str, params: Mapping[str, object]) -> dict[str, Any]:
    """`params` typed and checked against view `name`'s header (names, types, ranges, allowed
    values), its defaults filled in: what `mash-kg query -p` does before connecting.

    Raises:
        MashError: an unknown view or parameter, a missing one, a wrong type or range.
    """
    from mash_kg.graph import views as named

    return named.get_view(name).check(dict(params))


def view_rows(
    settings: Neo4jSettings,
    name: str,
    params: Mapping[str, object],
    driver: Driver | None = None,
) -> list[dict[str, Any]]:
    """The rows of view `name`: parameters checked first, then run in a read transaction (on
    `driver` when given, else on a connection opened and closed here)."""
    from mash_kg.graph import views as named
    from mash_kg.graph.connection import open_driver

    checked = check_view_params(name, params)  # input errors before connecting
    if driver is not None:
        return named.run_view(driver, name, checked, settings.database)
    with open_driver(settings, schema=False) as opened:
        return named.run_view(opened, name, checked, settings.database)


# -- phenotypes ------------------------------------------------------------------------------
def expand_phenotype_rows(
    settings: Neo4jSettings,
    phenotype: str,
    site: str,
    max_rank: int = 1,
    driver: Driver | None = None,
    build: str | None = None,
    learned: str = "all",
) -> list[dict[str, Any]]:
    """The codes of `phenotype` at `site` (the phenotype_codes view's rows), following
    ALIGNED_WITH up to `max_rank`, read from one synced build (`build`, default the active
    one; every row names it); `learned`: the learned edges followed, "all", "accepted" (by a
    reviewer) or "none".

    Raises:
        MashError: `max_rank` outside 1..100, an unknown phenotype or site, or an expansion
            to nothing (saying why and what to try).
    """
    from mash_kg.graph.connection import open_driver
    from mash_kg.graph.phenotypes import expand_phenotype

    # the phenotype_codes view's contract (max_rank 1..100), checked before connecting
    check_view_params(
        "phenotype_codes", {"phenotype": phenotype, "site": site, "max_rank": max_rank}
    )
    if learned not in ("all", "accepted", "none"):
        raise MashError(f"learned must be all, accepted or none, not {learned!r}")
    options = {"build": build, "learned": learned}
    if driver is not None:
        return expand_phenotype(driver, phenotype, site, max_rank, settings.database, **options)
    with open_driver(settings, schema=False) as opened:
        return expand_phenotype(opened, phenotype, site, max_rank, settings.database, **options)


def import_phenotypes(
    settings: Neo4jSettings, file: PathArg, name: str | None = None, driver: Driver | None = None
) -> dict[str, Any]:
    """Store the definitions of `file` (ATLAS concept-set JSON, or CSV: phenotype, code,
    include_descendants, exclude) in the graph, replacing earlier versions; returns
    {phenotypes, items, ids}. Nothing is written when a code is not in the graph."""
    from mash_kg.graph.connection import open_driver
    from mash_kg.graph.phenotypes import write_phenotypes
    from mash_kg.loaders.phenotype import read_phenotypes

    tables = read_phenotypes(Path(file), name)
    if driver is not None:
        done = write_phenotypes(driver, tables, settings.database)
    else:
        with open_driver(settings) as opened:
            done = write_phenotypes(opened, tables, settings.database)
    return {**done, "ids": list(tables.phenotypes["id"])}


# -- builds and their figures ------------------------------------------------------------------
def _build_folder(build: PathArg | None, config: Config) -> Path:
    if build is not None:
        return Path(build)
    from mash_kg.artefact import latest_build
    from mash_kg.project import load_project

    return latest_build(load_project(config).builds)


def open_build(
    build: PathArg | None = None,
    project_dir: PathArg | None = None,
    config: PathArg | None = None,
) -> Build:
    """A build folder opened and checked against its manifest: `build`, else the project's
    newest build."""
    from mash_kg.artefact import Build

    if build is not None:
        return Build.open(Path(build))
    return Build.open(_build_folder(None, project_config(project_dir, config)))


def build_table(
    name: str,
    build: PathArg | None = None,
    project_dir: PathArg | None = None,
    config: PathArg | None = None,
) -> pd.DataFrame:
    """Table `name` of a build (codes, counterparts, hierarchy, latent, candidates, ...; see
    `mash_kg.artefact.TABLES`) as a DataFrame; a table of a stage the build did not run is an
    empty frame with its columns.

    Raises:
        MashError: an unknown table name (listing the known ones), a damaged build.
    """
    from mash_kg.artefact import TABLES

    if name not in TABLES:
        raise MashError(f"no build table named {name!r}: known tables are {', '.join(TABLES)}")
    return open_build(build, project_dir, config).frame_or_empty(name)


def build_tables(
    build: PathArg | None = None,
    project_dir: PathArg | None = None,
    config: PathArg | None = None,
) -> dict[str, pd.DataFrame]:
    """Every table the build holds, by name (see `build_table`)."""
    from mash_kg.artefact import TABLES

    opened = open_build(build, project_dir, config)
    return {name: opened.frame(name) for name in TABLES if opened.has(name)}


def eval_metrics(build: PathArg | None = None, config: Config | None = None) -> dict[str, Any]:
    """`mash-kg eval`: the held-out figures of `build` (default: the project's newest), as the
    nested dict `eval.json` holds; also written there."""
    from mash_kg.hierarchy.evaluate import evaluate_build

    return evaluate_build(_build_folder(build, config or project_config()))


def _flatten(metrics: Mapping[str, Any], section: str = "") -> list[dict[str, Any]]:
    rows = []
    for key, value in metrics.items():
        if isinstance(value, Mapping):
            rows += _flatten(value, f"{section}.{key}" if section else key)
        else:
            rows.append({"section": section, "figure": key, "value": value})
    return rows


def eval_figures(
    build: PathArg | None = None,
    project_dir: PathArg | None = None,
    config: PathArg | None = None,
) -> pd.DataFrame:
    """`mash-kg eval`'s figures as a long table: section (model, text_only, edges, space, or ''
    for the build's own), figure, value. Compare the model with the text model alone with
    `df.pivot(index="figure", columns="section", values="value")`."""
    metrics = eval_metrics(build, project_config(project_dir, config))
    return pd.DataFrame(_flatten(metrics), columns=["section", "figure", "value"])


# -- the graph ---------------------------------------------------------------------------------
class Graph:
    """The project's graph, connected once: named views, your own Cypher (read-only) and
    phenotypes, each as a DataFrame. Use `open_graph`; close it (or use `with`) when done."""

    def __init__(self, config: Config) -> None:
        from mash_kg.graph.connection import connect

        self.config = config
        self.settings = config.neo4j
        self._driver: Driver | None = connect(self.settings, schema=False)

    def __repr__(self) -> str:  # never the password
        return f"Graph({self.settings.bolt_uri!r}, database={self.settings.database!r})"

    @property
    def driver(self) -> Driver:
        """The open neo4j driver (for what the API does not cover)."""
        if self._driver is None:
            raise MashError("this Graph is closed: open_graph() again")
        return self._driver

    def close(self) -> None:
        """Close the connection."""
        if self._driver is not None:
            self._driver.close()
            self._driver = None

    def __enter__(self) -> Graph:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def views(self) -> pd.DataFrame:
        """Every named view: name, purpose, parameters, example."""
        return views()

    def view(self, name: str, **params: object) -> pd.DataFrame:
        """View `name` with `params` (checked as `mash-kg query -p` checks them), e.g.
        `g.view("descendants", code="ICD10CM:E11", which="both")`."""
        return pd.DataFrame(view_rows(self.settings, name, params, self.driver))

    def cypher(self, query: str, **params: object) -> pd.DataFrame:
        """Your own Cypher in a read-only transaction (writes are refused by Neo4j); pass
        values as parameters: `g.cypher(query, id="ICD10CM:E11.9")` binds `$id` in `query`."""
        from mash_kg.graph.cypher import read_rows

        columns, rows = read_rows(self.driver, query, params, self.settings.database)
        return pd.DataFrame(rows, columns=columns)

    def expand_phenotype(
        self,
        phenotype: str,
        site: str,
        max_rank: int = 1,
        build: str | None = None,
        learned: str = "all",
    ) -> pd.DataFrame:
        """The codes of `phenotype` at `site`, each with its rule, edges, confidence, how the
        site has it and the build read (as `mash-kg phenotype expand`)."""
        rows = expand_phenotype_rows(
            self.settings, phenotype, site, max_rank, self.driver, build, learned
        )
        return pd.DataFrame(rows)

    def import_phenotypes(self, file: PathArg, name: str | None = None) -> dict[str, Any]:
        """Store the phenotype definitions of `file` (see `import_phenotypes`)."""
        return import_phenotypes(self.settings, file, name, self.driver)

    def phenotypes(self) -> pd.DataFrame:
        """The phenotypes in the graph: id, name, source, included and excluded concepts."""
        from mash_kg.graph.cypher import PHENOTYPES

        return self.cypher(PHENOTYPES)


def open_graph(project_dir: PathArg | None = None, config: PathArg | None = None) -> Graph:
    """The project's graph in one line: `open_graph("path/to/project")` reads its
    mash-kg.toml (and NEO4J_* from the environment) and connects.

    Raises:
        MashError: no Neo4j answers, the password is refused or missing (one line each).
    """
    return Graph(project_config(project_dir, config))
