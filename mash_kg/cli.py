"""The `mash-kg` command line (click + rich). Every failure is one line and a non-zero exit."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import sys
import warnings
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from mash_kg import __version__
from mash_kg.config import Config, load_config
from mash_kg.errors import MashError

# PyTorch Geometric's import calls torch.jit.script, which torch now deprecates: not ours to fix,
# and not something a user of the CLI can act on
warnings.filterwarnings(
    "ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning
)

console = Console()
err_console = Console(stderr=True)
# the driver logs its retries and lost connections as warnings: the CLI reports the outcome in
# one line instead of letting Python print the driver's log lines on stderr
logging.getLogger("neo4j").addHandler(logging.NullHandler())
logging.getLogger("neo4j").propagate = False


def _first_line(text: object) -> str:
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    return lines[0] if lines else ""


def _one_line(exc: Exception) -> str | None:
    """The line a user sees for an error they can hit; None for a bug (logged, see below)."""
    from mash_kg.graph.connection import neo4j_error_line

    if isinstance(exc, MashError):
        return _first_line(exc)
    line = neo4j_error_line(exc)
    if line is not None:
        return line
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc.__class__.__name__}"
    return None


def _log_internal_error(exc: BaseException) -> Path | None:
    """Write the traceback of an unexpected error to a log file; its path, or None."""
    import tempfile
    import traceback
    from datetime import UTC, datetime

    text = "".join(traceback.format_exception(exc))
    for base in (Path.home() / ".cache" / "mash-kg" / "logs", Path(tempfile.gettempdir())):
        try:
            base.mkdir(parents=True, exist_ok=True)
            path = base / f"mash-kg-error-{datetime.now(UTC):%Y%m%dT%H%M%S}-{os.getpid()}.log"
            path.write_text(f"mash-kg {__version__}\n{' '.join(sys.argv)}\n{text}")
            path.chmod(0o600)
            return path
        except OSError:
            continue
    return None


class MashGroup(click.Group):
    """Turns every error into one line on stderr and exit status 1: errors a user can hit say
    what to do; anything else (a bug) says where its traceback was logged."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort):
            raise
        except click.ClickException as exc:  # usage errors too: one line, not click's block
            line = _first_line(exc.format_message())
            if isinstance(exc, click.UsageError) and exc.ctx is not None:
                line += f" (see `{exc.ctx.command_path} --help`)"
            err_console.print(
                f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True
            )
            sys.exit(exc.exit_code)
        except Exception as exc:
            line = _one_line(exc)
            if line is None:
                log = _log_internal_error(exc)
                where = f"the details are in {log}" if log else "no log could be written"
                line = (
                    f"internal error ({exc.__class__.__name__}: {_first_line(exc)[:200]}); "
                    f"{where}; please report it"
                )
            err_console.print(
                f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True
            )
            sys.exit(1)


def _notice(line: str) -> None:
    """A message the user should see that is not an error (stderr, one line)."""
    err_console.print(f"[yellow]note:[/] {escape(line)}", highlight=False, soft_wrap=True)


def progress_bars(transient: bool = False):
    """The progress display of every long step: description, bar, done/total, elapsed; on a
    stdout that is not a terminal, plain lines per step and every MASH_KG_PROGRESS_SECONDS."""
    if not console.is_terminal:
        from mash_kg.progress import PlainProgress

        return PlainProgress(console)
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=transient,
    )


def _config(ctx: click.Context) -> Config:
    return ctx.obj["config"]


