"""bad_inputs of bench/faults.py in one process (click's CliRunner): every case of CASES against
a small scratch graph (the LAB fixture); for a machine too loaded for one `python -m mash_kg`
per case. Needs a Stage III build: python bench/bad_inputs_in_process.py WORK (WORK/b1, as
bench/faults.py --keep WORK leaves it). Prints the figures; writes WORK/bad_inputs.json."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))

from click.testing import CliRunner  # noqa: E402
from fault_cases import CASES, make_case_files  # noqa: E402
from faults import content  # noqa: E402

from mash_kg.cli import cli  # noqa: E402
from mash_kg.graph import connect  # noqa: E402
from mash_kg.graph.writer import write_tables  # noqa: E402
from mash_kg.loaders import get_loader  # noqa: E402
from mash_kg.neo4j_server.scratch import scratch_server  # noqa: E402

ROOT = Path(__file__).parent.parent


def run_case(driver, files: dict, name: str, args: list[str], out: dict) -> None:
    before = content(driver)
    res = CliRunner().invoke(cli, [a.format(**files) for a in args])
    err = res.stderr
    lines = [ln for ln in err.splitlines() if ln.strip()]
    clear = res.exit_code != 0 and len(lines) == 1 and lines[0].startswith("error:")
    clear = clear and "internal error" not in lines[0]
    same = content(driver) == before
    crashed = res.exception is not None and not isinstance(res.exception, SystemExit)
    out["cases"] += 1
    out["clear_error"] += int(clear)
    out["graph_unchanged"] += int(same)
    out["traceback"] += int("Traceback" in err or crashed)
    if not (clear and same):
        out["failed"].append(f"{name}: exit {res.exit_code}: {err.strip()[:300]}")
        print("FAIL", out["failed"][-1], flush=True)
    driver.execute_query("MATCH (l:SyncLock) DELETE l")


def main() -> None:
    work = Path(sys.argv[1])
    t0 = time.time()
    files = make_case_files(work / "cases", work / "b1")
    out = {"cases": 0, "clear_error": 0, "graph_unchanged": 0, "traceback": 0, "failed": []}
    with tempfile.TemporaryDirectory(prefix="inproc-") as d:
        with scratch_server(Path(d) / "neo4j", heap="1g", pagecache="128m", http=False) as s:
            os.environ.update(NEO4J_URI=s.bolt_uri, NEO4J_USER=s.user, NEO4J_PASSWORD=s.password)
            driver = connect(s)
            lab = ROOT / "tests" / "fixtures" / "edges_v1.csv"
            write_tables(driver, get_loader("edges")(files=[lab], vocab="LAB", domain="lab"))
            os.chdir(files["project"])
            for name, args in CASES:
                run_case(driver, files, name, args, out)
            driver.close()
    print(out, f"{time.time() - t0:.0f} s", flush=True)
    (work / "bad_inputs.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
