"""The comparison: a fact client as many bots write it: a new session per command, nothing kept."""

from __future__ import annotations

from collections.abc import Hashable

import aiohttp
import yarl

from bot.facts import Fact


class NaiveCatFactClient:
    """Fetches one fact per call with a brand-new ``ClientSession`` (new connection every time).

    It has the same ``get_fact`` signature as :class:`bot.facts.CatFactClient`, so the real cog
    uses it unchanged.
    """

    def __init__(self, url: str) -> None:
        self.url = yarl.URL(url).update_query(count=1)

    async def get_fact(self, channel: Hashable | None = None, language: str = "eng-us") -> Fact:
        async with aiohttp.ClientSession() as session, session.get(self.url) as response:
            payload = await response.json()
        return Fact(payload["data"][0], "meowfacts")

    async def aclose(self) -> None:
        """Nothing to close: every session is closed after its one request."""
