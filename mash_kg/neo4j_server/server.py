"""A local Neo4j 5.26 Community server for users without Docker.

The server is assembled from Neo4j's artifacts on Maven Central (pom.xml beside this file):
Maven copies the jars once into a cache folder, and the JVM runs Neo4j's own server entry point
`org.neo4j.server.CommunityEntryPoint` with a neo4j.conf written here. Data, logs and the pid
file live under `Neo4jSettings.home`, so a restart finds the same graph.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from mash_kg.config import DEFAULT_PASSWORD, Neo4jSettings
from mash_kg.errors import MashError, Neo4jUnavailable

NEO4J_VERSION = "5.26.19"
ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"
JVM_FLAGS = [
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-Djdk.nio.maxCachedBufferSize=1024",
]


@dataclass
class ServerStatus:
    running: bool
    pid: int | None
    address: str
    version: str | None
    home: Path
    http: str | None = None


# ---------------------------------------------------------------------------------- java, maven


def java_executable() -> str:
    """The `java` to run: $JAVA_HOME/bin/java, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise MashError(
            "Java not found: Neo4j 5.26 needs a JDK 17 or 21 "
            "(install openjdk-17-jre-headless, or set JAVA_HOME)"
        )
    return found


def java_major_version(java: str) -> int:
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        raise MashError(f"could not read the version of {java}: set JAVA_HOME to a JDK 17 or 21")
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 else major  # "1.8" style


def check_java() -> str:
    java = java_executable()
    major = java_major_version(java)
    if major < 17:
        raise MashError(
            f"Java {major} at {java} is too old: Neo4j 5.26 needs Java 17 or 21 "
            "(install openjdk-17-jre-headless, or set JAVA_HOME)"
        )
    if major not in (17, 21):
        raise MashError(
            f"Java {major} at {java} is not supported by Neo4j 5.26 (needs 17 or 21): "
            "set JAVA_HOME to a JDK 17 or 21"
        )
    return java


def _pom_path() -> Path:
    return Path(str(resources.files("mash_kg.neo4j_server").joinpath("pom.xml")))


def server_dist(settings: Neo4jSettings) -> Path:
    """Folder holding lib/ and plugins/ of this exact pom; built by Maven on first use."""
    digest = hashlib.sha256(_pom_path().read_bytes()).hexdigest()[:12]
    return settings.cache / f"neo4j-{NEO4J_VERSION}-{digest}"


def maven_fetch(pom: Path, dist: Path, what: str, echo=print) -> Path:
    """Copy the dependency jars of `pom` from Maven Central (cached in ~/.m2) into `dist`
    (lib/, plugins/), once: a READY file marks a complete folder."""
    if (dist / "READY").exists():
        return dist
    mvn = shutil.which("mvn")
    if not mvn:
        raise MashError(
            f"Maven (mvn) not found: it fetches {what}'s jars once "
            "(install maven, e.g. `apt-get install maven`)"
        )
    echo(f"Fetching {what} from Maven Central into {dist} (once) ...")
    tmp = dist.with_name(dist.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    log = tmp / "maven.log"
    cmd = [mvn, "-B", "-q", "-f", str(pom), "package", f"-DlibDir={tmp / 'lib'}",
           f"-DpluginDir={tmp / 'plugins'}"]  # fmt: skip
    env = dict(os.environ)
    java_home = Path(check_java()).resolve().parent.parent
    env.setdefault("JAVA_HOME", str(java_home))
    with log.open("w") as fh:
        proc = subprocess.run(
            cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, check=False, cwd=tmp
        )
    if proc.returncode != 0:
        raise MashError(f"Maven could not fetch {what} (exit {proc.returncode}); see {log}")
    shutil.rmtree(dist, ignore_errors=True)
    tmp.rename(dist)
    (dist / "READY").write_text(what + "\n")
    return dist


def ensure_server_jars(settings: Neo4jSettings, echo=print) -> Path:
    """Neo4j's server jars (lib/, plugins/), fetched once per pom."""
    return maven_fetch(_pom_path(), server_dist(settings), f"Neo4j {NEO4J_VERSION}", echo)


SHELL_VERSION = "5.26.12"  # the newest 5.26 cypher-shell on Maven Central (no 5.26.19 there)


def ensure_cypher_shell(settings: Neo4jSettings, echo=print) -> list[str]:
    """The command that runs cypher-shell (org.neo4j:cypher-shell from Maven Central, fetched
    once into the cache) with the installed JDK."""
    pom = Path(__file__).with_name("cypher-shell.pom.xml")
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:12]
    dist = maven_fetch(pom, settings.cache / f"cypher-shell-{SHELL_VERSION}-{digest}",
                       f"cypher-shell {SHELL_VERSION}", echo)  # fmt: skip
    return [check_java(), "-cp", str(dist / "lib" / "*"), "org.neo4j.shell.Main"]


