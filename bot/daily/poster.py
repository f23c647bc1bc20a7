"""Discord's side of a daily post: the embed, the send with its nonce, and the look-back.

:class:`DiscordPoster` is the only part of :mod:`bot.daily` that talks to Discord. It sends a
post with a *nonce* made from its channel and day: discord.py then asks Discord to enforce it,
and Discord answers a second send with the same nonce, for a few minutes, with the message it
made the first time. After that window, :meth:`DiscordPoster.find` looks through the channel's
recent messages for the post instead.

Errors come in two kinds. :class:`UndeliverableError` is Discord saying no for a reason that will
not pass by itself (the channel is gone, a permission is missing, the bot left the server): the
post is given up for the day and the reason shown in ``!daily``. Anything else (a 5xx, a
timeout, the network) is passing: the post is tried again shortly, with the same nonce.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
from typing import Any, Protocol

import discord

from bot.facts import ENGLISH, Fact, Language

log = logging.getLogger(__name__)

EMBED_TITLE = "\N{CAT FACE} Daily cat fact"
EMBED_COLOUR = discord.Colour.orange()
OFFLINE_NOTE = "from the bot's own collection, in English, as the cat-fact service is down"
LOOK_BACK = 100
"""Messages :meth:`DiscordPoster.find` reads at most (one request): the oldest since a few
seconds before the claim, so the post is missed only if that many came in those seconds and the
send's."""
NEEDED = ("view_channel", "send_messages", "embed_links")
"""The bot's permissions a daily post needs in its channel."""

_NONCE_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


class UndeliverableError(Exception):
    """Discord will not take the post, for a reason that lasts; the message says why, for the
    admins (``!daily`` shows it)."""


@dataclasses.dataclass(frozen=True, slots=True)
class DailyPost:
    """One post to make: where, for which local day, and what it says."""

    channel_id: int
    guild_id: int
    day: datetime.date
    fact: Fact
    language: Language = ENGLISH

    @property
    def nonce(self) -> str:
        """The same for every try of this post, and no other: ``d``, the channel in base 36 and
        the day (20 characters at most; Discord takes 25)."""
        return f"d{_base36(self.channel_id)}{self.day:%y%m%d}"

    @property
    def footer(self) -> str:
        """Says which day's post it is: :meth:`DiscordPoster.find` recognises it by this."""
        return f"Daily cat fact for {self.day.isoformat()}"


class Poster(Protocol):
    """What :class:`~bot.daily.service.DailyService` needs from Discord."""

    async def send(self, post: DailyPost) -> int:
        """Make the post; its message id. Raises :class:`UndeliverableError`, or anything for a
        passing failure."""

    async def find(self, post: DailyPost, since: datetime.datetime) -> int | None:
        """The id of ``post`` if it was made at or after ``since`` (a crash may have left it
        made but not recorded); None if it is not there or can't be looked for."""


def post_embed(post: DailyPost) -> discord.Embed:
    """The daily post's embed: the fact, and a footer naming the day."""
    embed = discord.Embed(title=EMBED_TITLE, description=post.fact.text, colour=EMBED_COLOUR)
    footer = post.footer
    if post.fact.offline and post.language != ENGLISH:
        footer += f" ({OFFLINE_NOTE})"
    embed.set_footer(text=footer)
    return embed


def missing_permissions(channel: Any, me: discord.Member) -> list[str]:
    """The permissions of :data:`NEEDED` the bot lacks in ``channel``, by their names in
    Discord's settings."""
    permissions = channel.permissions_for(me)
    return [
        name.replace("_", " ").title() for name in NEEDED if not getattr(permissions, name, False)
    ]


class DiscordPoster:
    """:class:`Poster` through a discord.py client."""

    def __init__(self, client: discord.Client) -> None:
        self.client = client

    async def send(self, post: DailyPost) -> int:
        channel = self._channel(post)
        try:
            message = await channel.send(embed=post_embed(post), nonce=post.nonce)
        except discord.NotFound as exc:
            raise UndeliverableError("the channel is gone (deleted?)") from exc
        except discord.Forbidden as exc:
            if exc.code == 50001:  # Missing Access
                raise UndeliverableError(
                    "I can't see the channel: I was removed from the server, or lost View "
                    "Channel there"
                ) from exc
            raise UndeliverableError(
                "I'm missing a permission there: I need View Channel, Send Messages and Embed Links"
            ) from exc
        except discord.HTTPException as exc:
            if 400 <= exc.status < 500 and exc.status != 429:
                reason = f"Discord refused it: {exc.status} {exc.text}"
                raise UndeliverableError(reason[:200]) from exc
            raise
        message_id: int = message.id
        return message_id

    async def find(self, post: DailyPost, since: datetime.datetime) -> int | None:
        channel = self._channel(post)
        me = self.client.user
        try:
            async for message in channel.history(limit=LOOK_BACK, after=since, oldest_first=True):
                if me is not None and message.author.id != me.id:
                    continue
                if any(
                    embed.footer.text and post.footer in embed.footer.text
                    for embed in message.embeds
                ):
                    found: int = message.id
                    return found
        except discord.HTTPException as exc:  # can't read the history: send (with the nonce)
            log.warning("could not look for the daily post in %s: %s", post.channel_id, exc)
        return None

    def _channel(self, post: DailyPost) -> Any:
        """The channel from the cache, after checking the bot may post there; or, not cached,
        one that only knows its id (Discord's answer then tells)."""
        channel = self.client.get_channel(post.channel_id)
        if channel is None:
            if self.client.is_ready() and self.client.get_guild(post.guild_id) is None:
                raise UndeliverableError("I'm not in that server any more")
            return self.client.get_partial_messageable(post.channel_id, guild_id=post.guild_id)
        guild = getattr(channel, "guild", None)
        me = guild.me if guild is not None else None
        if me is not None:
            missing = missing_permissions(channel, me)
            if missing:
                raise UndeliverableError("I'm missing a permission there: " + ", ".join(missing))
        return channel


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, digit = divmod(number, 36)
        digits = _NONCE_ALPHABET[digit] + digits
        if not number:
            return digits


__all__ = [
    "NEEDED",
    "DailyPost",
    "DiscordPoster",
    "Poster",
    "UndeliverableError",
    "missing_permissions",
    "post_embed",
]
