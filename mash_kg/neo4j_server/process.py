"""Which process is our Neo4j, and one start or stop at a time per home.

`mash-kg neo4j start` records the server's pid, its start time and the home in
HOME/run/mash-kg-neo4j.pid. The start time that identifies the process is the kernel's own:
clock ticks since boot (/proc/PID/stat) with the boot's id, which no clock adjustment moves (a
wall-clock start time is boot time + ticks, and the boot time the kernel reports shifts
whenever the system clock is stepped: CI saw 48 s). Nothing is signalled unless the live
process still has that start time and a command line naming Neo4j's entry point and this home:
a pid file whose process is gone, or whose pid now belongs to another program, is reported and
removed instead (mash-kg may run as root, where a wrong signal kills anything). Start and stop
hold an exclusive lock (HOME/run/mash-kg-neo4j.lock), so two starts at once leave one server
that the pid file names.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psutil

from mash_kg.errors import MashError

ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"
PID_NAME = "mash-kg-neo4j.pid"
LOCK_NAME = "mash-kg-neo4j.lock"
START_TIME_TOLERANCE_S = 0.05  # pid files without ticks: wall-clock create_time, as before
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")

Echo = Callable[[str], None]


@dataclass(frozen=True)
class PidRecord:
    pid: int
    started: float | None  # psutil create_time (wall clock, shown); None in older pid files
    home: str | None
    ticks: int | None = None  # start in clock ticks since boot; None in older pid files
    boot: str | None = None  # the boot's id, so that ticks of an earlier boot never match


def _boot_id() -> str | None:
    try:
        return BOOT_ID.read_text().strip()
    except OSError:
        return None


def start_ticks(pid: int) -> int | None:
    """The process's start in clock ticks since boot (field 22 of /proc/PID/stat), or None where
    there is no procfs. Raises psutil.NoSuchProcess when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():
            raise psutil.NoSuchProcess(pid) from None
        return None
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])  # fields from 3 on follow the ")"


def pid_file(home: Path) -> Path:
    return Path(home) / "run" / PID_NAME


def write_pid(home: Path, pid: int) -> PidRecord | None:
    """Record `pid` (a server just launched) with its start time; written whole or not at all.
    None when it has exited already (the caller reports its exit code)."""
    try:
        ticks = start_ticks(pid)
        record = PidRecord(pid, psutil.Process(pid).create_time(), str(home), ticks, _boot_id())
    except psutil.NoSuchProcess:
        return None
    path = pid_file(home)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record.__dict__) + "\n")
    os.replace(tmp, path)
    return record


def _parse(text: str) -> PidRecord | None:
    text = text.strip()
    if text.isdigit():  # written by an older mash-kg: the command line alone identifies it
        return PidRecord(int(text), None, None)
    try:
        data = json.loads(text)
        ticks, boot = data.get("ticks"), data.get("boot")
        return PidRecord(
            int(data["pid"]),
            float(data["started"]),
            str(data["home"]),
            None if ticks is None else int(ticks),
            None if boot is None else str(boot),
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _names_home(cmdline: list[str], home: Path) -> bool:
    """True when the command runs Neo4j's entry point with `--home-dir` = this home."""
    if ENTRY_POINT not in cmdline:
        return False
    for arg in cmdline:
        if arg.startswith("--home-dir="):
            return Path(arg.split("=", 1)[1]).resolve() == Path(home).resolve()
    return False


def identify(record: PidRecord, home: Path) -> tuple[psutil.Process | None, str]:
    """The live process of `record` if it is our Neo4j, else None and why it is not."""
    pid = record.pid
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None, f"Neo4j (pid {pid}) has exited"
        started = proc.create_time()
        if _another_process(record, started):
            return None, (
                f"pid {pid} now belongs to another process (started {_when(started)}, "
                f"the recorded Neo4j {_when(record.started)})"
            )
        cmdline = proc.cmdline()
    except psutil.NoSuchProcess:
        return None, f"process {pid} is gone"
    except psutil.AccessDenied:
        return None, f"pid {pid} belongs to a process mash-kg may not inspect"
    if not _names_home(cmdline, home):
        shown = shlex.join(cmdline)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        return None, f"pid {pid} is not the Neo4j of this home (it runs: {shown})"
    return proc, ""


def _another_process(record: PidRecord, started: float) -> bool:
    """True when the live process of record.pid is not the one recorded (the pid was reused)."""
    if record.ticks is not None and record.boot is not None:
        ticks, boot = start_ticks(record.pid), _boot_id()
        if ticks is not None and boot is not None:
            return ticks != record.ticks or boot != record.boot
    if record.started is None:
        return False  # an older pid file: the command line alone identifies it
    return abs(started - record.started) > START_TIME_TOLERANCE_S


def our_server(home: Path, echo: Echo) -> psutil.Process | None:
    """The running Neo4j named by HOME's pid file, or None. A pid file naming a process that is
    gone or not ours is reported through `echo` and removed; its pid is never signalled."""
    path = pid_file(home)
    try:
        text = path.read_text()
    except (FileNotFoundError, NotADirectoryError):
        return None
    record = _parse(text)
    if record is None:
        why = "it does not hold a pid"
    else:
        proc, why = identify(record, home)
        if proc is not None:
            return proc
    echo(f"Removed the stale pid file {path} ({why}); no process was signalled.")
    path.unlink(missing_ok=True)
    return None


def _send_sigterm(proc: psutil.Process) -> None:
    """SIGTERM to exactly `proc`: a pidfd pins the process, then its start time is checked
    again, so a pid reused at any moment in between is never signalled."""
    try:
        fd = os.pidfd_open(proc.pid)
    except ProcessLookupError:
        raise psutil.NoSuchProcess(proc.pid) from None
    except (AttributeError, OSError):  # no pidfd (Linux < 5.3): psutil re-checks the start time
        proc.terminate()
        return
    try:
        if not proc.is_running():  # the pid now names a process started later
            raise psutil.NoSuchProcess(proc.pid)
        signal.pidfd_send_signal(fd, signal.SIGTERM)
    except ProcessLookupError:
        raise psutil.NoSuchProcess(proc.pid) from None
    finally:
        os.close(fd)


def terminate(proc: psutil.Process, timeout: float, log: Path) -> None:
    """SIGTERM (Neo4j's shutdown hook runs) and wait for the exit; reaps our own child."""
    try:
        _send_sigterm(proc)
        proc.wait(timeout)
    except psutil.NoSuchProcess:
        return
    except psutil.TimeoutExpired:
        raise MashError(
            f"Neo4j (pid {proc.pid}) did not stop within {timeout:.0f} s; see {log}"
        ) from None


@contextlib.contextmanager
def home_lock(home: Path, timeout: float, echo: Echo) -> Iterator[None]:
    """Hold HOME's start/stop lock (flock: released by the kernel if the holder dies)."""
    path = Path(home) / "run" / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            echo(
                f"Another `mash-kg neo4j start` or `stop` is running on {home}; "
                f"waiting up to {timeout:.0f} s for it ..."
            )
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise MashError(
                            f"another `mash-kg neo4j start` or `stop` held {path} for more "
                            f"than {timeout:.0f} s: wait for it to finish, then retry"
                        ) from None
                    time.sleep(0.2)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
