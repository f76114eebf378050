"""Fault matrix of mash-kg against a real Neo4j -> bench/results/faults.json.

A throwaway bundled Neo4j gets ICD-10-CM and a small lab vocabulary; the bundled two-site
example is built (Stages I-III) and two changed copies of that build are derived from it
(scores changed, edges dropped, a new id), so that every sync has a known old and new state.
The graph's *content* is what its active version shows (versions.version_content: curated
content, the active build's learned rows and code states; timestamps, digests and which build
last wrote a row left out); rollback and prune compare the list of builds as well.

Tasks (method ``mash_kg``):
- kill_sync: `mash-kg sync B2` onto the graph of B1 (each run a fresh copy of each under a new
  id, as a new build is synced), killed with SIGKILL at a random moment;
  the graph must hold B1's or B2's content, and a rerun (which clears the dead process's
  lock) must reach B2's exactly, without parallel edges;
- kill_load: `mash-kg load edges` of a changed 20,000-code release, killed at random; old or
  new release, and the rerun converges;
- kill_server_sync: the Neo4j JVM killed with SIGKILL during a sync; restarted; old or new,
  rerun converges;
- race_sync: a sync plans B2 under the lock, the lock is broken and a sync of B3 commits
  meanwhile; the stale plan must be refused (nothing written, no parallel edges) and a rerun
  converges;
- mixed_reads: readers that pin the active version, then read the learned equivalents of 40
  codes with it (one transaction each), during syncs alternating B1 and B2 (>= 20 syncs and
  >= 10,000 reads): reads whose rows differ from the pinned build's;
- kill_rollback: `mash-kg sync --rollback B1` with B2 active, killed at random: old or new,
  and the rerun converges;
- kill_prune: `mash-kg builds prune --keep 1 --batch-size 20` over three versions, killed at
  random: the builds before or after with the active content unchanged, and the rerun leaves
  no learned row that no build shows;
- bad_inputs: each case of ``CASES`` run as a user would (`python -m mash_kg ...`): it must exit
  non-zero with one line on stderr starting with ``error:``, no traceback, and leave the graph
  unchanged (fault_cases.py's cases and fault_cases_safety.py's hostile files and builds);
- first_boot_signals: `mash-kg neo4j start` on a fresh home whose name has a space, quotes and
  `ü`, sent SIGTERM, SIGHUP or SIGINT at a random moment of its first boot: no server of that
  home may be left running, none may take Neo4j's initial neo4j/neo4j, and a start afterwards
  must succeed.

With --only, the tasks run are merged into bench/results/faults.json (the others are kept,
each with the command and date of the run that measured it).

With --before REV (and mixed_reads in the run), mixed_reads as this benchmark had it at git
revision REV then runs on that code (a worktree, same machine, same run) and is recorded beside as
method `before_versions`: d86ad05 is main before the versions, whose readers could not pin a
build (each read one fingerprint of all learned content; mixed = neither build's).

Run: python bench/faults.py [--quick] [--keep DIR] [--only TASK ...] [--before REV]   (--quick:
fewer runs, not for the record; --only: those tasks rerun, the others keep their earlier figures)
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))

from _common import before, write_results  # noqa: E402
from fault_cases import CASES, make_case_files  # noqa: E402
from fault_cases_safety import interrupted_first_boot  # noqa: E402

from mash_kg.artefact import TABLES, read_manifest  # noqa: E402
from mash_kg.content import derive  # noqa: E402
from mash_kg.graph import connect  # noqa: E402
from mash_kg.graph.connection import open_driver  # noqa: E402
from mash_kg.graph.lock import LockLost, acquire  # noqa: E402
from mash_kg.graph.reconcile import write  # noqa: E402
from mash_kg.graph.sync import plan_sync, read_target, sync_build  # noqa: E402
from mash_kg.graph.versions import (  # noqa: E402
    list_builds,
    pin,
    prune,
    rollback,
    unseen_rows,
    version_content,
)
from mash_kg.graph.views import run_view  # noqa: E402
from mash_kg.graph.writer import write_tables  # noqa: E402
from mash_kg.loaders import get_loader  # noqa: E402
from mash_kg.neo4j_server import server  # noqa: E402
from mash_kg.neo4j_server.scratch import scratch_server  # noqa: E402

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "two_sites"
PY = sys.executable


def content(driver) -> tuple:
    """What the active version shows (versions.version_content: curated content, the active
    build's learned rows, each code's state), without which build last wrote a row."""
    nodes, rels = version_content(driver)

    def clean(p: str) -> str:
        return json.dumps({k: v for k, v in json.loads(p).items() if k != "build"}, sort_keys=True)

    return (
        sorted((n[0], clean(n[1]), clean(n[2])) for n in nodes),
        sorted((*r[:3], clean(r[3])) for r in rels),
    )


def builds_and_content(driver) -> tuple:
    """The synced builds (id, active) and the active version's content (prune's state)."""
    return [(b["id"], b["active"]) for b in list_builds(driver)], content(driver)


def parallel_edges(driver) -> int:
    """Edges beyond one per pair and type among those valid in the newest version."""
    records, _, _ = driver.execute_query(
        "MATCH (a)-[r]->(b) WHERE r.valid_to IS NULL WITH a, b, type(r) AS t, count(r) AS n "
        "WHERE n > 1 RETURN coalesce(sum(n - 1), 0) AS extra"
    )
    return int(records[0]["extra"])


def changed_copy(src: Path, dest: Path, seed: int, share: float) -> Path:
    """A copy of build `src` with `share` of its learned edge scores changed and a tenth of
    its ALIGNED_WITH and MASH_IS_A edges dropped, under a new id."""
    shutil.rmtree(dest, ignore_errors=True)
    rng = np.random.default_rng(seed)

    def edit(folder: Path) -> None:
        for name in ("counterparts", "hierarchy"):
            path = folder / TABLES[name].file(name)
            if not path.exists():
                continue
            df = pd.read_parquet(path)
            pick = rng.choice(len(df), int(share * len(df)), replace=False)
            df.loc[pick, "score"] = df.loc[pick, "score"] * 0.9
            drop = rng.choice(len(df), len(df) // 10, replace=False)
            df.drop(index=drop).to_parquet(path, index=False)

    return derive(src, dest, dest.name, edit)


def fresh_copy(src: Path, work: Path) -> Path:
    """`src` resealed under a new id: a sync of it writes a new version, as a new build's does
    (a build synced again would move its one `:Build` node to the new version and leave its
    earlier version's rows to `builds prune`, which kill_runs counts as rows no build shows)."""
    dest = work / "fresh" / f"{src.name}-{time.time_ns()}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    return derive(src, dest, dest.name)


def make_builds(work: Path, settings) -> tuple[Path, Path, Path]:
    from mash_kg.build import run_build
    from mash_kg.config import load_config
    from mash_kg.project import load_project

    if not (work / "b1" / "manifest.json").exists():
        project = work / "project"
        shutil.rmtree(project, ignore_errors=True)
        shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("builds"))
        cfg = project / "mash-kg.toml"
        cfg.write_text(cfg.read_text().replace('"fused"', '"sinkhorn"'))
        folder = run_build(load_project(load_config(cfg)), settings)
        shutil.rmtree(work / "b1", ignore_errors=True)
        shutil.copytree(folder, work / "b1")
    return (
        work / "b1",
        changed_copy(work / "b1", work / "b2", 1, 0.3),
        changed_copy(work / "b1", work / "b3", 2, 0.2),
    )


