"""Stand-ins for the world outside the bot, shared by the tests (``tests/``) and the benchmark
(``bench/``): the cat-fact APIs as local HTTP servers, Discord's side where dpytest does not
reach, and a clock that moves only when told to.

Import from here; the modules are how the fakes are grouped:

- :mod:`fakes.upstreams`: meowfacts (in English, German and any language a test adds) and
  catfact.ninja, scripted per test;
- :mod:`fakes.discord_api`: slash invocations and a hook on every message payload sent;
- :mod:`fakes.discord_rest`: Discord's REST API as a local server, for a real discord.py client
  (its HTTP code, rate limiter and retries), with Discord's limits and nonce rule;
- :mod:`fakes.clock`: a manual clock for code that runs outside an event loop.
"""

from fakes.clock import FakeClock
from fakes.discord_api import (
    call_slash,
    forget_message_log,
    interaction_context,
    on_send,
    restart_ids,
)
from fakes.discord_rest import ChannelState, CreatedMessage, FakeDiscordREST, pointing_discord_at
from fakes.upstreams import (
    CHUNKED_OVERHEAD,
    FACTS,
    GERMAN_FACTS,
    MEOWFACTS_ENGLISH,
    MEOWFACTS_ENGLISH_SIZE,
    MEOWFACTS_GERMAN,
    NINJA_FACTS,
    FakeCatfactNinja,
    FakeMeowfacts,
    FakeProvider,
    Handler,
    refused_url,
)

__all__ = [
    "CHUNKED_OVERHEAD",
    "FACTS",
    "GERMAN_FACTS",
    "MEOWFACTS_ENGLISH",
    "MEOWFACTS_ENGLISH_SIZE",
    "MEOWFACTS_GERMAN",
    "NINJA_FACTS",
    "ChannelState",
    "CreatedMessage",
    "FakeCatfactNinja",
    "FakeClock",
    "FakeDiscordREST",
    "FakeMeowfacts",
    "FakeProvider",
    "Handler",
    "call_slash",
    "forget_message_log",
    "interaction_context",
    "on_send",
    "pointing_discord_at",
    "refused_url",
    "restart_ids",
]