@click.group(cls=MashGroup)
@click.version_option(__version__, prog_name="mash-kg")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Project file (default: ./mash-kg.toml when present).",
)
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """mash-kg: harmonise medical codes of several sites into one hierarchy in Neo4j."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = load_config(config_path)  # errors reach MashGroup.invoke


# ------------------------------------------------------------------------------------- neo4j


def _say(line: str) -> None:
    """One line of the neo4j commands, verbatim: paths and command lines are not markup, and
    the line is not wrapped."""
    console.print(line, highlight=False, markup=False, soft_wrap=True)


@cli.group()
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Bolt port (default 7687 or config).",
)
@click.option(
    "--home",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for the server's data and logs.",
)
@click.pass_context
def neo4j(ctx: click.Context, port: int | None, home: Path | None) -> None:
    """Run a local Neo4j 5.26 Community server (no Docker needed)."""
    settings = _config(ctx).neo4j
    if port:
        settings.bolt_port = port
    if home:
        settings.home = home.expanduser().resolve()


@neo4j.command("start")
@click.pass_context
def neo4j_start(ctx: click.Context) -> None:
    """Start the server and return once Bolt answers."""
    from mash_kg.neo4j_server import server

    settings = _config(ctx).neo4j
    if settings.uri:
        _say(
            f"NEO4J_URI names {settings.uri} (the graph the other commands use); this starts "
            f"the local server on 127.0.0.1:{settings.bolt_port}."
        )
    with console.status(f"Starting Neo4j {server.NEO4J_VERSION} ..."):
        st = server.start(settings, echo=_say, cache=_config(ctx).cache.root)
    _print_status(st)


@neo4j.command("stop")
@click.pass_context
def neo4j_stop(ctx: click.Context) -> None:
    """Shut the server down cleanly."""
    from mash_kg.neo4j_server import server

    if server.stop(_config(ctx).neo4j, echo=_say):
        _say("Neo4j stopped.")
    else:
        _say("Neo4j was not running.")


@neo4j.command("shell", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def neo4j_shell(ctx: click.Context, args: tuple[str, ...]) -> None:
    """cypher-shell on the configured graph (fetched from Maven Central once); ARGS go to
    cypher-shell, e.g. `-f cypher/views/ancestors.cypher -P "{code: 'ICD10CM:E11.9'}"`."""
    import subprocess

    from mash_kg.neo4j_server.server import ensure_cypher_shell

    settings = _config(ctx).neo4j
    cmd = ensure_cypher_shell(_config(ctx).cache.root, echo=_say)
    env = {**os.environ, "NEO4J_PASSWORD": settings.password}  # kept off the command line
    code = subprocess.call(
        [*cmd, "-a", settings.bolt_uri, "-u", settings.user, "-d", settings.database, *args],
        env=env,
    )
    sys.exit(code)


@neo4j.command("status")
@click.pass_context
def neo4j_status(ctx: click.Context) -> None:
    """Print version, pid and address; exit 3 when the server is not running."""
    from mash_kg.neo4j_server import server

    st = server.status(_config(ctx).neo4j, echo=_say)
    _print_status(st)
    if not st.running:
        sys.exit(3)


def _print_status(st) -> None:
    if st.running:
        _say(f"Neo4j {st.version} running, pid {st.pid}, bolt {st.address}")
        if st.http:
            _say(f"Browser: {st.http}  data: {st.home}")
    elif st.pid:
        _say(
            f"Neo4j process {st.pid} is up but Bolt does not answer at {st.address} "
            f"(starting, or wrong password); logs: {st.home / 'logs'}"
        )
    else:
        _say(f"Neo4j is not running (data: {st.home})")


# ------------------------------------------------------------------------------------- load


def _source_help() -> str:
    from mash_kg.loaders import REGISTRY

    return "; ".join(f"{k}: {v[1]}" for k, v in REGISTRY.items())


@cli.command()
@click.argument("source")
@click.option(
    "--file",
    "files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Release file or folder (repeat when a source has several).",
)
@click.option("--vocab", default=None, help="Vocabulary id for obo / edges sources.")
@click.option("--version", "version", default=None, help="Release version to record.")
@click.option(
    "--domain",
    default="other",
    type=click.Choice(["diagnosis", "medication", "lab", "procedure", "other"]),
    help="Domain of codes for obo / edges sources.",
)
@click.option(
    "--batch-size",
    default=5000,
    show_default=True,
    type=click.IntRange(1, 100000),
    help="Rows per UNWIND statement.",
)
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@click.option(
    "--allow-retire",
    is_flag=True,
    help="Allow retiring more than half of a vocabulary's active codes.",
)
@click.option(
    "--allow-takeover",
    is_flag=True,
    help="Allow replacing a vocabulary that another source loaded.",
)
@click.pass_context
def load(
    ctx: click.Context,
    source: str,
    files: tuple[Path, ...],
    vocab: str | None,
    version: str | None,
    domain: str,
    batch_size: int,
    dry_run: bool,
    allow_retire: bool,
    allow_takeover: bool,
) -> None:
    """Load an ontology SOURCE into Neo4j (see `mash-kg load --help` for sources)."""
    from mash_kg.loaders import REGISTRY

    if source not in REGISTRY:
        raise MashError(f"unknown source {source!r}: one of {', '.join(REGISTRY)}")
    report = load_source(
        _config(ctx),
        source,
        list(files),
        vocab=vocab,
        version=version,
        domain=domain,
        batch_size=batch_size,
        dry_run=dry_run,
        allow_retire=allow_retire,
        allow_takeover=allow_takeover,
    )
    print_report(report)


load.help = (load.help or "") + "\n\nSources: " + _source_help()


def load_source(
    config: Config,
    source: str,
    files: list[Path] | None = None,
    *,
    batch_size: int = 5000,
    dry_run: bool = False,
    allow_retire: bool = False,
    allow_takeover: bool = False,
    **options,
):
    from mash_kg.graph import connect
    from mash_kg.graph.writer import write_tables
    from mash_kg.loaders import get_loader
    from mash_kg.tables import validate

    with console.status(f"Reading {source} ..."):
        tables = get_loader(source)(files=files or None, **options)
        validate(tables)  # bad input is one line before anything connects or writes
    settings = config.neo4j
    driver = connect(settings)
    try:
        total = len(tables.nodes) + len(tables.edges)
        with progress_bars(transient=True) as bar:
            task = bar.add_task(f"Writing {source}", total=total)
            report = write_tables(
                driver,
                tables,
                database=settings.database,
                batch_size=batch_size,
                dry_run=dry_run,
                progress=lambda _label, n: bar.advance(task, n),
                allow_retire=allow_retire,
                allow_takeover=allow_takeover,
                notify=_notice,
            )
    finally:
        driver.close()
    return report


def print_report(report) -> None:
    verb = "would change" if report.dry_run else "loaded"
    table = Table(
        title=f"{report.source}: {verb} {', '.join(report.vocabularies)} in {report.seconds:.1f} s",
        title_justify="left",
    )
    for col in ("", "added", "changed", "retired", "total"):
        table.add_column(col, justify="right")
    table.add_row(
        "codes",
        str(report.nodes_added),
        str(report.nodes_changed),
        str(report.nodes_retired),
        str(report.nodes_total),
    )
    table.add_row(
        "edges",
        str(report.edges_added),
        str(report.edges_changed),
        str(report.edges_retired),
        str(report.edges_total),
    )
    console.print(table)
    if report.edges_skipped:
        console.print(
            f"{report.edges_skipped} edges skipped because an end is not in the graph "
            f"(load that vocabulary first), e.g. {'; '.join(report.skipped_examples)}",
            highlight=False,
        )


# ------------------------------------------------------------------------------------- query


def _parse_params(pairs: tuple[str, ...]) -> dict[str, str]:
    """`-p name=value` pairs as strings; the view types and checks them (views.View.check)."""
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise MashError(f"-p {pair!r}: expected name=value")
        if key.strip() in params:
            raise MashError(f"-p {key.strip()} is given twice")
        params[key.strip()] = value
    return params


def format_rows(rows: list[dict], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(rows, indent=2, default=str)
    if fmt == "csv":
        buf = io.StringIO()
        if rows:
            writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        return buf.getvalue()
    raise ValueError(fmt)


def print_rows(rows: list[dict], title: str = "") -> None:
    table = Table(title=title or None, title_justify="left")
    for col in rows[0] if rows else ["(no rows)"]:
        table.add_column(str(col))
    for row in rows:
        table.add_row(*(Text("" if v is None else str(v)) for v in row.values()))  # no markup
    console.print(table)


@cli.command()
@click.argument("view", required=False)
@click.option("-p", "--param", "params", multiple=True, help="name=value (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@click.option("--list", "list_only", is_flag=True, help="List the views and their parameters.")
@click.pass_context
def query(
    ctx: click.Context, view: str | None, params: tuple[str, ...], fmt: str, list_only: bool
) -> None:
    """Run a named Cypher VIEW (cypher/views) with parameters."""
    from mash_kg.graph import connect
    from mash_kg.graph.views import get_view, list_views, run_view

    if list_only or not view:
        for v in list_views().values():
            console.print(f"[bold]{v.name}[/]  {v.purpose}", highlight=False)
            for p, desc in v.parameters.items():
                console.print(f"    -p {p}=...  {desc}", highlight=False)
        return
    checked = get_view(view).check(_parse_params(params))  # input errors before connecting
    settings = _config(ctx).neo4j
    driver = connect(settings, schema=False)
    try:
        rows = run_view(driver, view, checked, settings.database)
    finally:
        driver.close()
    if fmt == "table":
        print_rows(rows, view)
    else:
        click.echo(format_rows(rows, fmt), nl=False)


# ---------------------------------------------------------------------------------- phenotype
@cli.group()
def phenotype() -> None:
    """Phenotype definitions: import concept sets, expand them into a site's codes."""


