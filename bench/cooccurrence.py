"""Site summaries at scale: windowed co-occurrence counting per engine (mash_kg.summary).

    python bench/cooccurrence.py [--sizes 1m,10m,100m] [--methods in_memory,duckdb,spark_local]
                                 [--runs-1m 3] [--quick] [--data DIR]

Events are synthetic with realistic skew, written as a `tables` site (codes.parquet,
events.parquet with 1M-row row groups): patients with 1 to 5,000 events (log-normal, median
12), visits of about four codes spread over a record of 1-10 years plus two days per event
(heavy users' records are long), code use Zipf(1.3) over
20,000 codes. Each method runs in a fresh process on the same files, through the same
function `mash-kg site summarize` calls (`mash_kg.summary.count_site`, 30-day window):
`seconds` is its wall time (Spark: including the session start), `peak_mib` the peak resident
memory of the process and its children (the Spark JVM included), sampled every 0.1 s. Every
method's counts are compared with the first method's (`identical`). A size a method cannot
run here carries `skipped` with the reason. Spark runs once per size (minutes here); its
`shuffle_write_mib` is read from Spark's status store. Methods and sizes not rerun keep their
figures. Writes bench/results/cooccurrence.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))

from _common import write_results  # noqa: E402

SIZES = {"1m": 1_000_000, "10m": 10_000_000, "100m": 100_000_000}
METHODS = {"in_memory": "in_memory", "duckdb": "duckdb", "spark_local": "spark"}
N_CODES = 20_000
CHUNK = 1_000_000


def write_site(folder: Path, n_events: int, seed: int = 0) -> Path:
    """The synthetic site as codes.parquet + events.parquet (generated chunk by chunk)."""
    folder.mkdir(parents=True, exist_ok=True)
    events = folder / "events.parquet"
    if events.is_file() and pq.ParquetFile(events).metadata.num_rows == n_events:
        return folder
    rng = np.random.default_rng(seed)
    codes = [f"C{i:05d}" for i in range(N_CODES)]
    pq.write_table(
        pa.table(
            {
                "code": codes,
                "vocab": ["LOCAL"] * N_CODES,
                "name": [f"synthetic code {i}" for i in range(N_CODES)],
            }
        ),
        folder / "codes.parquet",
    )
    schema = pa.schema([("patient_id", pa.int64()), ("date", pa.date32()), ("code", pa.string())])
    code_names = np.asarray(codes, dtype=object)
    done, patient = 0, 0
    with pq.ParquetWriter(events, schema) as writer:
        while done < n_events:
            per = np.clip(np.round(np.exp(rng.normal(np.log(12), 1.4, 50_000))), 1, 5000)
            per = per.astype(np.int64)
            target = min(CHUNK, n_events - done)
            per = per[: np.searchsorted(np.cumsum(per), target) + 1]
            per[-1] -= int(per.sum()) - target
            n = int(per.sum())
            pid = np.repeat(np.arange(patient, patient + len(per)), per)
            # a record of 1-10 years, longer for heavy users (about a visit a week at most)
            span = np.repeat(365 * (1 + 9 * rng.random(len(per))) + 2 * per, per)
            start = np.repeat(rng.integers(0, 3650, len(per)), per)
            # about four codes per visit: events of a patient share visit days
            visit = (np.arange(n) // 4).astype(np.int64)
            day = start + (rng.random(visit.max() + 1)[visit] * span).astype(np.int64)
            code = np.minimum(rng.zipf(1.3, n), N_CODES) - 1
            table = pa.table(
                {
                    "patient_id": pid,
                    "date": pa.array(day.astype("datetime64[D]")),
                    "code": code_names[code],
                },
                schema=schema,
            )
            writer.write_table(table, row_group_size=CHUNK)
            done += n
            patient += len(per)
    return folder


def run_one(method: str, folder: Path, out: Path) -> None:
    """In the child process: count the site with one engine, write figures to `out`."""
    from mash_kg.project import SiteSpec
    from mash_kg.summary import count_site

    spec = SiteSpec(
        id="S", format="tables", codes=folder / "codes.parquet", events=folder / "events.parquet"
    )
    t0 = time.perf_counter()
    counts, _ = count_site(spec, 30, METHODS[method], spark_master="local[2]", memory_limit="1GB")
    seconds = time.perf_counter() - t0
    extra = {}
    if method == "spark_local":  # what a cluster would move between machines
        from mash_kg.summary.backends import SparkBackend

        shuffled = SparkBackend("local[2]").shuffle_bytes()
        if shuffled is not None:
            extra["shuffle_write_mib"] = round(shuffled / 2**20, 1)
    a = counts.pairs.column("a").to_numpy()
    b = counts.pairs.column("b").to_numpy()
    c = counts.pairs.column("count").to_numpy()
    order = np.lexsort((b, a))
    digest = hashlib.sha256()
    for arr in (a[order], b[order], c[order], counts.codes["patients"].to_numpy()):
        digest.update(np.ascontiguousarray(arr, dtype=np.int64).tobytes())
    out.write_text(
        json.dumps(
            {
                "seconds": seconds,
                "cells": int(len(c)),
                "cooccurring_event_pairs": int(c.sum()),
                "codes": int((counts.codes["patients"] > 0).sum()),
                "digest": digest.hexdigest(),
                **extra,
            }
        )
    )


def measure(method: str, folder: Path, timeout: float) -> dict:
    """Run `method` in a fresh process; its figures plus the sampled peak memory."""
    import psutil

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        cmd = [
            sys.executable,
            __file__,
            "--child",
            method,
            "--data",
            str(folder),
            "--out",
            str(out),
        ]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        root, peak, t0 = psutil.Process(proc.pid), 0, time.time()
        while proc.poll() is None:
            try:
                procs = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in procs if p.is_running()))
            except psutil.Error:
                pass
            if time.time() - t0 > timeout:
                for p in root.children(recursive=True):
                    p.kill()
                proc.kill()
                return {"error": f"did not finish within {timeout:.0f} s"}
            time.sleep(0.1)
        if proc.returncode:
            tail = proc.stderr.read().decode(errors="replace").strip().splitlines()[-3:]
            return {"error": " | ".join(tail)}
        fig = json.loads(out.read_text())
    fig["peak_mib"] = round(peak / 2**20, 1)
    return fig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1m,10m,100m")
    ap.add_argument("--methods", default="in_memory,duckdb,spark_local")
    ap.add_argument("--runs-1m", type=int, default=3, help="runs per method at 1m (median)")
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument(
        "--skip",
        action="append",
        default=[],
        help="SIZE:METHOD:REASON, a size a method cannot run here",
    )
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "mash-kg-bench")
    ap.add_argument("--quick", action="store_true", help="100k events, 1 run")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return run_one(args.child, args.data, args.out)
    skips = {tuple(s.split(":", 2)[:2]): s.split(":", 2)[2] for s in args.skip}
    sizes = {"100k": 100_000} if args.quick else {k: SIZES[k] for k in args.sizes.split(",")}
    results_path = Path(__file__).parent / "results" / "cooccurrence.json"
    tasks = {}
    if results_path.is_file() and not args.quick:  # sizes not rerun keep their figures
        tasks = json.loads(results_path.read_text())["tasks"]
    for size, n in sizes.items():
        t0 = time.time()
        folder = write_site(args.data / f"events_{size}", n)
        print(f"events_{size}: data ready ({time.time() - t0:.0f} s)", flush=True)
        # methods not rerun keep their figures; identity is checked against the first one run
        methods = dict(tasks.get(f"events_{size}", {}).get("methods", {}))
        stored = [m["counts_sha256"] for m in methods.values() if "counts_sha256" in m]
        reference = stored[0] if stored else None
        for method in args.methods.split(","):
            if (size, method) in skips:
                methods[method] = {"skipped": skips[(size, method)]}
                continue
            # Spark takes minutes per run here: one run each
            runs = args.runs_1m if size == "1m" and method != "spark_local" else 1
            figs = [measure(method, folder, args.timeout) for _ in range(runs)]
            if any("error" in f for f in figs):
                methods[method] = {"skipped": next(f["error"] for f in figs if "error" in f)}
                print(f"  {method}: {methods[method]['skipped']}", flush=True)
                continue
            sec = statistics.median(f["seconds"] for f in figs)
            fig = figs[0]
            reference = reference or fig["digest"]
            methods[method] = {
                "events_per_second": round(n / sec),
                "peak_mib": max(f["peak_mib"] for f in figs),
                "seconds": round(sec, 2),
                "runs": runs,
                "window_days": 30,
                "codes": fig["codes"],
                "nonzero_cells": fig["cells"],
                "cooccurring_event_pairs": fig["cooccurring_event_pairs"],
                "identical_to_first_method": fig["digest"] == reference,
                "counts_sha256": fig["digest"],
                **(
                    {"shuffle_write_mib": fig["shuffle_write_mib"]}
                    if "shuffle_write_mib" in fig
                    else {}
                ),
            }
            print(f"  {method}: {methods[method]}", flush=True)
        tasks[f"events_{size}"] = {"n": n, "methods": methods}
        write_results("cooccurrence", tasks)


if __name__ == "__main__":
    main()
