"""The deployment files agree with each other and with the code."""

from __future__ import annotations

import json

from bot.settings import Settings
from tests.fakes import REPO, env_example_variables


def test_procfile_runs_the_bot_as_a_worker() -> None:
    assert (REPO / "Procfile").read_text().strip() == "worker: python -m bot"


def test_app_json_asks_for_the_token_and_starts_one_worker() -> None:
    app = json.loads((REPO / "app.json").read_text())
    assert app["env"]["DISCORD_TOKEN"] == {
        "description": app["env"]["DISCORD_TOKEN"]["description"],
        "required": True,
    }
    assert app["formation"] == {"worker": {"quantity": 1, "size": "basic"}}
    assert app["buildpacks"] == [{"url": "heroku/python"}]


def test_app_json_offers_every_setting_with_a_valid_default() -> None:
    env = json.loads((REPO / "app.json").read_text())["env"]
    assert sorted(env) == sorted(env_example_variables())
    defaults = {name: spec["value"] for name, spec in env.items() if "value" in spec}
    assert Settings.from_env(defaults) == Settings(log_level="INFO")
    assert all(not spec["required"] for name, spec in env.items() if name != "DISCORD_TOKEN")


def test_the_python_version_is_one_heroku_and_these_tests_share() -> None:
    import sys

    pinned = (REPO / ".python-version").read_text().strip()
    assert pinned == f"{sys.version_info.major}.{sys.version_info.minor}"
