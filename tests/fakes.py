"""Fakes at the boundary: a local meowfacts server that tests script, and helpers around it.

Tests talk to a real HTTP server on 127.0.0.1 rather than to a mocked ``aiohttp``: the client's
real request, timeout, streaming and parsing code runs, so a bug in any of it fails a test.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from typing import Any
from unittest.mock import AsyncMock, MagicMock

import discord
from aiohttp import web
from aiohttp.test_utils import TestServer
from discord.ext import commands

CHUNKED_OVERHEAD = len(b'{"data": [""]}')
"""Bytes of JSON around the fact in :meth:`FakeMeowfacts.chunked`."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

FACTS = [
    "Cats spend a large part of each day grooming.",
    "A group of kittens is called a kindle.",
]


class FakeMeowfacts:
    """A meowfacts stand-in on a free loopback port. Set :attr:`handler` to choose the answer.

    By default it answers like meowfacts: ``{"data": ["<fact>"]}``. :attr:`requests` counts what
    reached it, so tests can assert how many upstream calls a command made.
    """

    def __init__(self) -> None:
        self.handler: Handler = self.json({"data": [FACTS[0]]})
        self.requests = 0
        self.release = asyncio.Event()
        app = web.Application()
        app.router.add_get("/", self._handle)
        self.server = TestServer(app, host="127.0.0.1")

    @property
    def url(self) -> str:
        return str(self.server.make_url("/"))

    async def start(self) -> None:
        await self.server.start_server()

    async def close(self) -> None:
        self.release.set()  # let any hanging handler finish so the server can shut down
        await self.server.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        return await self.handler(request)

    # Canned behaviours -------------------------------------------------------------------------

    @staticmethod
    def json(payload: object, status: int = 200) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(
                status=status, text=json.dumps(payload), content_type="application/json"
            )

        return handler

    @staticmethod
    def body(text: str, *, status: int = 200, content_type: str = "text/html") -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(status=status, text=text, content_type=content_type)

        return handler

    def hang(self) -> Handler:
        """Never answer (until the test ends): the client's timeout must fire."""

        async def handler(request: web.Request) -> web.StreamResponse:
            await self.release.wait()
            return web.Response(status=204)

        return handler

    @staticmethod
    def reset_mid_body() -> Handler:
        """Promise a JSON body, send part of it, then drop the connection."""

        async def handler(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            response.content_length = 1000
            await response.prepare(request)
            await response.write(b'{"data": ["Cats are')
            assert request.transport is not None
            request.transport.close()
            return response

        return handler

    @staticmethod
    def chunked(size: int) -> Handler:
        """A streamed JSON body of ``size`` bytes without a Content-Length header."""

        async def handler(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            response.enable_chunked_encoding()
            await response.prepare(request)
            await response.write(b'{"data": ["' + b"x" * (size - CHUNKED_OVERHEAD) + b'"]}')
            await response.write_eof()
            return response

        return handler


def refused_url() -> str:
    """A loopback URL where nothing listens: connecting to it is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def interaction_context() -> MagicMock:
    """A command context as discord.py builds it for a slash invocation, Discord's side mocked.

    ``spec`` makes any attribute the real classes lack an error instead of a silent pass.
    """
    ctx = MagicMock(spec=commands.Context)
    ctx.interaction = MagicMock(spec=discord.Interaction)
    ctx.defer = AsyncMock()
    ctx.send = AsyncMock()
    return ctx


async def call_slash(bot: commands.Bot, name: str, ctx: MagicMock, **options: Any) -> None:
    """Run a hybrid command's callback the way its slash face does, with ``options`` as values."""
    command = bot.get_command(name)
    assert command is not None, f"no command {name!r}"
    callback: Any = command.callback
    await callback(command.cog, ctx, **options)
