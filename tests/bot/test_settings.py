"""Settings from the environment: defaults, and one clear line for each bad value."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bot.database import parse_database_url
from bot.settings import (
    DEFAULT_CATFACT_API_URL,
    Settings,
    SettingsError,
    deployment_warnings,
    retired_settings,
    token_problem,
)
from bot.text import TOKEN_SHAPE
from tests.project import SETTINGS_VARIABLES, TOKEN, env_example_variables


def read(**values: Any) -> Settings:
    """What ``Settings.from_env`` gives for these values: from the environment there is always a
    database (the default SQLite file unless DATABASE_URL says otherwise)."""
    return Settings(**{"database": parse_database_url(None), **values})


def test_defaults_need_no_environment_at_all() -> None:
    settings = Settings.from_env({})
    assert settings.discord_token is None
    assert settings.command_prefix == "!"
    assert settings.catfact_api_url == DEFAULT_CATFACT_API_URL
    assert settings.catfact_timeout == 3.0
    assert settings.catfact_cooldown == 3.0
    assert settings.catfact_refresh == 3600.0
    assert settings.provider_urls() == [
        ("meowfacts", "https://meowfacts.herokuapp.com/"),
        ("catfact.ninja", "https://catfact.ninja/"),
    ]
    assert settings.log_level is None


def test_a_retired_variable_is_ignored_and_named_once_for_the_log() -> None:
    environ = {"CATFACT_BATCH_SIZE": "50"}
    assert Settings.from_env(environ) == read()
    [line] = retired_settings(environ)
    assert line.startswith("CATFACT_BATCH_SIZE is set, but it no longer has any effect: ")
    assert retired_settings({"CATFACT_BATCH_SIZE": " "}) == []
    assert "CATFACT_BATCH_SIZE" not in SETTINGS_VARIABLES  # no longer documented


def test_every_variable_read_is_documented_in_env_example() -> None:
    read: list[str] = []

    class Recorder(dict[str, str]):
        def get(self, key: str, default: Any = None) -> Any:
            read.append(key)
            return default

    Settings.from_env(Recorder())
    assert sorted(read) == sorted(env_example_variables())


def test_blank_values_mean_default() -> None:
    env = {"DISCORD_TOKEN": "", "CATFACT_API_URL": "", "LOG_LEVEL": "", "SHARD_COUNT": " "}
    assert Settings.from_env(env) == read()


@pytest.mark.parametrize("blank", ["", "  "])
def test_a_blank_prefix_is_refused_not_silently_replaced(blank: str) -> None:
    # The operator who empties it may mean "no prefix": a bot answering every message.
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"COMMAND_PREFIX": blank})
    assert str(caught.value) == (
        "COMMAND_PREFIX is empty: set it to 1 to 5 characters such as !, or delete the line for "
        "the default !"
    )


def test_every_bad_setting_is_reported_at_once_one_line_each_in_the_order_documented() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(
            {
                "DISCORD_TOKEN": "abc.def.ghi",
                "COMMAND_PREFIX": "",
                "CATFACT_TIMEOUT": "soon",
                "LOG_LEVEL": "LOUD",
                "SHARD_IDS": "0-3",
            }
        )
    variables = [line.split()[0] for line in caught.value.problems]
    assert variables == [
        "DISCORD_TOKEN",
        "COMMAND_PREFIX",
        "CATFACT_TIMEOUT",
        "LOG_LEVEL",
        "SHARD_IDS",
    ]
    assert str(caught.value) == "\n".join(caught.value.problems)


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        (
            "abc.def.ghi",
            "looks cut short: its first part has 3 characters, but a bot token's has at least 20",
        ),
        (TOKEN[:24], "has no dots, so it is not a bot token"),
        ("a" * 24 + ".b" * 3, "has 4 dot-separated parts, but a bot token has 3"),
        (TOKEN.replace("G", "+", 1), "contains characters a bot token never has"),
        (TOKEN[:-25], "looks cut short: its third part has 13 characters"),
        (f'"{TOKEN}"', "is wrapped in quotes: set it without them"),
        (f'"{TOKEN}', "is wrapped in quotes: set it without them"),  # a quote lost at one end
        (f"{TOKEN}'", "is wrapped in quotes: set it without them"),
        (f"{TOKEN[:20]} {TOKEN[20:]}", "contains a space or a line break"),
        (f"Bot {TOKEN}", "must be the bare token, without the 'Bot ' prefix"),
    ],
)
def test_a_bad_token_is_diagnosed_by_what_is_actually_wrong(token: str, problem: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"DISCORD_TOKEN": token})
    [line] = caught.value.problems
    assert line.startswith(f"DISCORD_TOKEN {problem}")
    assert token not in line


def test_every_variable_is_read() -> None:
    settings = Settings.from_env(
        {
            "DISCORD_TOKEN": f"  {TOKEN}\n",
            "COMMAND_PREFIX": "?",
            "CATFACT_API_URL": "http://127.0.0.1:8080/facts",
            "CATFACT_TIMEOUT": "2.5",
            "CATFACT_PROVIDERS": " catfact.ninja = http://127.0.0.1:9/ , meowfacts ",
            "CATFACT_REFRESH": "600",
            "CATFACT_COOLDOWN": "0",
            "LOG_LEVEL": "debug",
        }
    )
    assert settings == read(
        discord_token=TOKEN,
        command_prefix="?",
        catfact_api_url="http://127.0.0.1:8080/facts",
        catfact_timeout=2.5,
        catfact_providers=(("catfact.ninja", "http://127.0.0.1:9/"), ("meowfacts", None)),
        catfact_refresh=600,
        catfact_cooldown=0,
        log_level="DEBUG",
    )
    assert settings.provider_urls() == [
        ("catfact.ninja", "http://127.0.0.1:9/"),
        ("meowfacts", "http://127.0.0.1:8080/facts"),
    ]


@pytest.mark.parametrize("value", ["none", "NONE", " None "])
def test_no_providers_means_offline_facts_only(value: str) -> None:
    settings = Settings.from_env({"CATFACT_PROVIDERS": value})
    assert settings.provider_urls() == []


def test_the_token_never_shows_in_repr() -> None:
    assert TOKEN not in repr(Settings(discord_token=TOKEN))


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DISCORD_TOKEN", f"Bot {TOKEN}", "without the 'Bot ' prefix"),
        ("DISCORD_TOKEN", "not-a-token", "has no dots, so it is not a bot token"),
        ("DISCORD_TOKEN", f'"{TOKEN}"', "is wrapped in quotes"),
        ("COMMAND_PREFIX", "!!!!!!", "COMMAND_PREFIX must be 1 to 5 characters"),
        ("COMMAND_PREFIX", "a b", "without spaces"),
        ("CATFACT_API_URL", "meowfacts.herokuapp.com", "must be an http(s) URL"),
        ("CATFACT_API_URL", "ftp://example.org/", "must be an http(s) URL"),
        ("CATFACT_API_URL", "http://", "must be an http(s) URL"),
        ("CATFACT_API_URL", "http://[::1", "must be an http(s) URL"),
        ("CATFACT_TIMEOUT", "soon", "CATFACT_TIMEOUT must be a number of seconds from 0.1 to 30"),
        ("CATFACT_TIMEOUT", "0", "from 0.1 to 30"),
        ("CATFACT_TIMEOUT", "31", "from 0.1 to 30"),
        ("CATFACT_TIMEOUT", "nan", "from 0.1 to 30"),
        ("CATFACT_COOLDOWN", "-1", "CATFACT_COOLDOWN must be a number of seconds from 0 to 3600"),
        ("CATFACT_COOLDOWN", "1e9", "from 0 to 3600"),
        ("DAILY_GRACE", "24", "DAILY_GRACE must be a number of hours from 0 to 23, got '24'"),
        ("DAILY_GRACE", "-1", "from 0 to 23"),
        ("DAILY_GRACE", "six", "from 0 to 23, got 'six'"),
        ("DAILY_GRACE", "nan", "from 0 to 23"),
        ("CATFACT_REFRESH", "59", "CATFACT_REFRESH must be a number of seconds from 60 to 86400"),
        ("CATFACT_REFRESH", "86401", "from 60 to 86400"),
        ("CATFACT_REFRESH", "hourly", "from 60 to 86400"),
        ("CATFACT_REFRESH", "1" * 5000, "from 60 to 86400"),  # float() copes; it is just too big
        ("COMMAND_PREFIX", "!" * 5000, "COMMAND_PREFIX must be 1 to 5 characters"),
        ("CATFACT_PROVIDERS", "meowfacts,dogfacts", "unknown provider 'dogfacts'"),
        ("CATFACT_PROVIDERS", "meowfacts,", "unknown provider ''"),
        ("CATFACT_PROVIDERS", "meowfacts,meowfacts=http://x/", "names meowfacts twice"),
        ("CATFACT_PROVIDERS", "catfact.ninja=ftp://x/", "(catfact.ninja) must be an http(s) URL"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    ],
)
def test_invalid_values_are_rejected_with_one_line_naming_the_variable(
    name: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)) as caught:
        Settings.from_env({name: value})
    text = str(caught.value)
    assert name in text
    assert "\n" not in text
    assert len(text) < 300  # a huge value is not echoed in full


def test_a_bad_token_is_not_echoed_back() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"DISCORD_TOKEN": "secret-ish-value"})
    assert "secret-ish-value" not in str(caught.value)


def test_missing_token_explains_where_to_put_it() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings().require_token()
    text = str(caught.value)
    assert "DISCORD_TOKEN" in text
    assert ".env.example" in text
    assert "--console" in text


def test_require_token_returns_the_token() -> None:
    assert Settings(discord_token=TOKEN).require_token() == TOKEN


@pytest.mark.parametrize(
    ("level", "console", "expected"),
    [
        (None, False, logging.INFO),
        (None, True, logging.ERROR),
        ("DEBUG", True, logging.DEBUG),
        ("ERROR", False, logging.ERROR),
    ],
)
def test_log_level_defaults_depend_on_the_mode(
    level: str | None, console: bool, expected: int
) -> None:
    assert Settings(log_level=level).log_level_number_for(console=console) == expected


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("COMMAND_PREFIX", "!!!!!", read(command_prefix="!!!!!")),
        ("CATFACT_TIMEOUT", "0.1", read(catfact_timeout=0.1)),
        ("CATFACT_TIMEOUT", "30", read(catfact_timeout=30)),
        ("CATFACT_COOLDOWN", "0", read(catfact_cooldown=0)),
        ("CATFACT_COOLDOWN", "3600", read(catfact_cooldown=3600)),
        ("DAILY_GRACE", "0", read(daily_grace=0)),
        ("DAILY_GRACE", "23", read(daily_grace=23)),
        ("DAILY_GRACE", "1.5", read(daily_grace=1.5)),
        ("CATFACT_REFRESH", "60", read(catfact_refresh=60)),
        ("CATFACT_REFRESH", "86400", read(catfact_refresh=86400)),
        ("CATFACT_REFRESH", "0600", read(catfact_refresh=600)),  # leading zeros are fine
    ],
)
def test_the_documented_limits_themselves_are_accepted(
    name: str, value: str, expected: Settings
) -> None:
    assert Settings.from_env({name: value}) == expected


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "DISCORD_TOKEN",
            f"bot {TOKEN}",
            "DISCORD_TOKEN must be the bare token, without the 'Bot ' prefix",
        ),
        (
            "DISCORD_TOKEN",
            "not-a-token",
            "DISCORD_TOKEN has no dots, so it is not a bot token (the application's client secret "
            "or public key, perhaps, which look similar): copy it again from the Bot page of your "
            "application in the Discord Developer Portal",
        ),
        (
            "CATFACT_API_URL",
            "meowfacts.herokuapp.com",
            "CATFACT_API_URL must be an http(s) URL, got 'meowfacts.herokuapp.com'",
        ),
        (
            "CATFACT_PROVIDERS",
            "dogfacts",
            "CATFACT_PROVIDERS: unknown provider 'dogfacts'; use a comma-separated list of "
            "meowfacts, catfact.ninja (each optionally =URL), or none",
        ),
    ],
)
def test_an_invalid_value_gets_the_whole_sentence_the_operator_acts_on(
    name: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({name: value})
    assert str(caught.value) == message


def test_missing_token_message_reads_as_one_sentence() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings().require_token()
    assert str(caught.value) == (
        "DISCORD_TOKEN is not set: copy .env.example to .env and paste your bot token there "
        "(or try the bot offline with: python -m bot --console)"
    )


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("x" * 80, repr("x" * 80)),  # up to 80 characters: the whole value, to spot the typo
        ("x" * 81, repr("x" * 80) + "..."),
    ],
)
def test_a_bad_url_is_repeated_up_to_eighty_characters(url: str, shown: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"CATFACT_API_URL": url})
    assert str(caught.value) == f"CATFACT_API_URL must be an http(s) URL, got {shown}"


@pytest.mark.parametrize(
    "token",
    [
        "A" * 20 + ".BCDE." + "F" * 20,  # every part at its shortest
        "X" + TOKEN[1:-1] + "X",  # letters a quote check must not mistake for quotes
        TOKEN.replace("G", "-").replace("a", "_"),
    ],
)
def test_a_token_of_the_right_shape_is_accepted(token: str) -> None:
    assert Settings.from_env({"DISCORD_TOKEN": token}).discord_token == token


@given(
    st.lists(
        st.text(alphabet="abcXYZ019_-", min_size=0, max_size=30),
        min_size=1,
        max_size=4,
    ).map(".".join)
)
def test_the_token_check_and_the_token_shape_the_logs_mask_agree(token: str) -> None:
    # Two descriptions of one shape: bot.text.TOKEN_SHAPE (masking) and token_problem (settings).
    assume(token)
    assert (token_problem(token) is None) == bool(TOKEN_SHAPE.fullmatch(token))


@pytest.mark.parametrize("prefix", ["@", "`!", "\\"])
def test_command_prefix_keeps_to_the_rules_of_a_servers_own_prefix(prefix: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"COMMAND_PREFIX": prefix})
    [line] = caught.value.problems
    assert line.startswith(f"COMMAND_PREFIX {prefix!r} is refused: A prefix can't contain ")


def test_sqlite_on_a_heroku_dyno_is_warned_about_and_postgresql_is_not() -> None:
    on_sqlite = Settings.from_env({})
    [line] = deployment_warnings({"DYNO": "worker.1"}, on_sqlite)
    assert line.startswith("DATABASE_URL is a SQLite file on a Heroku dyno, whose disk is wiped")
    assert "heroku addons:create heroku-postgresql" in line
    assert deployment_warnings({}, on_sqlite) == []  # not on Heroku: a file is fine
    on_postgres = Settings.from_env({"DATABASE_URL": "postgres://u:p@db.example/d"})
    assert deployment_warnings({"DYNO": "worker.1"}, on_postgres) == []
