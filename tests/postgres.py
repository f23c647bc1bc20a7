"""A real PostgreSQL server for the tests, started by the suite itself (a pytest plugin).

Fixtures:

- ``postgres_url``: ``postgresql+asyncpg://postgres@127.0.0.1:PORT/NAME``, a brand-new empty
  database for one test, dropped after it.
- ``database_url``: parametrized over ``sqlite`` and ``postgresql``: a SQLite file in the test's
  ``tmp_path``, or ``postgres_url``. A test of the settings store takes this one and runs on both.

One cluster per pytest run: ``initdb`` into a fresh temporary directory, ``pg_ctl start`` on a
free port of 127.0.0.1 with durability off (``fsync``, ``synchronous_commit``,
``full_page_writes``: a crash would lose nothing a throwaway cluster needs), and ``pg_ctl stop -m
immediate`` and the directory removed when the run ends. Without pytest-xdist the process starts it
when the first test asks for it, so a run that needs no database starts none. With xdist the
controller starts it as it sets up its workers and hands its URL to them (``workerinput``).
initdb and pg_ctl refuse to run as root: as root they run as the ``postgres`` user (``runuser``),
in a directory that user owns.

Creating and dropping the databases goes through one asyncpg connection per process, on an event
loop of its own in a thread, never on the test's loop. The tests' loops run on looptime's fast
clock, which jumps to the next timer whenever nothing is ready: asyncpg's connect timeout (a 60 s
timer) fires while the server is still answering. For the same reason every test that takes
either fixture is marked ``real_time`` here (it waits on another process, or on aiosqlite's
thread; both engines' variants of a test run alike).

When PostgreSQL is not installed (no ``initdb`` and ``pg_ctl`` on PATH or in
``/usr/lib/postgresql/*/bin``, or, as root, no ``postgres`` user), the tests that need it skip,
saying how to get it, and the run ends with a notice; with ``CATFACT_REQUIRE_POSTGRES=1`` (as
``.ci/run`` sets) the run stops at its start instead. A server that is installed but fails to
start fails those tests with pg_ctl's log.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import asyncpg  # type: ignore[import-untyped, unused-ignore]
import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url

from fakes.tcp_proxy import TcpProxy

REQUIRE_VARIABLE = "CATFACT_REQUIRE_POSTGRES"
"""Set to 1 (CI does): no PostgreSQL stops the run instead of skipping its tests."""

VERSIONS_ROOT = Path("/usr/lib/postgresql")
"""Where Debian and Ubuntu install each major version's server (``15/bin/initdb``)."""

HOW_TO_GET_IT = (
    "install PostgreSQL's server (Debian/Ubuntu: apt-get install postgresql; .ci/run does it)"
)

SERVER_OPTIONS = (
    "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
)

SKIPPED = "PostgreSQL is not available: "
"""How the skip reason of a test that needed PostgreSQL starts (the summary counts them)."""

TO_RUN_IT = ". To run this test, "

FAILED = "PostgreSQL did not start: "

BIND_ATTEMPTS = 3
"""A free port can be taken by someone else before the server binds it: try another."""

ADMIN_TIMEOUT = 30.0
"""Seconds for one admin statement; a guard against a hung server, not a measure."""

CLOSE_GRACE = 2.0
"""Seconds a test's closed connections get to leave the server before its database is dropped."""

WORKERINPUT_KEY = "catfact_postgres"


@dataclasses.dataclass(frozen=True)
class Binaries:
    initdb: str
    pg_ctl: str


