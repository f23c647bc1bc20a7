"""Local stand-ins for the cat-fact APIs: real HTTP servers on 127.0.0.1 that a test scripts.

The bot's client talks to them with its real request, timeout, streaming and parsing code, so a
bug in any of it fails a test (a mocked ``aiohttp`` would hide it).
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import socket
from collections.abc import Awaitable, Callable, Mapping
from typing import ClassVar

from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.text import whole_number

CHUNKED_OVERHEAD = len(b'{"data": [""]}')
"""Bytes of JSON around the fact in :meth:`FakeProvider.chunked`."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MEOWFACTS_ENGLISH_SIZE = 91
"""How many facts the real meowfacts holds in English (see ``../shared/NOTES.md``)."""

FACTS = [
    "Cats spend a large part of each day grooming.",
    "A group of kittens is called a kindle.",
    *(f"Test fact number {n}." for n in range(2, MEOWFACTS_ENGLISH_SIZE)),
]
"""What the fake meowfacts holds by default: as many facts as the real one has in English."""

MEOWFACTS_ENGLISH = "eng-us"
"""meowfacts' default language: what it answers in when ``lang`` is missing or empty."""

MEOWFACTS_GERMAN = "ger-de"

GERMAN_FACTS = [
    "Katzen schlafen zwölf bis sechzehn Stunden am Tag.",
    "Eine Katze hat in jedem Ohr mehr als dreißig Muskeln.",
    *(f"Testfakt Nummer {n} über Katzen." for n in range(2, 94)),
]
"""What the fake meowfacts holds in German by default: as many distinct facts as the real one
(which lists 100, six of them twice)."""

NINJA_FACTS = [f"Backup fact number {n}." for n in range(250)]
"""What the fake catfact.ninja holds: enough for three pages of 100, as the real one has four."""


class FakeProvider:
    """A cat-fact API stand-in on a free loopback port. Set :attr:`handler` to choose the answer.

    :attr:`requests` counts what reached it and :attr:`connections` the distinct TCP connections
    they came on, so tests can assert how many upstream calls a command made.
    """

    path: ClassVar[str] = "/"

    def __init__(self, collection: list[str] | None = None) -> None:
        self.collection = list(collection or self.default_collection())
        """The facts it holds; a test may replace them (the next answer uses the new ones)."""
        self.handler: Handler = self.default()
        self.requests = 0
        self.queries: list[str] = []
        self.user_agents: list[str] = []
        """Each request's path and query string, in order."""
        self.times: list[float] = []
        """When each request arrived, on the event loop's clock."""
        self.connections: set[object] = set()
        self.release = asyncio.Event()
        app = web.Application()
        app.router.add_get(self.path, self._handle)
        self.server = TestServer(app, host="127.0.0.1")

    def default(self) -> Handler:
        """The healthy answer."""
        raise NotImplementedError

    def default_collection(self) -> list[str]:
        raise NotImplementedError

    @property
    def url(self) -> str:
        """The provider's base URL (what settings and providers are given)."""
        return str(self.server.make_url("/"))

    async def start(self) -> None:
        await self.server.start_server()

    async def close(self) -> None:
        self.release.set()  # let any hanging handler finish so the server can shut down
        await self.server.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        self.queries.append(request.path_qs)
        self.user_agents.append(request.headers.get("User-Agent", ""))
        self.times.append(asyncio.get_running_loop().time())
        assert request.transport is not None
        self.connections.add(request.transport.get_extra_info("peername"))
        return await self.handler(request)

    # Canned behaviours -------------------------------------------------------------------------

    @staticmethod
    def json(payload: object, status: int = 200, headers: dict[str, str] | None = None) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(
                status=status,
                text=json.dumps(payload),
                content_type="application/json",
                headers=headers,
            )

        return handler

    @staticmethod
    def body(
        text: str,
        *,
        status: int = 200,
        content_type: str = "text/html",
        headers: dict[str, str] | None = None,
    ) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(
                status=status, text=text, content_type=content_type, headers=headers
            )

        return handler

    @staticmethod
    def sequence(*handlers: Handler) -> Handler:
        """Answer the n-th request with the n-th handler; the last one answers from then on."""
        queue = list(handlers)

        async def handler(request: web.Request) -> web.StreamResponse:
            current = queue.pop(0) if len(queue) > 1 else queue[0]
            return await current(request)

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


