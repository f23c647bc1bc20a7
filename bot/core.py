"""The Discord bot: one ``commands.Bot`` subclass that owns the process's shared resources.

:class:`CatFactBot` creates the single ``aiohttp.ClientSession`` and the :class:`CatFactClient`
in :meth:`~CatFactBot.setup_hook`, migrates the database and starts the servers' settings, loads
every extension found in the ``cogs`` package, and closes all of it after discord.py has shut
down. Cogs reach the client as ``bot.catfacts`` and the settings as ``bot.guild_settings``.
"""

from __future__ import annotations

import asyncio
import datetime
import importlib
import logging
import pkgutil
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import discord
from discord.ext import commands

from bot import __version__
from bot.activity import CommandLog, TimedContext
from bot.daily import DailyService, DiscordPoster, ShardFilter, wall_clock
from bot.database import Database
from bot.error_handler import ErrorHandler
from bot.facts import CatFactClient, Language, client_for
from bot.guild_settings import Defaults, GuildSettings, GuildSettingsService
from bot.help import BotHelp
from bot.settings import Settings
from bot.sharding import IdentifyPacer

log = logging.getLogger(__name__)

SESSION_TIMEOUT = aiohttp.ClientTimeout(total=10, connect=5)
"""A ceiling for any request on the shared session; the cat-fact client sets a tighter one."""

# The one connection pool of the process. The fact pool makes requests rare (a fill at start-up,
# then one refresh an hour) and single-flight makes them sequential, so one connection per host
# is all it needs; the limits only cap what a misbehaving caller could open. DNS answers are
# cached for five minutes.
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


async def prefixes(bot: CatFactBot, message: discord.Message) -> list[str]:
    """The server's prefix, from memory (:meth:`CatFactBot.get_context` has had it read), and a
    mention of the bot, which always works: a server can never lock itself out."""
    prefix = bot.guild_settings.prefix_for(message.guild.id if message.guild else None)
    return commands.when_mentioned_or(prefix)(bot, message)


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
        daily_clock: Callable[[], datetime.datetime] = wall_clock,
        daily_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        **options: Any,
    ) -> None:
        """Build the bot; nothing is connected or created until :meth:`setup_hook`.

        ``catfacts`` replaces the client the bot would build (tests hand in a fake; the caller
        then owns it). ``extensions`` replaces discovery of the ``cogs`` package. ``intents``
        replaces :func:`make_intents` (the simulated guild needs the member cache).
        ``daily_clock`` and ``daily_sleep`` are the daily posts' wall clock and sleep (tests
        move the one and stand in for the other: see :class:`~bot.daily.DailyService`). Other
        ``options`` go to discord.py (:class:`ShardedCatFactBot` passes the shard settings).
        """
        super().__init__(
            command_prefix=prefixes,
            intents=intents or make_intents(),
            # Nothing the bot sends may ping anyone: it echoes user input and third-party text.
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=BotHelp(),
            case_insensitive=True,
            description="Cat facts and exact arithmetic.",
            **options,
        )
        self.settings = settings
        self.started_at = time.monotonic()
        """When the bot started, on the monotonic clock: set again in :meth:`setup_hook` from the
        event loop's clock, which is the same clock in production and a fast-forwarded one in
        tests (``!about`` shows the uptime)."""
        self._catfacts = catfacts
        self._session: aiohttp.ClientSession | None = None
        self._extensions = list(extensions) if extensions is not None else None
        self.failed_extensions: dict[str, BaseException] = {}
        self.database = Database(settings.database) if settings.database is not None else None
        self.guild_settings = GuildSettingsService(
            self.database,
            Defaults(prefix=settings.command_prefix, cooldown=settings.catfact_cooldown),
        )
        """Every server's settings, from memory; see :mod:`bot.guild_settings`."""
        plan = settings.shards
        self.daily = DailyService(
            self.database,
            DiscordPoster(self),
            # Not self.catfacts.collection: the client exists from setup_hook on.
            lambda language: self.catfacts.collection(language),  # noqa: PLW0108
            self._language_of,
            shards=ShardFilter(plan.count, plan.ids),
            grace=datetime.timedelta(hours=settings.daily_grace),
            clock=daily_clock,
            sleep=daily_sleep,
        )
        """The daily posts of the servers on this process's shards; see :mod:`bot.daily`."""

    def settings_for(self, guild: discord.Guild | None) -> GuildSettings:
        """The settings in force in ``guild`` (None: a DM), from memory."""
        if guild is None:
            return self.guild_settings.settings_for(None)
        return self.guild_settings.settings_for(guild.id, str(guild.preferred_locale))

    async def _language_of(self, guild_id: int) -> Language:
        """The language of a server's facts, its settings read first if they are not yet."""
        await self.guild_settings.ensure(guild_id)
        guild = self.get_guild(guild_id)
        locale = str(guild.preferred_locale) if guild is not None else None
        return self.guild_settings.settings_for(guild_id, locale).language

    @property
    def commands_answered(self) -> int:
        """Commands that ran to an end (replied to, or answered with an error) since start."""
        command_log = self.get_cog("CommandLog")
        return command_log.answered if isinstance(command_log, CommandLog) else 0

    @property
    def catfacts(self) -> CatFactClient:
        """The shared cat-fact client; available once :meth:`setup_hook` has run."""
        if self._catfacts is None:
            raise RuntimeError("the cat-fact client is created in setup_hook; it has not run yet")
        return self._catfacts

    async def setup_hook(self) -> None:
        """Create the shared session and client, then load the error handler and extensions."""
        self.started_at = asyncio.get_running_loop().time()
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
            self._catfacts = client_for(self.settings, self._session)
            self._catfacts.start()  # the first fill, then hourly refreshes, in the background
        await self.guild_settings.start()  # migrations; retried in the background if it is down
        self.daily.start(ready=self.wait_until_ready)  # posts once connected
        await self.add_cog(ErrorHandler(self))
        await self.add_cog(CommandLog(self))
        names = self._extensions if self._extensions is not None else discover_extensions()
        for name in names:
            try:
                await self.load_extension(name)
            except Exception as exc:  # one broken cog must not take the others down
                self.failed_extensions[name] = exc
                log.exception("extension %s failed to load; the others keep working", name)
            else:
                log.info("loaded extension %s", name)

    async def get_context(  # type: ignore[override]
        self,
        origin: discord.Message | discord.Interaction[Any],
        /,
        *,
        cls: type[commands.Context[Any]] = TimedContext,
    ) -> commands.Context[Any]:
        """Every command's context is a :class:`~bot.activity.TimedContext`, for the log, and its
        server's settings are in memory once it exists (a slash command reads no prefix)."""
        if origin.guild is not None:
            await self.guild_settings.ensure(origin.guild.id)
        return await super().get_context(origin, cls=cls)

    async def on_guild_available(self, guild: discord.Guild) -> None:
        """A server this process serves: read its settings before its first command."""
        self.guild_settings.prefetch((guild.id,))

    async def on_guild_join(self, guild: discord.Guild) -> None:
        self.guild_settings.prefetch((guild.id,))

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """Removed from a server: its settings leave memory; the database keeps them."""
        self.guild_settings.forget(guild.id)

    async def close(self) -> None:
        """Stop the daily posts (those in flight may finish), shut discord.py down (it may still
        use the session), then the client we built
        (stopping its background refreshes) and the session, which is closed even if stopping
        the client fails, then the settings and the database."""
        try:
            try:
                await self.daily.aclose()  # the posts in flight may finish first
            finally:
                await super().close()
        finally:
            try:
                if self._session is not None and not self._session.closed:
                    try:
                        await self.catfacts.aclose()
                    finally:
                        await self._session.close()
            finally:
                try:
                    await self.guild_settings.aclose()
                finally:
                    if self.database is not None:
                        await self.database.close()


