"""Progress of long steps where nobody watches a terminal (a log file, CI, a scheduler).

`PlainProgress` has the two calls the CLI uses of rich's `Progress` (`add_task`, `advance`),
but writes plain lines: one when a step starts, one when it ends, and every `every` seconds
(``MASH_KG_PROGRESS_SECONDS``, default 30) one per running step with its count, rate and
elapsed time, also while a step reports nothing (a timer thread writes them), so a log shows
a build is alive and how far it is.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

from rich.console import Console

DEFAULT_EVERY = 30.0


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


@dataclass
class _Step:
    description: str
    total: float | None
    done: float = 0
    start: float = field(default_factory=time.monotonic)
    finished: bool = False


class PlainProgress:
    """Plain-line progress (see the module docstring); a context manager like rich's."""

    def __init__(self, console: Console, every: float | None = None) -> None:
        if every is None:
            try:
                every = float(os.environ.get("MASH_KG_PROGRESS_SECONDS", DEFAULT_EVERY))
            except ValueError:
                every = DEFAULT_EVERY
        self.every = max(every, 0.05)
        self.console = console
        self.steps: list[_Step] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._origin = time.monotonic()

    def _line(self, text: str) -> None:
        stamp = _clock(time.monotonic() - self._origin)
        self.console.print(f"[{stamp}] {text}", markup=False, highlight=False, soft_wrap=True)

    def __enter__(self) -> PlainProgress:
        self._thread = threading.Thread(target=self._tick, name="mash-kg-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            for step in self.steps:
                if not step.finished:
                    self._finish(step, failed=exc_type is not None)

    def add_task(self, description: str, total: float | None = None, **_: object) -> int:
        """Start a step (the one before it ends here too: steps run one after another)."""
        with self._lock:
            for step in self.steps:
                if not step.finished:
                    self._finish(step)
            self.steps.append(_Step(description, total))
            what = f" ({int(total):,} to do)" if total else ""
            self._line(f"{description}: started{what}")
            return len(self.steps) - 1

    def advance(self, task: int, advance: float = 1) -> None:
        with self._lock:
            step = self.steps[task]
            step.done += advance
            if step.total and step.done >= step.total and not step.finished:
                self._finish(step)

    def _finish(self, step: _Step, failed: bool = False) -> None:
        step.finished = True
        took = _clock(time.monotonic() - step.start)
        count = f"{int(step.done):,} " if step.total and step.total > 1 else ""
        self._line(f"{step.description}: {'stopped' if failed else 'done'}, {count}in {took}")

    def _tick(self) -> None:
        while not self._stop.wait(self.every):
            with self._lock:
                for step in self.steps:
                    if step.finished:
                        continue
                    elapsed = time.monotonic() - step.start
                    total = f"/{int(step.total):,}" if step.total else ""
                    rate = step.done / elapsed if elapsed > 0 else 0.0
                    self._line(
                        f"{step.description}: {int(step.done):,}{total} done, {rate:,.1f}/s, "
                        f"{_clock(elapsed)} elapsed"
                    )