@phenotype.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--name", help="Phenotype id for an ATLAS JSON file (default: its name or file).")
@click.pass_context
def phenotype_import(ctx: click.Context, file: Path, name: str | None) -> None:
    """Read FILE (ATLAS concept-set JSON, or CSV: phenotype, code, include_descendants,
    exclude) and store it as :Phenotype -[:INCLUDES]-> :Code, replacing an earlier version."""
    from mash_kg.graph import connect
    from mash_kg.graph.phenotypes import write_phenotypes
    from mash_kg.loaders.phenotype import read_phenotypes

    tables = read_phenotypes(file, name)
    settings = _config(ctx).neo4j
    driver = connect(settings)
    try:
        done = write_phenotypes(driver, tables, settings.database)
    finally:
        driver.close()
    ids = ", ".join(tables.phenotypes["id"])
    console.print(
        f"imported {done['phenotypes']} phenotype(s) ({ids}), {done['items']} items",
        highlight=False,
    )


@phenotype.command("expand")
@click.argument("name")
@click.option("--site", required=True, help="The site whose codes to list.")
@click.option(
    "--max-rank",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Deepest ALIGNED_WITH rank followed to reach the site's codes.",
)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@click.pass_context
def phenotype_expand(ctx: click.Context, name: str, site: str, max_rank: int, fmt: str) -> None:
    """The codes of phenotype NAME at SITE, each with the rule, edges and scores that bring it
    in (the phenotype_codes view)."""
    from mash_kg.graph import connect
    from mash_kg.graph.views import run_view

    settings = _config(ctx).neo4j
    driver = connect(settings, schema=False)
    try:
        known, _, _ = driver.execute_query(
            "OPTIONAL MATCH (p:Phenotype {id: $p}) OPTIONAL MATCH (s:Site {id: $s}) "
            "RETURN p IS NOT NULL AS p, s IS NOT NULL AS s",
            p=name,
            s=site,
            database_=settings.database,
        )
        if not known[0]["p"]:
            raise MashError(f"no phenotype {name!r} in the graph (mash-kg phenotype import)")
        if not known[0]["s"]:
            raise MashError(f"no site {site!r} in the graph (mash-kg sync a build that has it)")
        rows = run_view(
            driver,
            "phenotype_codes",
            {"phenotype": name, "site": site, "max_rank": max_rank},
            settings.database,
        )
        if not rows:  # asked for the site's codes and there are none: say why, exit 1
            from mash_kg.graph.phenotypes import why_empty

            raise MashError(why_empty(driver, name, site, max_rank, settings.database))
    finally:
        driver.close()
    if fmt == "table":
        print_rows(rows, f"{name} at site {site}: {len(rows)} codes")
    else:
        click.echo(format_rows(rows, fmt), nl=False)