class ShardedCatFactBot(CatFactBot, commands.AutoShardedBot):
    """The same bot on discord.py's ``AutoShardedBot``, running the shards in ``settings.shards``.

    Every process of a bot split over several processes computes the same IDENTIFY timetable
    from the shard ids (:class:`~bot.sharding.IdentifyPacer`), so processes started together
    keep to Discord's identify rate without talking to each other.
    """

    def __init__(self, settings: Settings, **options: Any) -> None:
        plan = settings.shards
        if plan.count is None:
            raise ValueError("a sharded bot needs SHARD_COUNT")
        if plan.ids is not None:
            options["shard_ids"] = list(plan.ids)
        super().__init__(settings, shard_count=plan.count, **options)
        self.pacer = IdentifyPacer(time.monotonic())

    async def start(self, token: str, *, reconnect: bool = True) -> None:
        """Log in, wait for this process's first identify slot, then connect the shards."""
        await self.login(token)
        waited = await self.pacer.before_connect(self.settings.shards.first_shard)
        if waited:
            log.info("waited %.1f s for this process's first identify slot", waited)
        await self.connect(reconnect=reconnect)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Keep to the shared identify timetable instead of discord.py's fixed 5 s pause."""
        waited = await self.pacer.before_identify(shard_id)
        log.debug("shard %s identifies after waiting %.1f s", shard_id, waited)


def make_bot(settings: Settings, **options: Any) -> CatFactBot:
    """The bot for ``settings``: sharded if ``SHARD_COUNT`` is set, a plain one otherwise."""
    if settings.shards.sharded:
        return ShardedCatFactBot(settings, **options)
    return CatFactBot(settings, **options)
