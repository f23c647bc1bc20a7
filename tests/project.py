"""Facts about the repository that tests check the code against: where it is, the variables
``.env.example`` documents, and a token-shaped string that is no one's."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def env_example_variables() -> list[str]:
    """The variables ``.env.example`` documents, in its order (a name given twice shows twice)."""
    return re.findall(r"^([A-Z_]+)=", (REPO / ".env.example").read_text(), flags=re.MULTILINE)


SETTINGS_VARIABLES = set(env_example_variables())
"""The bot's environment variables, as documented. Tests that run ``main`` or ``python -m bot``
remove them, so a developer's own settings never leak into a test."""

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"
"""Shaped like a bot token, and no one's."""