# ------------------------------------------------------------------------------- init, build


@cli.command()
@click.option("--force", is_flag=True, help="Overwrite an existing mash-kg.toml.")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path), default=".")
def init(folder: Path, force: bool) -> None:
    """Write a commented mash-kg.toml template into FOLDER (default: here)."""
    from mash_kg.config import CONFIG_NAME
    from mash_kg.project import TEMPLATE

    target = folder / CONFIG_NAME
    if target.exists() and not force:
        raise MashError(f"{target}: already exists (use --force to overwrite)")
    folder.mkdir(parents=True, exist_ok=True)
    target.write_text(TEMPLATE, encoding="utf-8")
    console.print(f"wrote {target}: name your sites and their inputs, then run mash-kg build")


def run_build_with_progress(config: Config, builds: Path | None = None, transform=None):
    """Run `mash-kg build` for a loaded config with progress bars; returns the build folder
    (under `builds` when given, else the project's builds folder). `transform` may change the
    project first (the demo replaces its sites by their summaries)."""
    from dataclasses import replace

    from mash_kg.build import run_build
    from mash_kg.project import load_project

    project = load_project(config)
    if builds is not None:
        project = replace(project, builds=builds)
    if transform is not None:
        project = transform(project)
    with progress_bars() as bar:

        def step(description: str, total: int | None):
            task = bar.add_task(description, total=total)
            return lambda n: bar.advance(task, n)

        return run_build(project, config.neo4j, step=step)