def _version(bin_dir: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", bin_dir.parent.name))


def find_binaries(path: str | None = None, versions_root: Path = VERSIONS_ROOT) -> Binaries | None:
    """``initdb`` and ``pg_ctl`` from PATH (or ``path``), else from the newest version under
    ``versions_root``; None when there are none."""
    initdb, pg_ctl = shutil.which("initdb", path=path), shutil.which("pg_ctl", path=path)
    if initdb and pg_ctl:
        return Binaries(initdb, pg_ctl)
    for bin_dir in sorted(versions_root.glob("*/bin"), key=_version, reverse=True):
        initdb_path, pg_ctl_path = bin_dir / "initdb", bin_dir / "pg_ctl"
        if os.access(initdb_path, os.X_OK) and os.access(pg_ctl_path, os.X_OK):
            return Binaries(str(initdb_path), str(pg_ctl_path))
    return None


@dataclasses.dataclass(frozen=True)
class Installation:
    """PostgreSQL as this process can run it."""

    binaries: Binaries
    run_as: tuple[str, ...] = ()
    """What the commands are prefixed with: ``runuser -u postgres --`` as root, else nothing."""
    owner: tuple[int, int] | None = None
    """The uid and gid the cluster's directory must belong to, when not this process's."""


def find_installation(
    *,
    euid: int | None = None,
    user: str = "postgres",
    path: str | None = None,
    versions_root: Path = VERSIONS_ROOT,
) -> Installation | str:
    """PostgreSQL as this process can run it, or why it cannot (a clause: "no initdb ...")."""
    binaries = find_binaries(path, versions_root)
    if binaries is None:
        return f"no initdb and pg_ctl on PATH or in {versions_root}/*/bin"
    if (os.geteuid() if euid is None else euid) != 0:
        return Installation(binaries)
    try:
        account = pwd.getpwnam(user)
    except KeyError:
        return f"this runs as root, which initdb refuses, and there is no {user} user to run it as"
    runuser = shutil.which("runuser", path=path)
    if runuser is None:
        return (
            f"this runs as root, which initdb refuses, and there is no runuser on PATH to run it "
            f"as the {user} user"
        )
    return Installation(binaries, (runuser, "-u", user, "--"), (account.pw_uid, account.pw_gid))


def refuse_to_skip(reason: str, environ: Mapping[str, str]) -> None:
    """With ``CATFACT_REQUIRE_POSTGRES=1``, a missing PostgreSQL stops the run at its start (one
    line: ``ERROR: ...``) instead of skipping the tests that need it."""
    if environ.get(REQUIRE_VARIABLE, "") not in ("", "0"):
        raise pytest.UsageError(
            f"{REQUIRE_VARIABLE}={environ[REQUIRE_VARIABLE]}, but PostgreSQL is not available: "
            f"{reason}; {HOW_TO_GET_IT}"
        )


class StartError(Exception):
    """initdb or pg_ctl failed; the message holds their output and the server's log."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _headline(output: str, otherwise: str) -> str:
    """The last line of ``output`` that says what went wrong, without the log's time stamp."""
    for line in reversed(output.splitlines()):
        found = re.search(r"(?:\w+: )?\b(?:FATAL|PANIC|ERROR|error):.*", line)
        if found:
            return found[0]
    return otherwise


@dataclasses.dataclass
class Cluster:
    """A running throwaway cluster: data, socket and log all in ``directory``."""

    installation: Installation
    directory: Path
    port: int = 0
    seconds: float = 0.0
    """How long initdb and the start took."""

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def log(self) -> Path:
        return self.directory / "server.log"

    @property
    def url(self) -> str:
        """The server, without a database: append ``/NAME``."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}"

    def run(self, binary: str, *arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.installation.run_as, binary, *arguments],
            cwd=self.directory,  # the postgres user may not be allowed into the current one
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    @classmethod
    def start(cls, installation: Installation) -> Cluster:
        """initdb and start a cluster on a free port; :class:`StartError` if it would not."""
        began = time.perf_counter()
        cluster = cls(installation, Path(tempfile.mkdtemp(prefix="catfact-postgres-")))
        try:
            cluster._start()
        except BaseException:
            cluster.stop()
            raise
        cluster.seconds = time.perf_counter() - began
        return cluster

    def _start(self) -> None:
        if self.installation.owner is not None:
            os.chown(self.directory, *self.installation.owner)
        initdb = self.run(
            self.installation.binaries.initdb,
            *("-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"),
            *("--encoding=UTF8", "--locale=C"),
        )
        if initdb.returncode != 0:
            output = f"{initdb.stdout}{initdb.stderr}"
            raise StartError(
                f"{_headline(output, 'initdb failed')}\n\n"
                f"initdb exited with {initdb.returncode}:\n{output}"
            )
        for _ in range(BIND_ATTEMPTS):
            self.port = free_port()
            self.log.unlink(missing_ok=True)
            options = f"-p {self.port} -k {shlex.quote(str(self.directory))} {SERVER_OPTIONS}"
            started = self.run(
                self.installation.binaries.pg_ctl,
                *("start", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60"),
                *("-o", options),
            )
            if started.returncode == 0:
                return
            log = self.log.read_text(errors="replace") if self.log.exists() else "(no log)\n"
            if "could not bind" not in log:
                break
        raise StartError(
            f"{_headline(log, 'the server did not answer')}\n\n"
            f"pg_ctl start exited with {started.returncode}:\n{started.stdout}{started.stderr}"
            f"the server's log:\n{log}"
        )

    def stop(self) -> None:
        """Stop the server (if it runs) at once and remove the whole directory."""
        if (self.data / "postmaster.pid").exists():
            self.run(
                self.installation.binaries.pg_ctl,
                *("stop", "-D", str(self.data), "-m", "immediate", "-w"),
            )
        shutil.rmtree(self.directory, ignore_errors=True)


@dataclasses.dataclass(frozen=True)
class Server:
    """What a process knows about the run's server. Exactly one field is set; all of it passes
    to xdist workers as it is."""

    url: str | None = None
    """The server, without a database."""
    unavailable: str | None = None
    """Why there is none: the tests that need it skip."""
    failed: str | None = None
    """Why it did not start: the tests that need it fail with this."""


class _Connection(Protocol):
    """The part of ``asyncpg.Connection`` used here (asyncpg ships no type information)."""

    async def execute(self, query: str, *args: object) -> str: ...

    async def fetchval(self, query: str, *args: object) -> Any: ...

    async def close(self) -> None: ...


class Admin:
    """One asyncpg connection to the server's ``postgres`` database, on an event loop of its own
    in a daemon thread (not a test's fast-forwarded loop: see the module's docstring)."""

    def __init__(self, server_url: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="postgres-admin", daemon=True
        )
        self._thread.start()
        dsn = server_url.replace("postgresql+asyncpg://", "postgresql://") + "/postgres"
        try:
            self._connection: _Connection = self._run(asyncpg.connect(dsn, timeout=ADMIN_TIMEOUT))
        except BaseException:
            self._stop_loop()
            raise

    def _run[T](self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(ADMIN_TIMEOUT)

    def create(self, name: str) -> None:
        self._run(self._connection.execute(f'CREATE DATABASE "{name}"'))

    def drop(self, name: str, grace: float = CLOSE_GRACE) -> int:
        """Drop the database, once the connections to it have closed or ``grace`` seconds have
        passed; returns how many were still open (those are closed by force)."""
        return self._run(self._drop(name, grace))

    async def _drop(self, name: str, grace: float) -> int:
        deadline = time.monotonic() + grace
        while True:
            open_connections = int(
                await self._connection.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", name
                )
            )
            if open_connections == 0 or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.01)
        await self._connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        return open_connections

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):  # the server may be gone already
            self._run(self._connection.close())
        self._stop_loop()


class LeftOpenError(Exception):
    """A test's connections to its database were still open when the test ended."""


class Postgres:
    """This process's side of the server: it starts the cluster (a single process, or the xdist
    controller) or takes the one the controller handed over (a worker)."""

    def __init__(self, found: Installation | str | Server) -> None:
        self._found = found
        self._server = found if isinstance(found, Server) else None
        self._cluster: Cluster | None = None
        self._admin: Admin | None = None
        self._names = itertools.count(1)
        self._worker = os.environ.get("PYTEST_XDIST_WORKER", "main")

    def server(self) -> Server:
        """The run's server, started on the first call in the process that owns it."""
        if self._server is None:
            if isinstance(self._found, Installation):
                try:
                    self._cluster = Cluster.start(self._found)
                    self._server = Server(url=self._cluster.url)
                except StartError as error:
                    self._server = Server(failed=str(error))
                except (OSError, subprocess.SubprocessError) as error:  # could not even run them
                    self._server = Server(failed=f"{error!r}")
            else:
                self._server = Server(unavailable=str(self._found))
        return self._server

    @property
    def cluster(self) -> Cluster | None:
        """The cluster this process started, if it did."""
        return self._cluster

    def admin(self) -> tuple[str, Admin]:
        """The server's URL and this process's admin connection; skips or fails the calling
        test when there is no server."""
        server = self.server()
        if server.unavailable is not None:
            pytest.skip(f"{SKIPPED}{server.unavailable}{TO_RUN_IT}{HOW_TO_GET_IT}.")
        if server.failed is not None:
            pytest.fail(f"{FAILED}{server.failed}", pytrace=False)
        assert server.url is not None
        if self._admin is None:
            self._admin = Admin(server.url)
        return server.url, self._admin

    @contextlib.contextmanager
    def database(self, grace: float = CLOSE_GRACE) -> Iterator[str]:
        """A new empty database, dropped when the block ends; :class:`LeftOpenError` if connections
        to it were still open then."""
        server_url, admin = self.admin()
        name = f"test_{self._worker}_{next(self._names)}"
        admin.create(name)
        try:
            yield f"{server_url}/{name}"
        finally:
            left = admin.drop(name, grace)
        if left:
            raise LeftOpenError(
                f"the test left {left} connection(s) open to its database {name}: close them "
                "(await engine.dispose(), or create the engine with poolclass=NullPool)"
            )

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()
        if self._cluster is not None:
            self._cluster.stop()


POSTGRES = pytest.StashKey[Postgres]()


def pytest_configure(config: pytest.Config) -> None:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        handed = workerinput.get(WORKERINPUT_KEY, {"unavailable": "the controller sent none"})
        config.stash[POSTGRES] = Postgres(Server(**handed))
        return
    found = find_installation()
    if isinstance(found, str):
        refuse_to_skip(found, os.environ)
    config.stash[POSTGRES] = Postgres(found)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """On the xdist controller: start the server (once) and hand it to each worker."""
    postgres = node.config.stash[POSTGRES]
    node.workerinput[WORKERINPUT_KEY] = dataclasses.asdict(postgres.server())


def pytest_unconfigure(config: pytest.Config) -> None:
    if POSTGRES in config.stash:
        config.stash[POSTGRES].close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that takes a database keeps real time (see the module's docstring)."""
    for item in items:
        if {"postgres_url", "database_url"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.real_time)


def _reason(report: pytest.TestReport, prefix: str) -> str | None:
    """The part of a report's reason after ``prefix``, up to the end of its line, if it has it."""
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else report.longreprtext
    if prefix not in text:
        return None
    return text[text.index(prefix) + len(prefix) :].splitlines()[0].split(TO_RUN_IT)[0]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """A loud notice when tests that need PostgreSQL were skipped, or failed because it did not
    start (on the xdist controller too: it holds every worker's reports)."""
    for outcome, prefix, notice in (
        (
            "skipped",
            SKIPPED,
            f"PostgreSQL tests SKIPPED ({{count}}): PostgreSQL is not available: {{reason}}. "
            f"To run them, {HOW_TO_GET_IT}; {REQUIRE_VARIABLE}=1 makes this an error.",
        ),
        (
            "error",
            FAILED,
            "PostgreSQL tests FAILED ({count}): PostgreSQL did not start: {reason} "
            "(the errors above hold pg_ctl's log)",
        ),
    ):
        reports = terminalreporter.stats.get(outcome, [])
        reasons = [reason for report in reports if (reason := _reason(report, prefix))]
        if reasons:
            terminalreporter.section("PostgreSQL", sep="!", red=True, bold=True)
            text = notice.format(count=len(reasons), reason=reasons[0])
            terminalreporter.write_line(text, red=True, bold=True)


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A brand-new empty PostgreSQL database for this test, dropped after it:
    ``postgresql+asyncpg://postgres@127.0.0.1:PORT/NAME``. The test fails if it leaves a
    connection to it open. Skips when PostgreSQL is not installed (see the module's docstring)."""
    try:
        with request.config.stash[POSTGRES].database() as url:
            yield url
    except LeftOpenError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """This test on each engine the bot supports: ``sqlite+aiosqlite:///<tmp_path>/catfact.db``,
    or :func:`postgres_url`'s database. Either is new and empty."""
    if request.param == "sqlite":
        tmp_path: Path = request.getfixturevalue("tmp_path")
        return f"sqlite+aiosqlite:///{tmp_path / 'catfact.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest_asyncio.fixture
async def proxy(postgres_url: str) -> AsyncIterator[TcpProxy]:
    """A :class:`~fakes.tcp_proxy.TcpProxy` in front of the test's PostgreSQL server, to cut and
    restore; connect to it with :func:`through`."""
    port = make_url(postgres_url).port
    assert port is not None
    tcp = TcpProxy(port)
    await tcp.start()
    yield tcp
    await tcp.close()


def through(proxy: TcpProxy, postgres_url: str) -> str:
    """``postgres_url``, reached through ``proxy``."""
    return str(make_url(postgres_url).set(port=proxy.port))
