"""A local Neo4j 5.26 Community server for users without Docker.

The server is assembled from Neo4j's artifacts on Maven Central (pom.xml beside this file):
Maven copies the jars once into a cache folder, and the JVM runs Neo4j's own server entry point
`org.neo4j.server.CommunityEntryPoint` with a neo4j.conf written here. Data, logs and the pid
file live under `Neo4jSettings.home`, so a restart finds the same graph. Which process is ours
and the start/stop lock: process.py; the password and folder modes: credentials.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from mash_kg.config import Neo4jSettings, password_path, read_password_file
from mash_kg.errors import MashError, Neo4jUnavailable
from mash_kg.neo4j_server.credentials import (
    LEGACY_PASSWORD,
    LOCAL_USER,
    local_password,
    secure_home,
)
from mash_kg.neo4j_server.process import (
    ENTRY_POINT,
    home_lock,
    our_server,
    pid_file,
    terminate,
    write_pid,
)
from mash_kg.settings import CacheSettings

NEO4J_VERSION = "5.26.19"
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


def server_dist(cache: Path) -> Path:
    """Folder (under the `cache` root) holding lib/ and plugins/ of this exact pom; built by
    Maven on first use."""
    digest = hashlib.sha256(_pom_path().read_bytes()).hexdigest()[:12]
    return cache / f"neo4j-{NEO4J_VERSION}-{digest}"


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
    cmd = [
        mvn,
        "-B",
        "-q",
        "-f",
        str(pom),
        "package",
        f"-DlibDir={tmp / 'lib'}",
        f"-DpluginDir={tmp / 'plugins'}",
    ]
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


def ensure_server_jars(cache: Path | None = None, echo=print) -> Path:
    """Neo4j's server jars (lib/, plugins/), fetched once per pom into `cache` (default: the
    cache root of `settings.CacheSettings`)."""
    dist = server_dist(cache or CacheSettings().root)
    return maven_fetch(_pom_path(), dist, f"Neo4j {NEO4J_VERSION}", echo)


SHELL_VERSION = "5.26.12"  # the newest 5.26 cypher-shell on Maven Central (no 5.26.19 there)


def ensure_cypher_shell(cache: Path | None = None, echo=print) -> list[str]:
    """The command that runs cypher-shell (org.neo4j:cypher-shell from Maven Central, fetched
    once into `cache`, default the cache root of `settings.CacheSettings`) with the installed
    JDK."""
    pom = Path(__file__).with_name("cypher-shell.pom.xml")
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:12]
    dist = maven_fetch(
        pom,
        (cache or CacheSettings().root) / f"cypher-shell-{SHELL_VERSION}-{digest}",
        f"cypher-shell {SHELL_VERSION}",
        echo,
    )
    return [check_java(), "-cp", str(dist / "lib" / "*"), "org.neo4j.shell.Main"]


# ---------------------------------------------------------------------------------- config


def _conf_value(key: str, value: object) -> str:
    """`value` as it may stand in neo4j.conf: printable ASCII only. Neo4j reads the file as
    Latin-1 and has no escapes, so a path with `ü` would name another folder and a newline would
    add a setting: such values are refused (paths never get here, see `write_conf`)."""
    text = str(value)
    if not text.isascii() or not text.isprintable():
        raise MashError(
            f"the Neo4j setting {key} = {text!r} has characters neo4j.conf cannot carry "
            "(only printable ASCII): change it in mash-kg.toml"
        )
    return text


def write_conf(settings: Neo4jSettings, dist: Path) -> Path:
    """neo4j.conf for HOME (no secrets in it); HOME's folders are made owner-only first.

    Every folder is given relative to HOME (Neo4j resolves it against `--home-dir`, which the
    JVM decodes as UTF-8, see `jvm_env`), so a home with spaces, quotes or `ü` works: the
    plugins folder of the cache is reached through the link HOME/plugins."""
    home = settings.home
    secure_home(home)
    link = home / "plugins"
    if link.is_symlink() or link.exists():
        if not link.is_symlink():
            raise MashError(f"{link} exists and is not mash-kg's link to the plugins: remove it")
        link.unlink()
    link.symlink_to(dist / "plugins", target_is_directory=True)
    lines = {
        "server.directories.data": "data",
        "server.directories.logs": "logs",
        "server.directories.run": "run",
        "server.directories.import": "import",
        "server.directories.plugins": "plugins",
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
    conf = home / "conf" / "neo4j.conf"
    conf.write_text(
        "# written by `mash-kg neo4j start`; edit mash-kg.toml instead\n"
        + "".join(f"{k}={_conf_value(k, v)}\n" for k, v in lines.items()),
        encoding="ascii",
    )
    return conf


def jvm_env(settings: Neo4jSettings, conf: Path) -> dict[str, str]:
    """The environment of Neo4j's JVMs: a UTF-8 locale, so that the home folder's name (argv,
    NEO4J_HOME) reaches Java intact whatever the user's locale is."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LC_")}
    env.update(LC_ALL="C.UTF-8", LANG="C.UTF-8")
    env.update(NEO4J_HOME=str(settings.home), NEO4J_CONF=str(conf.parent))
    return env