QUERY_LIMIT = 100_000
"""Numbers in a fake's query are read up to this; larger ones count as just above it."""


def _query_number(request: web.Request, name: str, default: int) -> int:
    """A whole number from the query, ``default`` when it is missing; garbage counts as 0, as
    meowfacts takes it."""
    text = request.query.get(name)
    return default if text is None else whole_number(text, QUERY_LIMIT) or 0


class FakeMeowfacts(FakeProvider):
    """Answers like meowfacts: ``GET /?lang=L&count=N`` gives N distinct facts of language L's
    collection as ``{"data": [...]}``, all of them when N is larger, in a new random order each
    time. ``lang`` is a full code or its 3-letter part, case-sensitive; missing or empty, it is
    English; unknown, it gets a 400 with a ``text/html`` body, as from meowfacts."""

    FULL_CODE_ONLY: ClassVar[frozenset[str]] = frozenset({"esp-mx"})
    """Languages meowfacts knows only by their full code (``esp`` is esp-es)."""

    def __init__(
        self,
        collection: list[str] | None = None,
        languages: Mapping[str, list[str]] | None = None,
    ) -> None:
        chosen = {MEOWFACTS_GERMAN: GERMAN_FACTS} if languages is None else languages
        self.languages: dict[str, list[str]] = {
            MEOWFACTS_ENGLISH: [],
            **{code: list(facts) for code, facts in chosen.items()},
        }
        """Each language's facts by full code; a test may add or replace one (the next answer
        uses it). English is :attr:`collection`."""
        super().__init__(collection)

    @property
    def collection(self) -> list[str]:
        """The English facts (meowfacts' default language)."""
        return self.languages[MEOWFACTS_ENGLISH]

    @collection.setter
    def collection(self, facts: list[str]) -> None:
        self.languages[MEOWFACTS_ENGLISH] = facts

    def default_collection(self) -> list[str]:
        return FACTS

    def language_of(self, lang: str) -> str | None:
        """The full code ``lang`` selects, as meowfacts reads it; None for one it does not know."""
        if not lang:
            return MEOWFACTS_ENGLISH
        if lang in self.languages:
            return lang
        for code in self.languages:
            if code.split("-")[0] == lang and code not in self.FULL_CODE_ONLY:
                return code
        return None

    def default(self) -> Handler:
        shuffle = random.Random(0)  # noqa: S311  # repeatable, like everything in a test

        async def handler(request: web.Request) -> web.StreamResponse:
            language = self.language_of(request.query.get("lang", ""))
            if language is None:
                valid = ", ".join(sorted(self.languages))
                return web.Response(
                    status=400,
                    text=f"Invalid language, valid languages are: {valid}",
                    content_type="text/html",
                )
            facts = self.languages[language]
            count = _query_number(request, "count", 1)
            chosen = shuffle.sample(facts, max(0, min(count, len(facts))))
            return web.json_response({"data": chosen})

        return handler


class FakeCatfactNinja(FakeProvider):
    """Answers like catfact.ninja: ``GET /facts?limit=N&page=P`` gives one page of its collection
    as ``{"data": [{"fact": ..., "length": ...}], "next_page_url": ...}`` (Laravel's shape)."""

    path: ClassVar[str] = "/facts"

    def default_collection(self) -> list[str]:
        return NINJA_FACTS

    def default(self) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            limit = max(1, _query_number(request, "limit", 10))
            page = max(1, _query_number(request, "page", 1))
            last = max(1, math.ceil(len(self.collection) / limit))
            chunk = self.collection[(page - 1) * limit : page * limit]
            following = f"{self.url}facts?page={page + 1}" if page < last else None
            return web.json_response(
                {
                    "current_page": page,
                    "data": [{"fact": fact, "length": len(fact)} for fact in chunk],
                    "last_page": last,
                    "next_page_url": following,
                    "per_page": limit,
                    "total": len(self.collection),
                }
            )

        return handler
