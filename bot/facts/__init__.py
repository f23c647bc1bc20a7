"""The fact path: where every cat fact comes from, as one service with one entry point.

The rest of the bot imports from this package only: :func:`client_for` builds the
:class:`CatFactClient` that serves every fact in every language, :class:`Fact` and
:class:`Served` are what it hands out and counts, :data:`PROVIDERS` are the providers (each with
its name and default address) that the settings accept, and :class:`Language` with
:data:`LANGUAGES`, :data:`ENGLISH`, :func:`find_language`, :func:`language_for_locale` and
:func:`by_code` are the languages facts come in and how people and Discord name them. The
modules are how the client keeps its promise (``!catfact`` from memory, never an error) and may
change freely:

- :mod:`~bot.facts.client`: the service: a pool per language, first fills, refreshes, the budget;
- :mod:`~bot.facts.pool`: a collection in memory and each channel's shuffled way through it;
- :mod:`~bot.facts.providers`: meowfacts and catfact.ninja, their requests, answers, languages;
- :mod:`~bot.facts.languages`: meowfacts' languages, their codes, names and Discord locales;
- :mod:`~bot.facts.breaker`: the circuit breaker that leaves a failing provider alone;
- :mod:`~bot.facts.offline`: the facts told when no provider can be reached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp

from bot.facts.client import CatFactClient, Served
from bot.facts.languages import (
    ENGLISH,
    LANGUAGES,
    Language,
    by_code,
    find_language,
    language_for_locale,
)
from bot.facts.pool import Fact
from bot.facts.providers import PROVIDERS

if TYPE_CHECKING:
    from bot.settings import Settings


def client_for(settings: Settings, session: aiohttp.ClientSession) -> CatFactClient:
    """The client ``settings`` describe (providers in failover order, budget, refresh interval),
    on ``session``. Call :meth:`CatFactClient.start` to begin filling it."""
    return CatFactClient(
        session,
        [PROVIDERS[name](url) for name, url in settings.provider_urls()],
        budget=settings.catfact_timeout,
        refresh_interval=settings.catfact_refresh,
    )


__all__ = [
    "ENGLISH",
    "LANGUAGES",
    "PROVIDERS",
    "CatFactClient",
    "Fact",
    "Language",
    "Served",
    "by_code",
    "client_for",
    "find_language",
    "language_for_locale",
]