def _argfile_quote(text: str) -> str:
    """`text` as one argument of a java @argfile (double quotes, backslash escapes)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\r", "\\r") + '"'


def has_system_database(home: Path) -> bool:
    return (Path(home) / "data" / "databases" / "system").is_dir()


def set_initial_password(
    settings: Neo4jSettings, password: str, java: str, dist: Path, conf: Path
) -> None:
    """Give a new store's `neo4j` user `settings`' password before Neo4j first starts (Neo4j's
    own `neo4j-admin dbms set-initial-password`, which writes data/dbms/auth.ini): the first
    boot creates the system database with it, so Bolt never accepts neo4j/neo4j. The password
    travels in an owner-only java @argfile, never on a command line."""
    argfile = settings.home / "run" / f".set-initial-password.{os.getpid()}.args"
    argfile.unlink(missing_ok=True)
    fd = os.open(argfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("org.neo4j.cli.AdminTool\ndbms\nset-initial-password\n")
            # `--` ends the options: a password that starts with "-" (token_urlsafe makes one
            # in 32) is the password, not an unknown option
            fh.write("--\n" + _argfile_quote(password) + "\n")
        proc = subprocess.run(
            [java, "-cp", f"{dist / 'lib'}/*", f"@{argfile}"],
            env=jvm_env(settings, conf),
            cwd=settings.home,
            capture_output=True,
            text=True,
            check=False,
            umask=0o077,
        )
    finally:
        argfile.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise MashError(
            f"could not set the initial password of the new store in {settings.home} "
            f"(neo4j-admin exit {proc.returncode}: {_first_line(RuntimeError(proc.stderr))})"
        )


def local_uri(settings: Neo4jSettings) -> str:
    """The Bolt address of the local server: always 127.0.0.1:bolt_port, whatever NEO4J_URI
    says (that names the graph the other commands use, not the server `start` launched)."""
    return f"bolt://127.0.0.1:{settings.bolt_port}"


# ---------------------------------------------------------------------------------- bolt


def _try_connect(settings: Neo4jSettings, password: str):
    from neo4j import GraphDatabase

    driver = GraphDatabase.driver(
        local_uri(settings), auth=(LOCAL_USER, password), connection_timeout=3
    )
    try:
        driver.verify_connectivity()
        return driver
    except Exception:
        driver.close()
        raise


def _change_password(settings: Neo4jSettings, old: str, new: str) -> None:
    """ALTER CURRENT USER as `neo4j` with `old` (raises AuthError if `old` is not it)."""
    from neo4j import GraphDatabase

    with GraphDatabase.driver(local_uri(settings), auth=(LOCAL_USER, old)) as driver:
        driver.execute_query(
            "ALTER CURRENT USER SET PASSWORD FROM $old TO $new",
            old=old,
            new=new,
            database_="system",
        )


def _adopt_store(settings: Neo4jSettings, password: str, echo=print) -> None:
    """A store that does not take `password`: a new one (neo4j/neo4j, change forced) gets it;
    one made by an older mash-kg with its documented default is moved to it, unless the
    password was given explicitly. Raises AuthError when neither applies."""
    from neo4j.exceptions import AuthError

    try:
        _change_password(settings, "neo4j", password)
        return
    except AuthError:
        if settings.names_local_server and settings.explicit_password:
            raise
    _change_password(settings, LEGACY_PASSWORD, password)
    echo(
        f"This store still had the former documented default password: replaced it with the "
        f"generated one in {password_path(settings.home)}."
    )


def wait_for_bolt(
    settings: Neo4jSettings,
    password: str,
    proc: subprocess.Popen | None,
    deadline: float,
    echo=print,
) -> None:
    """Return once the local server answers on 127.0.0.1:bolt_port to `neo4j` with `password`
    (set first on a new store); raise Neo4jUnavailable otherwise."""
    from neo4j.exceptions import AuthError, ServiceUnavailable

    log = settings.home / "logs" / "neo4j.log"
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise Neo4jUnavailable(f"Neo4j exited during start (code {proc.returncode}); see {log}")
        try:
            _try_connect(settings, password).close()
            return
        except AuthError as exc:
            last_error = exc
            try:
                _adopt_store(settings, password, echo)
                continue
            except AuthError:
                source = (
                    "NEO4J_PASSWORD"
                    if settings.names_local_server and settings.explicit_password
                    else str(password_path(settings.home))
                )
                raise Neo4jUnavailable(
                    f"the Neo4j store in {settings.home} rejects the password from {source}: "
                    "set NEO4J_PASSWORD to the one this store was created with"
                ) from None
            except ServiceUnavailable as exc2:
                last_error = exc2
        except (ServiceUnavailable, OSError) as exc:
            last_error = exc
        except Exception as exc:  # the driver raises several kinds while the server boots
            last_error = exc
        time.sleep(0.5)
    raise Neo4jUnavailable(
        f"Neo4j did not answer on {local_uri(settings)} within "
        f"{settings.start_timeout:.0f} s ({_first_line(last_error)}); see {log}"
    )


def _first_line(exc: Exception | None) -> str:
    text = str(exc).strip().splitlines() if exc is not None else []
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


# ---------------------------------------------------------------------------------- verbs


class Interrupted(BaseException):
    """A signal arrived while `start` ran (raised from the handler, so no `except Exception`
    on the way swallows it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def _signals_interrupt():
    """SIGINT, SIGTERM and SIGHUP raise `Interrupted` in the block (once: later ones are held
    until the block has cleaned up); the previous handlers come back afterwards. Outside the
    main thread (no handlers possible there) the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    seen: list[int] = []

    def handler(signum, _frame):
        seen.append(signum)
        if len(seen) == 1:
            raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    except Interrupted as exc:
        raise MashError(
            f"`neo4j start` was interrupted by {exc}: the server it launched (if any) was "
            "stopped, nothing is left running"
        ) from None
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def _signals_held():
    """Hold SIGINT, SIGTERM and SIGHUP (delivered when the block ends): a process launched in
    the block is always known to the cleanup that follows."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def start(settings: Neo4jSettings, echo=print, cache: Path | None = None) -> ServerStatus:
    """Start the local server (or find it running) and return once it answers on its own Bolt
    port with its own password. Exclusive per home. A new store gets its password before the
    first boot (`set_initial_password`), and a server this call launched is stopped again when
    anything, a signal included (SIGINT, SIGTERM, SIGHUP), ends the call before it returns.
    The jars are fetched once into `cache` (default: the cache root of `CacheSettings`)."""
    with _signals_interrupt():
        secure_home(settings.home)
        with home_lock(settings.home, settings.start_timeout + 60, echo):
            deadline = time.monotonic() + settings.start_timeout
            password = local_password(settings, echo)
            if our_server(settings.home, echo) is not None:
                wait_for_bolt(settings, password, None, deadline, echo)
                return status(settings, echo)
            return _launch_and_wait(settings, password, deadline, echo, cache)


def _launch_and_wait(
    settings: Neo4jSettings, password: str, deadline: float, echo, cache: Path | None
) -> ServerStatus:
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
    dist = ensure_server_jars(cache, echo=echo)
    conf = write_conf(settings, dist)
    if not has_system_database(settings.home):
        set_initial_password(settings, password, java, dist, conf)
    console = settings.home / "logs" / "console.log"
    cmd = [
        java,
        f"-Xms{settings.heap}",
        f"-Xmx{settings.heap}",
        *JVM_FLAGS,
        "-cp",
        f"{dist / 'plugins'}/*:{dist / 'lib'}/*",
        ENTRY_POINT,
        f"--home-dir={settings.home}",
        f"--config-dir={conf.parent}",
    ]
    # owner-only from the first byte, like everything Neo4j writes under the umask below
    out = os.open(console, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    proc = None
    try:
        with _signals_held():
            proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=settings.home,
                env=jvm_env(settings, conf),
                start_new_session=True,
                umask=0o077,  # the store and logs Neo4j writes: owner-only
            )
        os.close(out)
        out = -1
        write_pid(settings.home, proc.pid)
        wait_for_bolt(settings, password, proc, deadline, echo)
        # the system database holds the account now: drop the password's hash the first boot read
        (settings.home / "data" / "dbms" / "auth.ini").unlink(missing_ok=True)
        return status(settings, echo)
    except BaseException:  # a signal too: never leave a server behind that start launched
        if out >= 0:
            os.close(out)
        if proc is not None:
            _kill_launched(proc)
        pid_file(settings.home).unlink(missing_ok=True)
        raise


def _kill_launched(proc: subprocess.Popen) -> None:
    """Stop the server `start` launched: SIGTERM, then SIGKILL after 30 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stop(settings: Neo4jSettings, timeout: float = 90.0, echo=print) -> bool:
    """Stop the local server cleanly (SIGTERM runs Neo4j's shutdown hook); False if none ran.
    Only a process that is still the recorded Neo4j of this home is signalled."""
    if not (settings.home / "run").is_dir():
        return False
    with home_lock(settings.home, timeout + 60, echo):
        proc = our_server(settings.home, echo)
        if proc is None:
            return False
        terminate(proc, timeout, settings.home / "logs" / "neo4j.log")
        pid_file(settings.home).unlink(missing_ok=True)
        return True


def status(settings: Neo4jSettings, echo=print) -> ServerStatus:
    """The local server of this home: its pid (checked to be ours) and, when it answers with
    its own password, its version."""
    proc = our_server(settings.home, echo)
    version = None
    password = settings.explicit_password if settings.names_local_server else None
    password = password or read_password_file(settings.home)
    if proc is not None and password:
        try:
            driver = _try_connect(settings, password)
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
        running=proc is not None and version is not None,
        pid=proc.pid if proc is not None else None,
        address=local_uri(settings),
        version=version,
        home=settings.home,
        http=http,
    )