def env_for(settings) -> dict:
    env = dict(os.environ)
    env.update(
        NEO4J_URI=settings.bolt_uri, NEO4J_USER=settings.user, NEO4J_PASSWORD=settings.password
    )
    return env


def cli(settings, *args: str, cwd: Path | None = None, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [PY, "-m", "mash_kg", *args],
        env=env_for(settings),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def timed(settings, *args: str) -> float:
    t = time.perf_counter()
    proc = cli(settings, *args)
    out, err = proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"{args}: {err.strip()}")
    return time.perf_counter() - t


def _wait_gone(pid: int, limit: float = 60.0) -> None:
    """Until the killed JVM is gone; a JVM this process started stays a zombie (os.kill(pid, 0)
    still succeeds) until it is reaped here."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return  # our child, reaped
        except ChildProcessError:
            pass  # not our child: its parent reaps it
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise RuntimeError(f"process {pid} still alive {limit:.0f} s after SIGKILL")


def kill_runs(
    settings,
    driver,
    runs: int,
    cmd: list[str],
    reset,
    old: tuple,
    new: tuple,
    kill_server: bool = False,
    state_of=content,
) -> tuple[dict, object]:
    """Run `cmd` (a list, or a function giving each run's list) from the state `reset` makes,
    kill it (or the server) at a random moment within its clean duration, then check the graph
    holds `old` or `new` content (`state_of`) and that a rerun reaches `new` (and leaves no
    learned row that no build shows). Returns the figures and the driver (a new one after a
    server kill)."""
    cmd_of = cmd if callable(cmd) else (lambda: cmd)
    clean = timed(settings, *cmd_of())
    rng = random.Random(20261128)
    out = {
        "runs": 0,
        "converged": 0,
        "old_or_new": 0,
        "duplicate_edges": 0,
        "killed_before_end": 0,
        "clean_seconds": round(clean, 2),
    }
    for _ in range(runs):
        reset(driver)
        cmd = cmd_of()
        proc = cli(settings, *cmd)
        time.sleep(rng.uniform(0.5, clean))
        killed = proc.poll() is None
        if kill_server:
            pid = server.status(settings, echo=lambda m: None).pid
            if pid:
                os.kill(pid, signal.SIGKILL)
                _wait_gone(pid)  # its port is free only once the JVM is gone
            proc.wait()
            server.start(settings, echo=lambda m: None)
            driver.close()
            driver = connect(settings)
        else:
            proc.kill()
            proc.wait()
        out["killed_before_end"] += int(killed)
        state = state_of(driver)
        out["old_or_new"] += int(state in (old, new))
        out["duplicate_edges"] += parallel_edges(driver)
        rerun = cli(settings, *cmd)
        _, err = rerun.communicate()
        state = state_of(driver)
        ok = rerun.returncode == 0 and state == new and parallel_edges(driver) == 0
        ok = ok and unseen_rows(driver) == 0
        out["converged"] += int(ok)
        out["duplicate_edges"] += parallel_edges(driver)
        out["runs"] += 1
        if not ok:
            print(f"  run {out['runs']}: not converged ({err.strip()[:200]})", flush=True)
    return out, driver


def release(path: Path, n: int, seed: int) -> Path:
    """An edge CSV of a `n`-code lab hierarchy with names (a changed copy for seed > 0: a tenth
    of the names revised, a twentieth of the leaves dropped)."""
    rng = np.random.default_rng(seed)

    def name(i: int) -> str:
        return "Lab tests" if i == 0 else f"Lab test {i}"

    revised = {i for i in range(n) if seed and rng.random() < 0.1}
    rows = ["child,parent,child_name,parent_name"]
    for i in range(1, n):
        parent = (i - 1) // 8
        if seed and i * 8 + 1 >= n and rng.random() < 0.05:
            continue  # a leaf dropped from the new release
        label = {j: name(j) + (" (rev)" if j in revised else "") for j in (i, parent)}
        rows.append(f"T{i},T{parent},{label[i]},{label[parent]}")
    path.write_text("\n".join(rows) + "\n")
    return path


def _id(build: Path) -> str:
    return read_manifest(build)["id"]


def mixed_reads(
    settings, driver, b1: Path, b2: Path, syncs: int, want_reads: int, readers: int = 3
) -> dict:
    """Readers that pin the active version (versions.pin), then read the learned
    equivalents of many codes (the `equivalents` view, one transaction each) with that build,
    while syncs alternate B1 and B2: a read is mixed when a code's rows differ from what the
    pinned build holds (measured on a quiet graph first). Runs at least `syncs` syncs and
    until `want_reads` reads were made."""
    sync_build(driver, b1, allow_retire=True)
    codes = sorted(pd.read_parquet(b1 / "counterparts.parquet")["id"].drop_duplicates())[:40]
    id1, id2 = _id(b1), _id(b2)  # a build's id is its manifest's, not its folder's name

    def reads(drv, build: str) -> dict:
        """Each code's rows, without `build` (which build last wrote a row: a build synced
        again after another keeps the other's unchanged rows, the same content), as
        `content` leaves it out."""
        return {
            c: [
                {k: v for k, v in row.items() if k != "build"}
                for row in run_view(drv, "equivalents", {"code": c, "build": build})
            ]
            for c in codes
        }

    expected = {id1: reads(driver, id1)}
    sync_build(driver, b2, allow_retire=True)
    expected[id2] = reads(driver, id2)
    stop = threading.Event()
    counts = {"reads": 0, "mixed": 0, "pinned_sessions": 0}
    lock = threading.Lock()

    def reader() -> None:
        with open_driver(settings, schema=False) as drv:
            while not stop.is_set():
                build = pin(drv).build  # fixed once, then many reads
                got = reads(drv, build)
                bad = sum(int(got[c] != expected[build][c]) for c in codes)
                with lock:
                    counts["reads"] += len(codes)
                    counts["mixed"] += bad
                    counts["pinned_sessions"] += 1

    threads = [threading.Thread(target=reader) for _ in range(readers)]
    for t in threads:
        t.start()
    done = 0
    while done < syncs or counts["reads"] < want_reads:
        sync_build(driver, b1 if done % 2 == 0 else b2, allow_retire=True)
        done += 1
    stop.set()
    for t in threads:
        t.join()
    return {"runs": done, **counts, "distinct_states": int(expected[id1] != expected[id2])}


def race(settings, driver, b1: Path, b2: Path, b3: Path, runs: int) -> dict:
    out = {"runs": 0, "refused": 0, "converged": 0, "duplicate_edges": 0}
    for _ in range(runs):
        sync_build(driver, b1, allow_retire=True)
        lock = acquire(driver, "race: stale sync of b2")
        plan = plan_sync(driver, read_target(b2))
        driver.execute_query("MATCH (l:SyncLock) DELETE l")  # broken from another host
        proc = cli(settings, "sync", str(b3))
        proc.communicate()
        try:
            write(driver, plan, lock)
        except LockLost:
            out["refused"] += 1
        lock.release()
        out["duplicate_edges"] += parallel_edges(driver)
        sync_build(driver, b2)
        state = content(driver)
        out["converged"] += int(state == EXPECTED["b2"] and parallel_edges(driver) == 0)
        out["duplicate_edges"] += parallel_edges(driver)
        out["runs"] += 1
    return out


EXPECTED: dict[str, tuple] = {}


def kill_rollback(settings, driver, b1: Path, b2: Path, runs: int) -> tuple[dict, object]:
    """`mash-kg sync --rollback B1` with B2 active, killed at random: B2 or B1 active, each
    version's content intact, and a rerun makes B1 active."""
    sync_build(driver, b1, allow_retire=True)
    sync_build(driver, b2, allow_retire=True)
    # b1 and b2 were synced before (setup, other tasks): a build synced again moves its :Build
    # to the new version and leaves the earlier version's rows to prune; remove those first,
    # or every rerun would count them as rows no build shows
    prune(driver, keep=len(list_builds(driver)))
    old = builds_and_content(driver)
    rollback(driver, _id(b1))
    new = builds_and_content(driver)

    def reset(drv) -> None:
        rollback(drv, _id(b2))

    reset(driver)
    cmd = ["sync", "--rollback", _id(b1)]
    return kill_runs(settings, driver, runs, cmd, reset, old, new, state_of=builds_and_content)


def kill_prune(settings, driver, b1: Path, b2: Path, b3: Path, runs: int) -> tuple[dict, object]:
    """`mash-kg builds prune --keep 1` (small batches) over versions of B2, B3 and B1 (active),
    killed at random: the builds before or after, the active version's content unchanged, and
    a rerun leaves no learned row that no build shows."""

    def reset(drv) -> None:
        for b in (b2, b3, b1):
            sync_build(drv, b, allow_retire=True)

    reset(driver)
    old = builds_and_content(driver)
    cmd = ["builds", "prune", "--keep", "1", "--batch-size", "20"]
    timed(settings, *cmd)
    new = builds_and_content(driver)
    reset(driver)
    return kill_runs(settings, driver, runs, cmd, reset, old, new, state_of=builds_and_content)


def bad_inputs(settings, driver, work: Path, b1: Path) -> dict:
    files = make_case_files(work / "cases", b1)
    write_tables(
        driver,
        get_loader("edges")(
            files=[ROOT / "tests" / "fixtures" / "edges_v1.csv"], vocab="LAB", domain="lab"
        ),
    )
    out = {"cases": 0, "clear_error": 0, "graph_unchanged": 0, "traceback": 0, "failed": []}
    initial = content(driver)
    lock = threading.Lock()

    def run(name: str, args: list[str]) -> None:
        argv = [a.format(**files) for a in args]
        proc = cli(settings, *argv, cwd=files["project"], stdin=subprocess.DEVNULL)
        _, err = proc.communicate()
        lines = [ln for ln in err.splitlines() if ln.strip()]
        clear = proc.returncode != 0 and len(lines) == 1 and lines[0].startswith("error:")
        clear = clear and "internal error" not in lines[0]
        same = content(driver) == initial  # no case may change it: each sees the first state
        with lock:
            out["cases"] += 1
            out["clear_error"] += int(clear)
            out["graph_unchanged"] += int(same)
            out["traceback"] += int("Traceback" in err)
            if not (clear and same):
                out["failed"].append(f"{name}: exit {proc.returncode}: {err.strip()[:300]}")
                print(f"  bad input {out['failed'][-1]}", flush=True)

    # cases that may take the graph's write lock (loads and syncs of fault_cases.py) run one
    # after another; the rest, which fail before touching the graph, in parallel lanes
    serial = [c for c in CASES[:_FIRST_SAFETY] if c[0].startswith(("load_", "sync_"))]
    rest = [c for c in CASES if c not in serial]

    def lane(cases: list, serial: bool = False) -> None:
        for name, args in cases:
            run(name, args)
            if serial:  # a lock a refused run left behind must not refuse the next one
                driver.execute_query("MATCH (l:SyncLock) DELETE l")

    threads = [threading.Thread(target=lane, args=(serial, True))]
    threads += [threading.Thread(target=lane, args=(rest[k::LANES],)) for k in range(LANES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    driver.execute_query("MATCH (l:SyncLock) DELETE l")
    return out


LANES = 3  # parallel lanes of bad_inputs besides the serial one
_FIRST_SAFETY = len(CASES) - len(__import__("fault_cases_safety").CASES)


def first_boot_signals(scratch: Path, runs: int) -> dict:
    """`runs` interrupted first boots (see the docstring), signals and moments drawn at random
    within the JVM's clean boot time; then one start of the last home must succeed."""
    from mash_kg.neo4j_server.scratch import free_port

    rng = random.Random(20261203)
    signals = [signal.SIGTERM, signal.SIGHUP, signal.SIGINT]
    out = {"runs": 0, "left_running": 0, "initial_password_works": 0, "one_line_error": 0}
    out.update(finished_before_signal=0, restart_ok=0, by_signal={}, failed=[])
    home = scratch
    for i in range(runs):
        home = scratch / f'José\'s "hö me" {i}' / "neo4j"
        sig = signals[i % len(signals)]
        delay = rng.uniform(0.0, 40.0)  # a clean first boot took 40-50 s on this machine
        r = interrupted_first_boot(home, sig, delay, free_port())
        lines = r["stderr"].splitlines()
        one_line = r["exit"] != 0 and len(lines) == 1 and lines[0].startswith("error:")
        out["runs"] += 1
        out["left_running"] += r["left_running"]
        out["initial_password_works"] += int(r["initial_password_works"])
        out["finished_before_signal"] += int(r["finished_before_signal"])
        out["one_line_error"] += int(one_line or r["finished_before_signal"])
        out["by_signal"][r["signal"]] = out["by_signal"].get(r["signal"], 0) + 1
        bad = r["left_running"] or r["initial_password_works"] or not one_line
        if bad and not r["finished_before_signal"]:
            out["failed"].append({k: v for k, v in r.items()} | {"delay": round(delay, 2)})
        print(f"  first boot {i}: {r['signal']} after {delay:.1f} s: {r}", flush=True)
    from mash_kg.config import Neo4jSettings
    from mash_kg.neo4j_server import server

    settings = Neo4jSettings(home=home, bolt_port=free_port(), http_port=0, heap="512m")
    settings.pagecache = "64m"
    try:
        server.start(settings, echo=lambda m: None)
        out["restart_ok"] = 1
    finally:
        server.stop(settings)
    return out


def merge_results(tasks: dict) -> Path:
    """Write `tasks` into bench/results/faults.json, keeping the tasks this run did not
    measure (each stamped with the command and date of its own run)."""
    path = ROOT / "bench" / "results" / "faults.json"
    earlier = json.loads(path.read_text()) if path.exists() else {"tasks": {}}
    kept = {}
    for name, task in earlier.get("tasks", {}).items():
        if name not in tasks:
            task.setdefault("run", {"command": earlier.get("command"), "date": earlier.get("date")})
            kept[name] = task
    return write_results("faults", {**kept, **tasks})


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a few runs per task")
    ap.add_argument("--keep", type=Path, help="keep the builds here and reuse them")
    ap.add_argument("--only", nargs="*", help="run only these tasks")
    ap.add_argument(
        "--before",
        metavar="REV",
        help="then run mixed_reads as this benchmark had it at git revision REV, on that code "
        "(recorded beside as method before_versions)",
    )
    args = ap.parse_args()
    if args.before and args.only is not None and "mixed_reads" not in args.only:
        ap.error("--before measures mixed_reads on the earlier code: add mixed_reads to --only")
    n = (lambda full, quick: quick) if args.quick else (lambda full, quick: full)
    tasks: dict[str, dict] = {}
    if args.only == ["first_boot_signals"]:  # needs no graph and no build
        with tempfile.TemporaryDirectory(prefix="mash-kg-faults-") as scratch:
            r = first_boot_signals(Path(scratch), n(10, 2))
        tasks["first_boot_signals"] = {"n": r["runs"], "methods": {"mash_kg": r}}
        print(tasks, flush=True)
        print(merge_results(tasks) if not args.quick else "(--quick: results not written)")
        return
    with tempfile.TemporaryDirectory(prefix="mash-kg-faults-") as scratch:
        work = args.keep or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        home = Path(scratch) / "neo4j"
        with scratch_server(home, heap="2g", pagecache="512m", http=False) as settings:
            driver = connect(settings)
            t0 = time.perf_counter()
            write_tables(driver, get_loader("icd10cm")())
            b1, b2, b3 = make_builds(work, settings)
            shutil.rmtree(work / "fresh", ignore_errors=True)  # fresh_copy's, of an earlier run
            print(f"graph and builds ready in {time.perf_counter() - t0:.0f} s", flush=True)
            for name, b in (("b1", b1), ("b2", b2), ("b3", b3)):
                sync_build(driver, b, allow_retire=True)
                EXPECTED[name] = content(driver)
            want = set(
                args.only
                or [
                    "kill_sync",
                    "kill_load",
                    "kill_server_sync",
                    "race_sync",
                    "mixed_reads",
                    "kill_rollback",
                    "kill_prune",
                    "bad_inputs",
                    "first_boot_signals",
                ]
            )

            def reset_sync(drv) -> None:  # the newest version holds b1's content
                sync_build(drv, fresh_copy(b1, work), allow_retire=True)

            def sync_fresh_b2() -> list[str]:
                return ["sync", str(fresh_copy(b2, work))]

            def record(name: str, r: dict, n_key: str = "runs") -> None:
                tasks[name] = {"n": r[n_key], "methods": {"mash_kg": r}}
                print(name, r, flush=True)
                if args.only and not args.quick:  # kept even if a later task fails
                    merge_results({name: tasks[name]})

            if "kill_sync" in want:
                r, driver = kill_runs(
                    settings,
                    driver,
                    n(20, 3),
                    sync_fresh_b2,
                    reset_sync,
                    EXPECTED["b1"],
                    EXPECTED["b2"],
                )
                record("kill_sync", r)
            if "kill_load" in want:
                v1, v2 = release(work / "v1.csv", 20000, 0), release(work / "v2.csv", 20000, 1)
                load = ["load", "edges", "--vocab", "BENCHLAB", "--domain", "lab", "--file"]
                timed(settings, *load, str(v1))
                old = content(driver)
                timed(settings, *load, str(v2))
                new = content(driver)

                def reset_load(drv) -> None:
                    write_tables(
                        drv, get_loader("edges")(files=[v1], vocab="BENCHLAB", domain="lab")
                    )

                r, driver = kill_runs(
                    settings, driver, n(10, 2), [*load, str(v2)], reset_load, old, new
                )
                record("kill_load", r)
                driver.execute_query("MATCH (n:Code {vocab: 'BENCHLAB'}) DETACH DELETE n")
                driver.execute_query("MATCH (v:Vocabulary {id: 'BENCHLAB'}) DELETE v")
            if "kill_server_sync" in want:
                r, driver = kill_runs(
                    settings,
                    driver,
                    n(5, 1),
                    sync_fresh_b2,
                    reset_sync,
                    EXPECTED["b1"],
                    EXPECTED["b2"],
                    kill_server=True,
                )
                record("kill_server_sync", r)
            if "race_sync" in want:
                record("race_sync", race(settings, driver, b1, b2, b3, n(5, 2)))
            if "mixed_reads" in want:
                r = mixed_reads(settings, driver, b1, b2, n(20, 4), n(10000, 400))
                record("mixed_reads", r, "reads")
            if "kill_rollback" in want:
                r, driver = kill_rollback(settings, driver, b1, b2, n(10, 2))
                record("kill_rollback", r)
            if "kill_prune" in want:
                r, driver = kill_prune(settings, driver, b1, b2, b3, n(10, 2))
                record("kill_prune", r)
            if "bad_inputs" in want:
                sync_build(driver, b1, allow_retire=True)
                record("bad_inputs", bad_inputs(settings, driver, work, b1), "cases")
            if "first_boot_signals" in want:
                record("first_boot_signals", first_boot_signals(Path(scratch), n(10, 2)))
            driver.close()
            shutil.rmtree(work / "fresh", ignore_errors=True)
    if args.before:  # mixed_reads ran (checked above)
        keep = ["--keep", str(args.keep / "before")] if args.keep else []
        tasks["mixed_reads"]["methods"]["before_versions"] = before(
            args.before, "faults.py", "mixed_reads", "mash_kg", "--only", "mixed_reads", *keep
        )
    if args.quick:
        print(json.dumps(tasks, indent=2))
        print("(--quick: results not written)")
        return
    print(merge_results(tasks) if args.only else write_results("faults", tasks))


if __name__ == "__main__":
    main()
