"""Progress without a terminal (`mash_kg.progress.PlainProgress`): steps and periodic counts,
one line each."""

from __future__ import annotations

import io
import time

from rich.console import Console

from mash_kg.progress import PlainProgress


def test_plain_progress_prints_steps_and_periodic_counts():
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    with PlainProgress(console, every=0.05) as bar:
        task = bar.add_task("embedding [codes]", total=10)
        bar.advance(task, 4)
        time.sleep(0.3)  # the timer thread writes while the step reports nothing
        bar.advance(task, 6)
        slow = bar.add_task("Stage III", total=1)
        time.sleep(0.2)
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("embedding [codes]: started (10 to do)")
    periodic = [ln for ln in lines if "embedding [codes]: 4/10 done" in ln]
    assert periodic and "/s, 0:00:00 elapsed" in periodic[0]
    assert any(ln.endswith("embedding [codes]: done, 10 in 0:00:00") for ln in lines)
    assert any("Stage III: 0/1 done" in ln for ln in lines)
    assert lines[-1].endswith("Stage III: done, in 0:00:00") and slow == 1
