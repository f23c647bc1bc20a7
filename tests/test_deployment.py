"""The deployment files agree with each other and with the code."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bot.database import parse_database_url
from bot.facts import PROVIDERS
from bot.settings import Settings
from tests.project import REPO, env_example_variables


def test_procfile_migrates_each_release_then_runs_the_bot_as_a_worker() -> None:
    assert (REPO / "Procfile").read_text().splitlines() == [
        "release: python -m bot migrate",
        "worker: python -m bot",
    ]


def test_app_json_asks_for_the_token_and_starts_one_worker() -> None:
    app = json.loads((REPO / "app.json").read_text())
    token = app["env"]["DISCORD_TOKEN"]
    assert sorted(token) == ["description", "required"]  # no default value: each bot has its own
    assert token["required"] is True
    assert "Bot" in token["description"]
    assert app["formation"] == {"worker": {"quantity": 1, "size": "basic"}}
    assert app["buildpacks"] == [{"url": "heroku/python"}]


def test_app_json_offers_every_setting_with_a_valid_default() -> None:
    app = json.loads((REPO / "app.json").read_text())
    env = app["env"]
    # The Heroku Postgres add-on sets DATABASE_URL itself; a value offered here would clash.
    assert sorted(env) == sorted(set(env_example_variables()) - {"DATABASE_URL"})
    assert [addon["plan"].split(":")[0] for addon in app["addons"]] == ["heroku-postgresql"]
    defaults = {name: spec["value"] for name, spec in env.items() if "value" in spec}
    expected = Settings(log_level="INFO", database=parse_database_url(None))
    assert Settings.from_env(defaults) == expected
    assert all(not spec["required"] for name, spec in env.items() if name != "DISCORD_TOKEN")


def test_the_python_version_is_one_heroku_and_these_tests_share() -> None:
    import sys

    pinned = (REPO / ".python-version").read_text().strip()
    assert pinned == f"{sys.version_info.major}.{sys.version_info.minor}"


TEST_TOOLS = {"dpytest", "pytest", "pytest-asyncio", "iniconfig", "pluggy", "pygments"}


def pinned(path: Path) -> dict[str, str]:
    """``name == version`` lines of a requirements file (names in lower case), without its -r
    includes."""
    pins = {}
    for line in path.read_text().splitlines():
        requirement = line.split("#")[0].strip()
        if requirement and not requirement.startswith("-"):
            name, _, version = requirement.partition("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def test_a_production_install_holds_no_test_tooling() -> None:
    runtime = (REPO / "requirements.txt").read_text()
    assert "\n-r " not in f"\n{runtime}"  # Heroku installs this file and nothing it includes
    assert not TEST_TOOLS & set(pinned(REPO / "requirements.txt"))
    assert set(pinned(REPO / "requirements-console.txt")) >= TEST_TOOLS


def test_every_requirement_is_pinned_to_one_version_once() -> None:
    seen: dict[str, str] = {}
    for path in sorted(REPO.glob("requirements*.txt")):
        for name, version in pinned(path).items():
            assert version, f"{name} in {path.name} has no pinned version"
            assert name not in seen, f"{name} is pinned in both {seen[name]} and {path.name}"
            seen[name] = path.name


def test_the_providers_page_names_every_provider_with_its_default_address() -> None:
    # A provider is one class in bot/facts/providers.py; this is the one page that lists them.
    page = (REPO / "docs" / "facts.md").read_text()
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]+)`", page, flags=re.MULTILINE)
    assert rows == [(name, kind.default_url) for name, kind in PROVIDERS.items()]
