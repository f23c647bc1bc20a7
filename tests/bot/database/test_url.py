"""DATABASE_URL as operators write it, and what SQLAlchemy is given."""

from __future__ import annotations

import pytest

from bot.database import DEFAULT_DATABASE_URL, parse_database_url


def test_the_default_is_a_sqlite_file_under_the_working_directory() -> None:
    database = parse_database_url(None)
    assert DEFAULT_DATABASE_URL == "sqlite:///data/catfact.db"
    assert database.url.drivername == "sqlite+aiosqlite"
    assert database.sqlite_path == "data/catfact.db"
    assert database.is_sqlite
    assert database.connect_args == {}


def test_an_absolute_sqlite_path_keeps_its_four_slashes() -> None:
    database = parse_database_url("sqlite:////var/lib/catfact/bot.db")
    assert database.sqlite_path == "/var/lib/catfact/bot.db"
    assert database.describe() == "sqlite+aiosqlite:////var/lib/catfact/bot.db"


def test_heroku_postgres_url_is_accepted_as_heroku_gives_it_and_asks_for_tls() -> None:
    database = parse_database_url("postgres://u1:s3cret@ec2-1-2-3-4.compute.amazonaws.com:5432/d9")
    assert database.url.drivername == "postgresql+asyncpg"
    assert database.url.host == "ec2-1-2-3-4.compute.amazonaws.com"
    assert database.url.database == "d9"
    assert database.connect_args == {"ssl": "require"}
    assert not database.is_sqlite
    assert database.sqlite_path is None
    assert "s3cret" not in database.describe()


def test_a_plain_postgresql_url_leaves_tls_to_the_driver() -> None:
    database = parse_database_url("postgresql://bot@127.0.0.1:5432/catfact")
    assert database.url.drivername == "postgresql+asyncpg"
    assert database.connect_args == {}


@pytest.mark.parametrize("mode", ["require", "disable", "verify-full"])
def test_libpq_sslmode_becomes_asyncpg_ssl_and_leaves_the_query(mode: str) -> None:
    database = parse_database_url(f"postgresql://bot@db.example/catfact?sslmode={mode}")
    assert database.connect_args == {"ssl": mode}
    assert dict(database.url.query) == {}


def test_an_explicit_sslmode_wins_over_herokus_default() -> None:
    database = parse_database_url("postgres://bot@localhost/catfact?sslmode=disable")
    assert database.connect_args == {"ssl": "disable"}


def test_a_url_with_its_driver_already_named_is_kept() -> None:
    database = parse_database_url("postgresql+asyncpg://bot@db/catfact")
    assert database.url.drivername == "postgresql+asyncpg"
    assert parse_database_url("sqlite+aiosqlite:///x.db").sqlite_path == "x.db"


def test_libpq_timeout_and_application_name_become_asyncpgs_arguments() -> None:
    database = parse_database_url(
        "postgresql://bot@db/catfact?connect_timeout=10&application_name=catfact-bot"
    )
    assert database.connect_args == {
        "timeout": 10.0,
        "server_settings": {"application_name": "catfact-bot"},
    }
    assert dict(database.url.query) == {}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root:hunter2@db/x", "DATABASE_URL must be a sqlite:///"),
        ("not a url", "DATABASE_URL must be a sqlite:///"),
        ("postgresql:///catfact", "DATABASE_URL names no host"),
        ("sqlite://", "DATABASE_URL names no SQLite file"),
        ("postgresql://bot@db/x?password=hunter2", "DATABASE_URL: the option 'password' is not"),
        ("postgresql://bot@db/x?ssl=true", "DATABASE_URL: the option 'ssl' is not one the bot"),
        ("postgresql://bot@db/x?connect_timeout=0", "DATABASE_URL: connect_timeout must be whole"),
        ("postgresql://bot@db/x?connect_timeout=ten", "DATABASE_URL: connect_timeout must be"),
        (
            "postgres://bot@db/x?sslmode=always",
            "DATABASE_URL: sslmode must be one of disable, allow, prefer",
        ),
    ],
)
def test_a_bad_url_is_refused_with_the_fix(url: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("+", r"\+")) as caught:
        parse_database_url(url)
    assert "hunter2" not in str(caught.value)


def test_surrounding_blanks_are_ignored() -> None:
    assert parse_database_url("  sqlite:///a.db\n").sqlite_path == "a.db"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mysql://root:hunter2@db/x", "'mysql://root:***@db/x'"),
        ("root:hunter2@db/x", "'db/x'"),  # not even a URL: all before the last @ is left out
        ("nonsense", "'nonsense'"),
    ],
)
def test_a_refused_url_is_shown_without_its_password(url: str, shown: str) -> None:
    with pytest.raises(ValueError, match=r"^DATABASE_URL must be") as caught:
        parse_database_url(url)
    assert str(caught.value).endswith(f", got {shown}")


@pytest.mark.parametrize(("seconds", "taken"), [("1", 1.0), ("300", 300.0)])
def test_connect_timeout_takes_one_second_to_five_minutes(seconds: str, taken: float) -> None:
    database = parse_database_url(f"postgresql://bot@db/x?connect_timeout={seconds}")
    assert database.connect_args == {"timeout": taken}


def test_connect_timeout_past_five_minutes_is_refused() -> None:
    with pytest.raises(ValueError, match="connect_timeout must be whole seconds from 1 to 300"):
        parse_database_url("postgresql://bot@db/x?connect_timeout=301")


def test_an_option_given_twice_counts_the_last_time() -> None:
    database = parse_database_url("postgresql://bot@db/x?sslmode=disable&sslmode=require")
    assert database.connect_args == {"ssl": "require"}


def test_an_unknown_option_is_named_with_the_ones_the_bot_reads() -> None:
    with pytest.raises(ValueError, match="option") as caught:
        parse_database_url("postgresql://bot@db/x?options=-c%20x")
    assert str(caught.value) == (
        "DATABASE_URL: the option 'options' is not one the bot reads; it reads sslmode, "
        "connect_timeout, application_name"
    )


def test_sqlite_without_a_file_says_how_to_write_one() -> None:
    with pytest.raises(ValueError, match="SQLite") as caught:
        parse_database_url("sqlite:///")
    assert str(caught.value) == (
        "DATABASE_URL names no SQLite file: write sqlite:///data/catfact.db (three slashes and "
        "a relative path, or four for an absolute one)"
    )


def test_a_long_refused_url_is_cut_in_the_message() -> None:
    with pytest.raises(ValueError, match="must be") as caught:
        parse_database_url("mysql://" + "h" * 100)
    assert str(caught.value).endswith(", got 'mysql://" + "h" * 52 + "'...")
