"""`mash-kg demo`: the main job on bundled real data, step by step, each step's outcome shown
(the steps themselves are library calls: mash_kg.demo, load, build, evaluate, sync, views)."""

from __future__ import annotations

from pathlib import Path

import click

from mash_kg import demo as example
from mash_kg.cli.build import build_with_progress
from mash_kg.cli.context import config_of
from mash_kg.cli.load import load_with_progress
from mash_kg.cli.render import console, line, print_report, print_rows
from mash_kg.config import Config


@click.command()
@click.pass_context
def demo(ctx: click.Context) -> None:
    """The main job on bundled real data: local Neo4j, ICD-10-CM, ICD-9-CM and PheCode, views."""
    run_demo(config_of(ctx))


def run_demo(config: Config) -> None:
    """Start (or use) the graph, load the vocabularies, build, score, sync and show."""
    if config.neo4j.uri is None:
        _start_local_server(config)
    for source in example.VOCABULARIES:
        print_report(load_with_progress(config, source))
    folder = _build_example(config)
    _print_scores(folder)
    _sync_and_show(config, folder)
    s = config.neo4j
    line(
        f"Browse the graph: Neo4j Browser at http://127.0.0.1:{s.http_port}/browser/ "
        f"(connect to {s.bolt_uri}, user {s.user}), or cypher-shell -a "
        f"{s.bolt_uri} -u {s.user}. Stop the server with `mash-kg neo4j stop`."
    )


def _start_local_server(config: Config) -> None:
    from mash_kg.neo4j_server import server

    with console.status("Starting the local Neo4j ..."):
        st = server.start(config.neo4j, echo=line, cache=config.cache.root)
    line(f"Neo4j {st.version} on {st.address} (data: {st.home})")


def _build_example(config: Config) -> Path:
    project = example.example_config(config)
    summaries = config.cache.root / "demo-summaries"
    line(
        "Each site summarises its own records (`mash-kg site summarize`: codes and "
        f"co-occurrence counts only, nothing patient-level) into {summaries} ..."
    )
    console.print("Stages I-III on the two sites' summaries (A: tables, B: FHIR R4) ...")
    return build_with_progress(
        project,
        builds=config.cache.root / "demo-builds",
        transform=lambda p: example.federated(p, summaries, echo=line),
    )


def _print_scores(folder: Path) -> None:
    from mash_kg.hierarchy.evaluate import evaluate_build, placement_line

    m = evaluate_build(folder)
    said = placement_line(m.get("placement") or {})
    if said:
        line(said)
    line(
        f"held-out curated edges ({m['heldout_codes']} codes): hit@1 {m['model']['hit@1']} / "
        f"hit@10 {m['model']['hit@10']} (text model alone {m['text_only']['hit@1']} / "
        f"{m['text_only']['hit@10']})"
    )
    sp = m.get("space") or {}
    if sp.get("reconstruction_map") is not None:
        line(
            f"Poincaré space: curated closure reconstructed with MAP {sp['reconstruction_map']}"
            f", depth-norm Spearman {sp['depth_norm_spearman']}"
        )


def _sync_and_show(config: Config, folder: Path) -> None:
    from mash_kg.graph.connection import open_driver
    from mash_kg.graph.sync import sync_build
    from mash_kg.graph.views import run_view

    database = config.neo4j.database
    with open_driver(config.neo4j, schema=False) as driver:
        report = sync_build(driver, folder, database=database)
        line(f"synced build {report.subject}: {report.changes} changes")
        for view, params, title in example.EXAMPLES:
            print_rows(run_view(driver, view, params, database), title)
        example.import_example_phenotypes(driver, database)
        params, title = example.PHENOTYPE_EXAMPLE
        print_rows(run_view(driver, "phenotype_codes", params, database), title)
        png = example.draw_example_picture(driver, database, folder)
    line(f"Poincaré-disk picture: {png}")
