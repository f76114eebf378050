"""Which process is our Neo4j (neo4j_server/process.py): the pid file, its start time and home,
the home's lock; nothing else is ever signalled."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import psutil
import pytest

from mash_kg.errors import MashError
from mash_kg.neo4j_server import process, server
from tests.neo4j_server import pid_file, settings_in


@pytest.fixture
def bystander():
    """A live process that is not Neo4j (what a reused pid points to)."""
    proc = subprocess.Popen(["sleep", "300"])
    deadline = time.monotonic() + 10
    while not psutil.Process(proc.pid).cmdline() and time.monotonic() < deadline:
        time.sleep(0.01)  # between fork and exec the process has no command line yet
    yield proc
    proc.kill()
    proc.wait()


def test_stop_never_signals_an_unrelated_process(tmp_path, bystander, capsys):
    settings = settings_in(tmp_path)
    pid_file(tmp_path).write_text(f"{bystander.pid}\n")  # the pid file format of older releases
    assert server.stop(settings, timeout=5) is False
    time.sleep(0.3)
    assert bystander.poll() is None, "stop signalled a process that is not our Neo4j"
    out = capsys.readouterr().out
    assert f"Removed the stale pid file {pid_file(tmp_path)}" in out
    assert f"pid {bystander.pid} is not the Neo4j of this home (it runs: sleep 300)" in out
    assert not pid_file(tmp_path).exists()


def _fake_neo4j(home):
    """A process whose command line looks like our Neo4j of `home` (Python sleeping)."""
    code = "import time; time.sleep(300)"
    return subprocess.Popen([sys.executable, "-c", code, process.ENTRY_POINT, f"--home-dir={home}"])


def _refused_then_stopped(tmp_path, capsys, fake, stranger: dict, ours: dict) -> None:
    """With pid file `stranger`, stop signals nothing and says the pid is another process's;
    with `ours`, stop signals `fake` and reaps it."""
    settings = settings_in(tmp_path)
    pid_file(tmp_path).write_text(json.dumps(stranger))
    assert server.stop(settings, timeout=5) is False
    time.sleep(0.3)
    assert fake.poll() is None
    assert f"pid {fake.pid} now belongs to another process" in capsys.readouterr().out
    pid_file(tmp_path).write_text(json.dumps(ours))
    assert server.stop(settings, timeout=10) is True
    assert fake.wait(5) is not None and not pid_file(tmp_path).exists()


def test_a_reused_pid_is_not_signalled_even_when_the_command_looks_right(tmp_path, capsys):
    """The start time recorded by `start` must match: the same command line is not enough (the
    same process with its true start time is ours: stop signals it and reaps it)."""
    fake = _fake_neo4j(tmp_path)
    try:
        started = psutil.Process(fake.pid).create_time()
        record = {"pid": fake.pid, "started": started, "home": str(tmp_path)}
        stranger = {**record, "started": started - 120.0}
        _refused_then_stopped(tmp_path, capsys, fake, stranger, record)
    finally:
        fake.kill()
        fake.wait()


def test_the_kernel_start_time_decides_whatever_the_wall_clock_did(tmp_path, capsys):
    """A pid file written by `start` records the start in ticks since boot: a stepped system
    clock (the wall-clock start time moves with it; CI saw 48 s) does not make our server a
    stranger, and a reused pid (other ticks) is still refused."""
    fake = _fake_neo4j(tmp_path)
    try:
        pid_file(tmp_path).parent.mkdir(exist_ok=True)
        record = process.write_pid(tmp_path, fake.pid)
        assert record is not None and record.ticks is not None and record.boot
        data = json.loads(pid_file(tmp_path).read_text())
        stranger = {**data, "ticks": record.ticks - 1}  # another process under the same pid
        stepped = {**data, "started": record.started - 48.0}  # the clock was stepped since
        _refused_then_stopped(tmp_path, capsys, fake, stranger, stepped)
    finally:
        fake.kill()
        fake.wait()


def test_terminate_leaves_a_process_that_is_gone_alone(tmp_path):
    """A process that exits between the identity check and the signal is no error."""
    gone = subprocess.Popen(["sleep", "300"])
    proc = psutil.Process(gone.pid)
    gone.kill()
    gone.wait()
    process.terminate(proc, 5, tmp_path / "neo4j.log")  # no signal sent, nothing raised


def test_a_neo4j_of_another_home_is_not_ours(tmp_path, capsys):
    other = tmp_path / "other"
    fake = _fake_neo4j(other)
    try:
        record = {
            "pid": fake.pid,
            "started": psutil.Process(fake.pid).create_time(),
            "home": str(tmp_path),
        }
        pid_file(tmp_path).write_text(json.dumps(record))
        assert server.stop(settings_in(tmp_path), timeout=5) is False
        time.sleep(0.3)
        assert fake.poll() is None
        assert "is not the Neo4j of this home" in capsys.readouterr().out
    finally:
        fake.kill()
        fake.wait()


def test_the_start_lock_waits_then_gives_up_with_one_line(tmp_path):
    """While another start or stop holds the home's lock, the next one waits for it (the
    real concurrent starts are in test_concurrent_starts_...), and past its timeout says so."""
    (tmp_path / "run").mkdir()
    lock = str(tmp_path / "run" / process.LOCK_NAME)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import fcntl, os, sys, time\n"
                f"fd = os.open({lock!r}, os.O_RDWR | os.O_CREAT)\n"
                "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(300)"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        lines = []
        with pytest.raises(MashError, match="another `mash-kg neo4j start` or `stop` held"):
            with process.home_lock(tmp_path, 1.0, lines.append):
                pass
        assert lines and "waiting up to 1 s" in lines[0]
        assert not pid_file(tmp_path).exists()
    finally:
        holder.kill()
        holder.wait()
    with process.home_lock(tmp_path, 1.0, lines.append):  # free once its holder is gone
        pass
