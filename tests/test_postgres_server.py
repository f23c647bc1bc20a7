"""The suite's own PostgreSQL server (``tests/postgres.py``): real, and a new empty database for
every test; ``database_url`` runs a test on both engines."""

from __future__ import annotations

import contextlib
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from tests import postgres


@contextlib.asynccontextmanager
async def engine(url: str) -> AsyncIterator[AsyncEngine]:
    database = create_async_engine(url, poolclass=NullPool)
    try:
        yield database
    finally:
        await database.dispose()


async def scalar(url: str, query: str, **parameters: object) -> object:
    async with engine(url) as database, database.connect() as connection:
        return (await connection.execute(text(query), parameters)).scalar_one()


async def tables(url: str) -> list[str]:
    async with engine(url) as database, database.connect() as connection:
        names: list[str] = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        return sorted(names)


async def create_table(url: str, name: str) -> None:
    async with engine(url) as database, database.begin() as connection:
        await connection.execute(text(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY)"))


def installed_version(binaries: postgres.Binaries) -> str:
    """The server's version as ``initdb --version`` gives it: ``15.18``."""
    output = subprocess.run(
        [binaries.initdb, "--version"], capture_output=True, text=True, check=True
    ).stdout
    found = re.search(r"\(PostgreSQL\) (\d+(?:\.\d+)*)", output)
    assert found, f"unexpected initdb --version: {output!r}"
    return found[1]


async def test_the_database_is_a_real_postgresql_of_the_installed_version(
    postgres_url: str,
) -> None:
    binaries = postgres.find_binaries()
    assert binaries is not None
    version = await scalar(postgres_url, "SELECT version()")
    assert isinstance(version, str)
    assert version.startswith(f"PostgreSQL {installed_version(binaries)} ")
    found = re.fullmatch(r"postgresql\+asyncpg://postgres@127\.0\.0\.1:\d+/(\w+)", postgres_url)
    assert found
    assert await scalar(postgres_url, "SELECT current_database()") == found[1]


@pytest.mark.parametrize("turn", ["one", "another"])
async def test_every_test_gets_an_empty_database_of_its_own(postgres_url: str, turn: str) -> None:
    assert await tables(postgres_url) == []
    # Left behind on purpose: the other turn, run after this one, must not see it.
    await create_table(postgres_url, f"left_by_{turn}")
    assert await tables(postgres_url) == [f"left_by_{turn}"]


async def test_a_table_in_one_database_is_not_in_another_and_both_are_dropped(
    request: pytest.FixtureRequest, postgres_url: str
) -> None:
    with request.config.stash[postgres.POSTGRES].database() as other_url:
        assert other_url != postgres_url
        await create_table(postgres_url, "facts")
        assert await tables(other_url) == []
        assert await tables(postgres_url) == ["facts"]
    name = other_url.rsplit("/", maxsplit=1)[1]
    query = "SELECT count(*) FROM pg_database WHERE datname = :name"
    assert await scalar(postgres_url, query, name=name) == 0


async def test_a_connection_left_open_fails_the_test_and_the_database_is_dropped_anyway(
    request: pytest.FixtureRequest, postgres_url: str
) -> None:
    databases = request.config.stash[postgres.POSTGRES]
    left_open = pytest.raises(postgres.LeftOpenError, match=r"left 1 connection\(s\) open")
    engines: list[AsyncEngine] = []
    try:
        with left_open, databases.database(grace=0) as url:
            engines.append(leaky := create_async_engine(url))  # pooled, never disposed here
            async with leaky.connect() as connection:
                await connection.execute(text("SELECT 1"))
        name = url.rsplit("/", maxsplit=1)[1]
        query = "SELECT count(*) FROM pg_database WHERE datname = :name"
        assert await scalar(postgres_url, query, name=name) == 0
    finally:
        for leaky in engines:
            await leaky.dispose()  # its connection was closed by the server


async def test_database_url_gives_a_new_database_of_each_engine(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> None:
    dialect = request.node.callspec.params["database_url"]
    # The ids are "sqlite" and "postgresql" (pytest-repeat, in make repeat, adds its own).
    assert request.node.callspec.id.split("-")[0] == dialect
    if dialect == "sqlite":
        assert database_url == f"sqlite+aiosqlite:///{tmp_path}/catfact.db"
    assert await tables(database_url) == []
    async with engine(database_url) as database:
        assert database.dialect.name == dialect
        async with database.begin() as connection:
            await connection.execute(text("CREATE TABLE facts (id INTEGER, fact TEXT)"))
            await connection.execute(text("INSERT INTO facts VALUES (1, 'Cats purr at 25 Hz. 🐈')"))
    assert await scalar(database_url, "SELECT fact FROM facts") == "Cats purr at 25 Hz. 🐈"


def test_a_test_that_takes_a_database_keeps_real_time(
    request: pytest.FixtureRequest, database_url: str
) -> None:
    # Under looptime asyncpg's 60 s connect timeout would fire while the server answers.
    assert request.node.get_closest_marker("real_time") is not None


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_the_binaries_come_from_path_or_else_the_newest_installed_version(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    for version in ["9.6", "15", "16"]:
        executable(root / version / "bin" / "initdb")
    for version in ["9.6", "15"]:  # 16 is incomplete: no pg_ctl
        executable(root / version / "bin" / "pg_ctl")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert postgres.find_binaries(str(empty), root) == postgres.Binaries(
        str(root / "15" / "bin" / "initdb"), str(root / "15" / "bin" / "pg_ctl")
    )
    on_path = tmp_path / "bin"
    initdb, pg_ctl = executable(on_path / "initdb"), executable(on_path / "pg_ctl")
    assert postgres.find_binaries(str(on_path), root) == postgres.Binaries(str(initdb), str(pg_ctl))
    assert postgres.find_binaries(str(empty), tmp_path / "nowhere") is None


def test_without_postgresql_the_reason_says_what_is_missing(tmp_path: Path) -> None:
    assert postgres.find_installation(path=str(tmp_path), versions_root=tmp_path) == (
        f"no initdb and pg_ctl on PATH or in {tmp_path}/*/bin"
    )
    as_root = postgres.find_installation(euid=0, user="catfact-no-such-user")
    assert isinstance(as_root, str)
    assert "root" in as_root
    assert "no catfact-no-such-user user" in as_root


def test_as_root_initdb_and_pg_ctl_run_as_the_postgres_user() -> None:
    found = postgres.find_installation(euid=0)
    if isinstance(found, str):
        pytest.skip(f"{postgres.SKIPPED}{found}")
    assert found.run_as[1:] == ("-u", "postgres", "--")
    assert found.owner is not None
    unprivileged = postgres.find_installation(euid=1000)
    assert isinstance(unprivileged, postgres.Installation)
    assert unprivileged.run_as == ()
    assert unprivileged.owner is None


def test_ci_stops_the_run_instead_of_skipping() -> None:
    with pytest.raises(
        pytest.UsageError, match=r"CATFACT_REQUIRE_POSTGRES=1, but PostgreSQL is not"
    ):
        postgres.refuse_to_skip("no initdb", {"CATFACT_REQUIRE_POSTGRES": "1"})
    for quiet in [{}, {"CATFACT_REQUIRE_POSTGRES": ""}, {"CATFACT_REQUIRE_POSTGRES": "0"}]:
        postgres.refuse_to_skip("no initdb", quiet)


def test_xdist_workers_share_the_server_the_controller_started(
    request: pytest.FixtureRequest, postgres_url: str
) -> None:
    started_here = request.config.stash[postgres.POSTGRES].cluster
    workerinput = getattr(request.config, "workerinput", None)
    if workerinput is None:  # a single process starts its own
        assert started_here is not None
        assert postgres_url.startswith(f"{started_here.url}/")
    else:
        assert started_here is None
        assert postgres_url.startswith(f"{workerinput[postgres.WORKERINPUT_KEY]['url']}/")
