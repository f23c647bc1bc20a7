"""Each server's own settings: prefix, language and cooldown, kept in the database.

The rest of the bot imports from this package only. :class:`GuildSettingsService` serves every
server's settings from memory and writes changes to the database; :func:`parse` turns what an
admin typed into a checked value (or an :class:`InvalidSetting` whose message is the reply).

- :mod:`~bot.guild_settings.rules`: what each setting may be, and the reply for each mistake;
- :mod:`~bot.guild_settings.service`: the settings in memory, loading, saving, outages.
"""

from __future__ import annotations

from bot.guild_settings.rules import NAMES, InvalidSetting, check_name, parse
from bot.guild_settings.service import (
    Defaults,
    GuildSettings,
    GuildSettingsService,
    NotSavedError,
    Stored,
)

__all__ = [
    "NAMES",
    "Defaults",
    "GuildSettings",
    "GuildSettingsService",
    "InvalidSetting",
    "NotSavedError",
    "Stored",
    "check_name",
    "parse",
]
