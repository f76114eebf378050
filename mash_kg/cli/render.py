"""How the CLI shows things: rich tables of reports and rows, progress, one-line notes. Only
presentation lives here; the commands compute nothing."""

from __future__ import annotations

import csv
import io
import json
import re

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

# What a terminal would act on rather than show: C0 controls but tab and newline, DEL, C1
# controls (ESC [ ... retitles or recolours a terminal, CSI 0x9b alone too), the Unicode line
# and paragraph separators and the bidirectional overrides (which reorder what is shown).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` with every character a terminal would act on written as a visible escape
    (ESC -> \\x1b, U+202E -> \\u202e)."""
    return _UNSAFE.sub(
        lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", text
    )


class SafeConsole(Console):
    """A rich console that never interprets data: markup is off (a `[/]` in an OBO prefix, a
    build id or a path is text), and the text of every segment it writes is passed through
    `printable` (rich's own styles are control segments and stay). Styled output is built
    from `Text` objects instead of markup."""

    def __init__(self, **kw) -> None:
        super().__init__(markup=False, **kw)

    def _render_buffer(self, buffer) -> str:
        return super()._render_buffer(
            seg if seg.control else Segment(printable(seg.text), seg.style, seg.control)
            for seg in buffer
        )


console = SafeConsole()
err_console = SafeConsole(stderr=True)


def labelled(label: str, style: str, text: str) -> Text:
    """`label` in `style`, a space, then `text` as plain text."""
    return Text.assemble((label, style), " ", text)


def notice(line: str) -> None:
    """A message the user should see that is not an error (stderr, one line)."""
    err_console.print(labelled("note:", "yellow", line), highlight=False, soft_wrap=True)


def warn(line: str) -> None:
    err_console.print(labelled("warning:", "bold yellow", line), highlight=False, soft_wrap=True)


def say(line: str) -> None:
    """One line, verbatim: paths and command lines are not markup, and the line is not
    wrapped."""
    console.print(line, highlight=False, soft_wrap=True)


def line(text: str) -> None:
    """One line of a report (no highlighting)."""
    console.print(text, highlight=False)


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


# ------------------------------------------------------------------------------ rows, views


def format_rows(rows: list[dict], fmt: str) -> str:
    """Rows as JSON or CSV text (`fmt` "json" or "csv")."""
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


def print_views(views) -> None:
    """The views (`views.list_views().values()`) and their parameters."""
    for v in views:
        console.print(Text.assemble((v.name, "bold"), f"  {v.purpose}"), highlight=False)
        for p, desc in v.parameters.items():
            console.print(f"    -p {p}=...  {desc}", highlight=False)


# ------------------------------------------------------------------------------ neo4j server


def print_status(st) -> None:
    """A `neo4j_server.server.ServerStatus` in one or two lines."""
    if st.running:
        say(f"Neo4j {st.version} running, pid {st.pid}, bolt {st.address}")
        if st.http:
            say(f"Browser: {st.http}  data: {st.home}")
    elif st.pid:
        say(
            f"Neo4j process {st.pid} is up but Bolt does not answer at {st.address} "
            f"(starting, or wrong password); logs: {st.home / 'logs'}"
        )
    else:
        say(f"Neo4j is not running (data: {st.home})")


# ------------------------------------------------------------------------------ load, sync


def print_report(report) -> None:
    """The report of a load (`graph.reconcile.Report`): per kind of content, the rows added,
    changed, retired and the release's total; then the edges skipped, if any."""
    verb = "would change" if report.dry_run else "loaded"
    table = Table(
        title=f"{report.subject}: {verb} {', '.join(report.vocabularies)} in "
        f"{report.seconds:.1f} s",
        title_justify="left",
    )
    for col in ("", "added", "changed", "retired", "total"):
        table.add_column(col, justify="right")
    for label, c in report.kinds.items():
        table.add_row(label, *map(str, (c.added, c.changed, c.retired, c.total)))
    console.print(table)
    if getattr(report, "counts", None):
        print_release_counts(report)
    if hasattr(report, "skipped_lines"):  # a load: each cause on its own line
        for text in report.skipped_lines():
            say(text)
    elif report.skipped:
        line(
            f"{report.skipped} edges skipped because an end is not in the graph "
            f"(load that vocabulary first), e.g. {'; '.join(report.skipped_examples)}"
        )
    _refused(report)


def print_release_counts(report) -> None:
    """The count table of a loaded release (graph.reconcile.ontology.release_counts)."""
    table = Table(title=f"{report.subject} release: {report.release}", title_justify="left")
    columns = ["vocabulary", "codes", "IS_A", "MAPS_TO", "roots", "max_depth", "without_parent"]
    for col in columns:
        table.add_column(col.replace("_", " "), justify="left" if col == "vocabulary" else "right")
    for row in report.counts:
        table.add_row(*(f"{row[c]:,}" if isinstance(row[c], int) else row[c] for c in columns))
    console.print(table)


def _refused(report) -> None:
    """A dry run the real run's retire guard would stop says so."""
    if report.refused:
        line(f"the real run would be refused: {report.refused}")


def print_sync(report, dry_run: bool) -> None:
    """The report of a sync (`graph.reconcile.Report`): what was (or would be) added, changed,
    retired or removed per kind of learned content."""
    verb = "would change" if dry_run else "changed"
    table = Table(title=f"sync {report.subject} ({verb})")
    table.add_column("what")
    for col in ("added", "changed", "retired/removed"):
        table.add_column(col, justify="right")
    for label, c in report.kinds.items():
        table.add_row(label, *map(str, (c.added, c.changed, c.retired)))
    console.print(table)
    console.print(f"{report.changes} changes in {report.seconds:.1f} s")
    _refused(report)


# ------------------------------------------------------------------------------ build, eval


def print_build(folder, manifest: dict) -> None:
    """What a build made: the sites' inputs, Stage II-III figures, warnings, the folder."""
    table = Table(title=f"build {manifest['id']}")
    for col in ("site", "codes", "events", "co-occurring pairs"):
        table.add_column(col, justify="right" if col != "site" else "left")
    for site, fig in manifest["sites"].items():
        events = "counts given" if fig["events"] is None else f"{fig['events']:,}"
        table.add_row(site, f"{fig['codes']:,}", events, f"{fig['pairs']:,}")
    console.print(table)
    if manifest.get("stage3"):
        line(_hierarchy_line(manifest["stage2"], manifest["stage3"]))
    for warning in manifest.get("warnings") or []:
        warn(warning)
    console.print(f"build folder: {folder} ({manifest['seconds']} s)")


def _hierarchy_line(s2: dict, s3: dict) -> str:
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
    return (
        f"Stage II: {s2['nodes']:,} codes on the ball ({s2['train_edges']:,} curated edges, "
        f"{s2['heldout_edges']:,} held out), {enc}{space}. Stage III: "
        f"{s3['unparented_codes']:,} codes without a curated parent: "
        f"{s3['placed_codes']:,} placed, {s3['codes_in_latent_groups']:,} in "
        f"{s3['latent_groups']:,} latent groups, {s3['codes_left_unparented']:,} left."
    )


def print_eval(metrics: dict) -> None:
    """`evaluate.evaluate_build`'s metrics: parent ranking, drawn edges, the space."""
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
        cells = (m[k] for k in ("hit@1", "hit@10", "mrr", "mean_rank"))
        table.add_row(label, *("-" if v is None else str(v) for v in cells))
    console.print(table)
    line(
        f"hit@k and MRR count every held-out code ({metrics['not_a_candidate']} whose true "
        "parent was not a candidate are misses); mean rank is over the covered ones"
    )
    e = metrics["edges"]
    line(
        f"MASH_IS_A edges drawn for held-out codes (score >= {e['threshold']}): {e['drawn']}, "
        f"precision {e['precision']}, recall {e['recall']}; "
        f"{metrics['to_latent_or_none']:.1%} of held-out codes got no curated parent"
    )
    sp = metrics.get("space") or {}
    if sp.get("reconstruction_map") is not None:
        line(
            f"Poincaré space: reconstruction of the curated closure MAP {sp['reconstruction_map']}"
            f", mean rank {sp['reconstruction_mean_rank']} ({sp['reconstruction_nodes']:,} "
            f"codes sampled); depth-norm Spearman {sp.get('depth_norm_spearman')}"
        )
    from mash_kg.hierarchy.evaluate import placement_line

    said = placement_line(metrics.get("placement") or {})
    if said:
        line(said)