@cli.command()
@click.pass_context
def build(ctx: click.Context) -> None:
    """Run Stages I-III from mash-kg.toml into a build folder: site inputs, embeddings,
    alignment; hyperbolic embeddings over the stored graph; the learned hierarchy."""
    folder = run_build_with_progress(_config(ctx))
    manifest = json.loads((folder / "manifest.json").read_text())
    table = Table(title=f"build {manifest['id']}")
    for col in ("site", "codes", "events", "co-occurring pairs"):
        table.add_column(col, justify="right" if col != "site" else "left")
    for site, fig in manifest["sites"].items():
        events = "counts given" if fig["events"] is None else f"{fig['events']:,}"
        table.add_row(site, f"{fig['codes']:,}", events, f"{fig['pairs']:,}")
    console.print(table)
    if manifest.get("stage3"):
        s2, s3 = manifest["stage2"], manifest["stage3"]
        enc = (
            f"hierarchy encoder {s2['encoder_steps']} steps on {s2['encoder_pairs']:,} pairs "
            f"({s2['encoder_seconds']} s)"
            if s2.get("encoder_steps")
            else "text model not fine-tuned"
        )
        space = ""
        if "reconstruction_map" in s2:
            space = (
                f", reconstruction MAP {s2['reconstruction_map']}, depth-norm Spearman "
                f"{s2.get('depth_norm_spearman')}"
            )
        console.print(
            f"Stage II: {s2['nodes']:,} codes on the ball ({s2['train_edges']:,} curated edges, "
            f"{s2['heldout_edges']:,} held out), {enc}{space}. Stage III: "
            f"{s3['unparented_codes']:,} codes without a curated parent: "
            f"{s3['placed_codes']:,} placed, {s3['codes_in_latent_groups']:,} in "
            f"{s3['latent_groups']:,} latent groups, {s3['codes_left_unparented']:,} left.",
            highlight=False,
        )
    for warning in manifest.get("warnings") or []:
        err_console.print(
            f"[bold yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True
        )
    console.print(f"build folder: {folder} ({manifest['seconds']} s)")


def latest_build(config: Config) -> Path:
    """The newest complete build folder of the project."""
    from mash_kg.project import load_project

    builds = load_project(config).builds
    found = sorted(p for p in builds.glob("*") if (p / "manifest.json").is_file())
    if not found:
        raise MashError(f"{builds}: no build yet (run mash-kg build)")
    return found[-1]