# ---------------------------------------------------------------------------------- config, pid


def write_conf(settings: Neo4jSettings, dist: Path) -> Path:
    home = settings.home
    conf_dir = home / "conf"
    conf_dir.mkdir(parents=True, exist_ok=True)
    for sub in ("data", "logs", "run", "import"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    lines = {
        "server.directories.data": home / "data",
        "server.directories.logs": home / "logs",
        "server.directories.run": home / "run",
        "server.directories.import": home / "import",
        "server.directories.plugins": dist / "plugins",
        "server.default_listen_address": "127.0.0.1",
        "server.default_advertised_address": "127.0.0.1",
        "server.bolt.enabled": "true",
        "server.bolt.listen_address": f"127.0.0.1:{settings.bolt_port}",
        "server.bolt.advertised_address": f"127.0.0.1:{settings.bolt_port}",
        "server.http.enabled": "true" if settings.http_port else "false",
        "server.http.listen_address": f"127.0.0.1:{settings.http_port or 7474}",
        "server.http.advertised_address": f"127.0.0.1:{settings.http_port or 7474}",
        "server.https.enabled": "false",
        "server.memory.pagecache.size": settings.pagecache,
        "server.memory.heap.initial_size": settings.heap,
        "server.memory.heap.max_size": settings.heap,
        "dbms.security.auth_enabled": "true",
        "dbms.usage_report.enabled": "false",
        "dbms.security.procedures.unrestricted": "apoc.*",
        "db.tx_log.preallocate": "false",
        "db.tx_log.rotation.size": "64M",
        "db.tx_log.rotation.retention_policy": "2 files",
    }
    conf = conf_dir / "neo4j.conf"
    conf.write_text(
        "# written by `mash-kg neo4j start`; edit mash-kg.toml instead\n"
        + "".join(f"{k}={v}\n" for k, v in lines.items())
    )
    return conf


def _pid_file(settings: Neo4jSettings) -> Path:
    return settings.home / "run" / "mash-kg-neo4j.pid"


def _read_pid(settings: Neo4jSettings) -> int | None:
    path = _pid_file(settings)
    try:
        pid = int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    if _alive(pid):
        return pid
    path.unlink(missing_ok=True)  # stale: the process is gone
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours counts as gone
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


# ---------------------------------------------------------------------------------- bolt


def _try_connect(settings: Neo4jSettings, password: str):
    from neo4j import GraphDatabase

    driver = GraphDatabase.driver(
        settings.bolt_uri, auth=(settings.user, password), connection_timeout=3
    )
    try:
        driver.verify_connectivity()
        return driver
    except Exception:
        driver.close()
        raise


def _set_initial_password(settings: Neo4jSettings) -> None:
    """A new store has neo4j/neo4j with a forced change: set the configured password."""
    from neo4j import GraphDatabase

    if len(settings.password) < 8:
        raise MashError("NEO4J_PASSWORD must have at least 8 characters for Neo4j 5")
    with GraphDatabase.driver(settings.bolt_uri, auth=(settings.user, "neo4j")) as driver:
        driver.execute_query(
            "ALTER CURRENT USER SET PASSWORD FROM 'neo4j' TO $pw",
            pw=settings.password,
            database_="system",
        )


def wait_for_bolt(settings: Neo4jSettings, proc: subprocess.Popen | None, deadline: float) -> None:
    from neo4j.exceptions import AuthError, ServiceUnavailable

    log = settings.home / "logs" / "neo4j.log"
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise Neo4jUnavailable(f"Neo4j exited during start (code {proc.returncode}); see {log}")
        try:
            _try_connect(settings, settings.password).close()
            return
        except AuthError as exc:
            last_error = exc
            try:
                _set_initial_password(settings)
                continue
            except AuthError:
                raise Neo4jUnavailable(
                    f"Neo4j at {settings.bolt_uri} rejects the configured password: set "
                    f"NEO4J_PASSWORD to the one this store was created with ({settings.home})"
                ) from None
            except ServiceUnavailable as exc2:
                last_error = exc2
        except (ServiceUnavailable, OSError) as exc:
            last_error = exc
        except Exception as exc:  # the driver raises several kinds while the server boots
            last_error = exc
        time.sleep(0.5)
    raise Neo4jUnavailable(
        f"Neo4j did not answer on {settings.bolt_uri} within "
        f"{settings.start_timeout:.0f} s ({last_error}); see {log}"
    )


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


# ---------------------------------------------------------------------------------- verbs


def start(settings: Neo4jSettings, echo=print) -> ServerStatus:
    """Start the local server (or find it running) and return once Bolt answers."""
    pid = _read_pid(settings)
    if pid is not None:
        wait_for_bolt(settings, None, time.monotonic() + settings.start_timeout)
        return status(settings)
    java = check_java()
    for port, what, var in (
        (settings.bolt_port, "Bolt", "MASH_KG_BOLT_PORT"),
        (settings.http_port, "HTTP", "MASH_KG_HTTP_PORT"),
    ):
        if port and _port_in_use(port):
            raise MashError(
                f"{what} port {port} on 127.0.0.1 is already in use (another "
                f"Neo4j?): stop it, or choose another port with {var}"
            )
    dist = ensure_server_jars(settings, echo=echo)
    conf = write_conf(settings, dist)
    console = settings.home / "logs" / "console.log"
    classpath = f"{dist / 'plugins'}/*:{dist / 'lib'}/*"
    cmd = [
        java,
        f"-Xms{settings.heap}",
        f"-Xmx{settings.heap}",
        *JVM_FLAGS,
        "-cp",
        classpath,
        ENTRY_POINT,
        f"--home-dir={settings.home}",
        f"--config-dir={conf.parent}",
    ]
    if settings.password == DEFAULT_PASSWORD:
        echo("Using the documented local default password; set NEO4J_PASSWORD to change it.")
    with console.open("ab") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=settings.home,
            start_new_session=True,
        )
    _pid_file(settings).write_text(f"{proc.pid}\n")
    try:
        wait_for_bolt(settings, proc, time.monotonic() + settings.start_timeout)
    except Neo4jUnavailable:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        _pid_file(settings).unlink(missing_ok=True)
        raise
    return status(settings)


def stop(settings: Neo4jSettings, timeout: float = 90.0) -> bool:
    """Stop the local server cleanly (SIGTERM runs Neo4j's shutdown hook); False if none ran."""
    pid = _read_pid(settings)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            break
        try:  # reap it if it is our own child (the test session starts it in-process)
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.2)
    else:
        raise MashError(
            f"Neo4j (pid {pid}) did not stop within {timeout:.0f} s; "
            f"see {settings.home / 'logs' / 'neo4j.log'}"
        )
    _pid_file(settings).unlink(missing_ok=True)
    return True


def status(settings: Neo4jSettings) -> ServerStatus:
    pid = _read_pid(settings)
    version = None
    if pid is not None:
        try:
            driver = _try_connect(settings, settings.password)
            with driver:
                records, _, _ = driver.execute_query(
                    "CALL dbms.components() YIELD versions, edition "
                    "RETURN versions[0] + ' ' + edition AS v"
                )
                version = records[0]["v"]
        except Exception:
            version = None
    http = f"http://127.0.0.1:{settings.http_port}/browser/" if settings.http_port else None
    return ServerStatus(
        running=pid is not None and version is not None,
        pid=pid,
        address=settings.bolt_uri,
        version=version,
        home=settings.home,
        http=http,
    )
