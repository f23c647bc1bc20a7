"""The Discord bot: one ``commands.Bot`` subclass that owns the process's shared resources.

:class:`CatFactBot` creates the single ``aiohttp.ClientSession`` and the :class:`CatFactClient`
in :meth:`~CatFactBot.setup_hook`, loads every extension found in the ``cogs`` package, and closes
the session after discord.py has shut down. Cogs reach the client as ``bot.catfacts``.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Sequence

import aiohttp
import discord
from discord.ext import commands

from bot import __version__
from bot.catfact import CatFactClient
from bot.error_handler import ErrorHandler
from bot.help import BotHelp
from bot.providers import PROVIDERS
from bot.settings import Settings

log = logging.getLogger(__name__)

SESSION_TIMEOUT = aiohttp.ClientTimeout(total=10, connect=5)
"""A ceiling for any request on the shared session; the cat-fact client sets a tighter one."""

# The one connection pool of the process. The fact buffer makes requests rare and single-flight
# makes them sequential, so one kept-alive connection per host serves every command; the limits
# only cap what a misbehaving caller could open. DNS answers are cached for five minutes.
CONNECTION_LIMIT = 20
CONNECTIONS_PER_HOST = 4
DNS_CACHE_SECONDS = 300
KEEPALIVE_SECONDS = 60.0

USER_AGENT = f"catfact-bot/{__version__} (+aiohttp {aiohttp.__version__})"


def discover_extensions(package: str = "cogs") -> list[str]:
    """Every public module of ``package``, as dotted names, sorted.

    A new feature is a new file in ``cogs/``; nobody has to remember to register it. Modules whose
    name starts with ``_`` are private helpers and are skipped.
    """
    module = importlib.import_module(package)
    return sorted(
        f"{package}.{info.name}"
        for info in pkgutil.iter_modules(module.__path__)
        if not info.name.startswith("_")
    )


def make_intents() -> discord.Intents:
    """The default intents plus message content, which prefix commands need to see commands."""
    intents = discord.Intents.default()
    intents.message_content = True
    return intents


# Typing note for cogs: mypy cannot infer discord.py's union-typed callback for hybrid commands
# defined as methods (pyright can), so each `@commands.hybrid_command` in a cog carries a narrow
# `# type: ignore[arg-type]`. mypy still checks the method bodies in full.

# The bot has no voice features; don't warn at every start that voice libraries are missing.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False


class CatFactBot(commands.Bot):
    """The cat-fact and arithmetic bot."""

    def __init__(
        self,
        settings: Settings,
        *,
        catfacts: CatFactClient | None = None,
        extensions: Sequence[str] | None = None,
        intents: discord.Intents | None = None,
    ) -> None:
        """Build the bot; nothing is connected or created until :meth:`setup_hook`.

        ``catfacts`` replaces the client the bot would build (tests hand in a fake; the caller
        then owns it). ``extensions`` replaces discovery of the ``cogs`` package. ``intents``
        replaces :func:`make_intents` (the simulated guild needs the member cache).
        """
        super().__init__(
            command_prefix=commands.when_mentioned_or(settings.command_prefix),
            intents=intents or make_intents(),
            # Nothing the bot sends may ping anyone: it echoes user input and third-party text.
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=BotHelp(),
            case_insensitive=True,
            description="Cat facts and exact arithmetic.",
        )
        self.settings = settings
        self._catfacts = catfacts
        self._session: aiohttp.ClientSession | None = None
        self._extensions = list(extensions) if extensions is not None else None
        self.failed_extensions: dict[str, BaseException] = {}

    @property
    def catfacts(self) -> CatFactClient:
        """The shared cat-fact client; available once :meth:`setup_hook` has run."""
        if self._catfacts is None:
            raise RuntimeError("the cat-fact client is created in setup_hook; it has not run yet")
        return self._catfacts

    async def setup_hook(self) -> None:
        """Create the shared session and client, then load the error handler and extensions."""
        if self._catfacts is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=CONNECTION_LIMIT,
                    limit_per_host=CONNECTIONS_PER_HOST,
                    ttl_dns_cache=DNS_CACHE_SECONDS,
                    keepalive_timeout=KEEPALIVE_SECONDS,
                ),
                timeout=SESSION_TIMEOUT,
                headers={"User-Agent": USER_AGENT},
            )
            self._catfacts = CatFactClient(
                self._session,
                [PROVIDERS[name](url) for name, url in self.settings.provider_urls()],
                budget=self.settings.catfact_timeout,
                batch_size=self.settings.catfact_batch_size,
            )
            self._catfacts.prefetch()  # the first !catfact should not wait either
        await self.add_cog(ErrorHandler(self))
        names = self._extensions if self._extensions is not None else discover_extensions()
        for name in names:
            try:
                await self.load_extension(name)
            except Exception as exc:  # one broken cog must not take the others down
                self.failed_extensions[name] = exc
                log.exception("extension %s failed to load; the others keep working", name)
            else:
                log.info("loaded extension %s", name)

    async def close(self) -> None:
        """Shut discord.py down first (it may still use the session), then the client we built
        (stopping its background refill) and the session."""
        try:
            await super().close()
        finally:
            if self._session is not None and not self._session.closed:
                await self.catfacts.aclose()
                await self._session.close()