@cli.command("eval")
@click.argument("build_dir", required=False, type=click.Path(path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.pass_context
def eval_(ctx: click.Context, build_dir: Path | None, fmt: str) -> None:
    """Score BUILD_DIR (default: the newest build) against the curated edges it held out."""
    from mash_kg.evaluate import evaluate_build

    metrics = evaluate_build(build_dir or latest_build(_config(ctx)))
    if fmt == "json":
        click.echo(json.dumps(metrics, indent=2))
        return
    table = Table(
        title=f"build {metrics['build']}: {metrics['heldout_codes']} held-out codes, "
        f"{metrics['candidates_per_code']:.0f} candidates each; coverage "
        f"{metrics['coverage']:.1%} (true parent among the candidates)"
    )
    table.add_column("parent ranking")
    for col in ("hit@1", "hit@10", "MRR", "mean rank"):
        table.add_column(col, justify="right")
    for label, key in (("Stage II-III model", "model"), ("text model alone", "text_only")):
        m = metrics[key]
        table.add_row(
            label,
            *(
                ("-" if m[k] is None else str(m[k]))
                for k in ("hit@1", "hit@10", "mrr", "mean_rank")
            ),
        )
    console.print(table)
    console.print(
        f"hit@k and MRR count every held-out code ({metrics['not_a_candidate']} whose true "
        "parent was not a candidate are misses); mean rank is over the covered ones",
        highlight=False,
    )
    e = metrics["edges"]
    console.print(
        f"MASH_IS_A edges drawn for held-out codes (score >= {e['threshold']}): {e['drawn']}, "
        f"precision {e['precision']}, recall {e['recall']}; "
        f"{metrics['to_latent_or_none']:.1%} of held-out codes got no curated parent",
        highlight=False,
    )
    sp = metrics.get("space") or {}
    if sp.get("reconstruction_map") is not None:
        console.print(
            f"Poincaré space: reconstruction of the curated closure MAP {sp['reconstruction_map']}"
            f", mean rank {sp['reconstruction_mean_rank']} ({sp['reconstruction_nodes']:,} "
            f"codes sampled); depth-norm Spearman {sp.get('depth_norm_spearman')}",
            highlight=False,
        )


@cli.command()
@click.argument("build_dir", required=False, type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Print the counts it would change; write nothing.")
@click.option(
    "--break-lock", is_flag=True, help="Clear the lock of a sync or load whose process is gone."
)
@click.option(
    "--allow-retire",
    is_flag=True,
    help="Allow removing more than half of the learned content the graph holds.",
)
@click.option("--batch-size", type=click.IntRange(1, 100000), default=5000, show_default=True)
@click.pass_context
def sync(
    ctx: click.Context,
    build_dir: Path | None,
    dry_run: bool,
    break_lock: bool,
    allow_retire: bool,
    batch_size: int,
) -> None:
    """Make Neo4j hold BUILD_DIR (default: the newest build of the project): only the difference,
    in one transaction, one sync at a time."""
    from mash_kg.graph.connection import connect
    from mash_kg.graph.sync import break_lock as clear_lock
    from mash_kg.graph.sync import sync_build

    config = _config(ctx)
    driver = connect(config.neo4j)
    try:
        if break_lock:
            console.print(clear_lock(driver, config.neo4j.database), highlight=False)
            if build_dir is None:
                return
        build_dir = build_dir or latest_build(config)
        report = sync_build(
            driver,
            build_dir,
            database=config.neo4j.database,
            batch_size=batch_size,
            dry_run=dry_run,
            allow_retire=allow_retire,
            notify=_notice,
        )
    finally:
        driver.close()
    verb = "would change" if dry_run else "changed"
    table = Table(title=f"sync {report.build} ({verb})")
    table.add_column("what")
    table.add_column("added", justify="right")
    table.add_column("changed", justify="right")
    table.add_column("retired/removed", justify="right")
    table.add_row(
        "codes", str(report.codes_added), str(report.codes_changed), str(report.codes_retired)
    )
    table.add_row(
        "ALIGNED_WITH",
        str(report.aligned_added),
        str(report.aligned_changed),
        str(report.aligned_removed),
    )
    table.add_row("sites", str(report.sites_added), "0", "0")
    table.add_row(
        ":Latent", str(report.latent_added), str(report.latent_changed), str(report.latent_removed)
    )
    table.add_row(
        "MASH_IS_A",
        str(report.learned_added),
        str(report.learned_changed),
        str(report.learned_removed),
    )
    console.print(table)
    console.print(f"{report.changes} changes in {report.seconds:.1f} s")


@cli.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def export(ctx: click.Context, out: Path) -> None:
    """Write the merged hierarchy to OUT: OMOP CONCEPT, CONCEPT_RELATIONSHIP, CONCEPT_ANCESTOR
    (tab-separated) and plain edges.csv."""
    from mash_kg.graph.connection import connect
    from mash_kg.graph.export import export_graph

    config = _config(ctx)
    driver = connect(config.neo4j, schema=False)
    try:
        with console.status("Exporting ..."):
            counts = export_graph(driver, out, config.neo4j.database)
    finally:
        driver.close()
    for name, n in counts.items():
        console.print(f"{out / name}: {n:,} rows", highlight=False)


# ------------------------------------------------------------------------------------- demo


@cli.command()
@click.pass_context
def demo(ctx: click.Context) -> None:
    """The main job on bundled real data: local Neo4j, ICD-10-CM, ICD-9-CM and PheCode, views."""
    from mash_kg.demo import run_demo

    run_demo(_config(ctx), console)


from mash_kg.summary.cli import site as _site  # noqa: E402  (mash-kg site summarize)

cli.add_command(_site)


def main() -> None:
    cli(prog_name="mash-kg")
