"""Cat-fact providers: where facts come from, and how each one's whole collection is read.

A provider knows one API's addresses, languages and response shapes, nothing else: it asks for
its whole collection in one language through the getter it is handed, and the client behind that
getter (:mod:`bot.facts.client`) owns retries, budgets, failover and the pool. Every HTTP exchange
goes through :func:`fetch_json`, which turns each way it can go wrong into one
:class:`UpstreamError` that also says whether trying again could help
(:attr:`~UpstreamError.retryable`) and how long the server asked us to wait
(:attr:`~UpstreamError.retry_after`). Every fact passes through :func:`clean_fact` before anyone
sees it: facts are community-written text and are treated as untrusted.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import ClassVar

import aiohttp
import discord
import yarl

from bot.facts.languages import ENGLISH, LANGUAGES
from bot.text import clean_fact

MAX_BODY_BYTES = 1024 * 1024
"""A whole collection is tens of kilobytes (about 25 for meowfacts' English facts, more in scripts
that take several bytes a character); a larger answer is not a fact response and is not read."""

READ_CHUNK = 16 * 1024
"""Bytes read at a time: small enough that a body over the cap is refused early."""

MAX_RETRY_AFTER = 3600.0
"""A ``Retry-After`` beyond an hour is treated as an hour (the circuit breaker honours it)."""

JsonGetter = Callable[[yarl.URL], Awaitable[object]]
"""What a provider is handed to ask for a URL: the decoded JSON body, or :class:`UpstreamError`."""


class UpstreamError(Exception):
    """A provider gave no usable facts. The message is for the logs; users never see it."""

    def __init__(
        self, message: str, *, retryable: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        """True when the same request may succeed if sent again (timeouts, resets, 5xx, 429)."""
        self.retry_after = retry_after
        """Seconds the server asked us to wait (``Retry-After``), if it said."""


def parse_retry_after(
    value: str | None, *, now: Callable[[], datetime] = discord.utils.utcnow
) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: a delay in seconds or an HTTP date.

    A date is measured from ``now()``: the wall clock, since the server's date is one.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdecimal():
        seconds = min(float(value), MAX_RETRY_AFTER)  # a run of digits may even overflow to inf
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - now().timestamp()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


async def fetch_json(
    session: aiohttp.ClientSession,
    url: yarl.URL,
    *,
    time_limit: float,
) -> object:
    """GET ``url`` and return its JSON body, or raise :class:`UpstreamError`.

    Only a 200 answer with a JSON content type and a body under :data:`MAX_BODY_BYTES` counts.
    Timeouts, dropped connections, 5xx and 429 are marked retryable; everything else is not,
    because sending the same request again would get the same answer.
    """
    try:
        async with session.get(
            url,
            timeout=aiohttp.ClientTimeout(total=time_limit),
            headers={"Accept": "application/json"},
        ) as response:
            status = response.status
            if status == 429 or status >= 500:
                raise UpstreamError(
                    f"{url.host} answered HTTP {status}",
                    retryable=True,
                    retry_after=parse_retry_after(response.headers.get("Retry-After")),
                )
            if status != 200:
                raise UpstreamError(f"{url.host} answered HTTP {status} ({response.content_type})")
            if response.content_type != "application/json":
                raise UpstreamError(f"{url.host} answered {response.content_type}, not JSON")
            body = await _read_capped(response, MAX_BODY_BYTES)
    except TimeoutError as exc:  # aiohttp's own timeout errors subclass TimeoutError
        message = f"no answer from {url.host} within {time_limit:.2g} s"
        raise UpstreamError(message, retryable=True) from exc
    except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
        # Refused, reset, dropped mid-body, DNS failure: the next try may well work.
        raise UpstreamError(
            f"request to {url.host} failed: {type(exc).__name__}: {exc}", retryable=True
        ) from exc
    except aiohttp.ClientError as exc:
        raise UpstreamError(f"request to {url.host} failed: {type(exc).__name__}: {exc}") from exc
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # bad JSON, bad UTF-8, absurd nesting
        raise UpstreamError(f"{url.host} answered invalid JSON: {exc!r:.200}") from exc


async def _read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """Read the body, refusing to buffer more than ``limit`` bytes whatever the server sends."""
    if response.content_length is not None and response.content_length > limit:
        raise UpstreamError(f"response body of {response.content_length} bytes is over {limit}")
    chunks: list[bytes] = []
    size = 0
    while chunk := await response.content.read(READ_CHUNK):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise UpstreamError(f"response body is over {limit} bytes")
    return b"".join(chunks)


class Provider(ABC):
    """One cat-fact API: how to ask it for every fact it has, and how to read its answers."""

    name: ClassVar[str]
    """The name used in ``CATFACT_PROVIDERS`` and the logs."""
    default_url: ClassVar[str]
    """Where the API is unless ``CATFACT_PROVIDERS`` names another address."""
    languages: ClassVar[frozenset[str]] = frozenset({ENGLISH.code})
    """The languages it has facts in, by full code (:mod:`bot.facts.languages`)."""

    def __init__(self, url: str) -> None:
        self.url = yarl.URL(url)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.url)!r})"

    def serves(self, language: str) -> bool:
        """True if it has facts in ``language`` (a full code)."""
        return language in self.languages

    @abstractmethod
    async def collect(self, get: JsonGetter, language: str) -> list[str]:
        """Every fact in ``language``, cleaned, asking through ``get``; :class:`UpstreamError` if
        none is usable. It is asked only for languages it :meth:`serves`.

        Order and repeats do not matter: the pool sorts and deduplicates.
        """


def data_of(payload: object) -> list[object]:
    """The ``data`` list of a ``{"data": [...], ...}`` answer, the shape both APIs use."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        raise UpstreamError(f"expected {{'data': [...]}}, got {payload!r:.80}")
    return data


def cleaned(values: list[object]) -> list[str]:
    """The usable facts among raw values: strings that still hold text once cleaned."""
    return [
        fact
        for value in values
        if isinstance(value, str) and (fact := clean_fact(value)) is not None
    ]


class Meowfacts(Provider):
    """``GET /?lang=L&count=N`` answers ``{"data": ["<fact>", ...]}`` with N distinct facts in
    language L, or all of them when N is larger: one request brings a language's collection."""

    name = "meowfacts"
    default_url = "https://meowfacts.herokuapp.com/"
    languages = frozenset(language.code for language in LANGUAGES)

    WHOLE_COLLECTION = 1000
    """A count above any language's collection (the largest holds 100 facts)."""

    async def collect(self, get: JsonGetter, language: str) -> list[str]:
        # The language asked for replaces any ``lang`` the configured address has.
        payload = await get(self.url.update_query(lang=language, count=self.WHOLE_COLLECTION))
        facts = cleaned(data_of(payload))
        if not facts:
            raise UpstreamError(f"{self.url.host} answered without a usable fact: {payload!r:.80}")
        return facts


class CatFactNinja(Provider):
    """``GET /facts?limit=N&page=P`` answers one page, ``{"data": [{"fact": ...}, ...],
    "next_page_url": ...}``; the pages are read in turn until there is no next one. Its facts are
    all in English (the default :attr:`~Provider.languages`)."""

    name = "catfact.ninja"
    default_url = "https://catfact.ninja/"

    PAGE_SIZE = 100
    MAX_PAGES = 20
    """Pages read at most (catfact.ninja has about 330 facts: four pages)."""

    async def collect(self, get: JsonGetter, language: str) -> list[str]:
        facts: list[str] = []
        for page in range(1, self.MAX_PAGES + 1):
            url = (self.url / "facts").with_query(limit=self.PAGE_SIZE, page=page)
            payload = await get(url)
            data = data_of(payload)
            facts += cleaned(
                [item.get("fact") if isinstance(item, dict) else None for item in data]
            )
            more = isinstance(payload, dict) and bool(payload.get("next_page_url"))
            if not data or not more:
                break
        if not facts:
            raise UpstreamError(f"{self.url.host} answered without a usable fact")
        return facts


PROVIDERS: dict[str, type[Provider]] = {kind.name: kind for kind in (Meowfacts, CatFactNinja)}
"""Every provider, by the name ``CATFACT_PROVIDERS`` uses, in the default failover order. A new
provider is a subclass of :class:`Provider` added here; settings, defaults and validation follow."""

__all__ = [
    "MAX_BODY_BYTES",
    "PROVIDERS",
    "CatFactNinja",
    "JsonGetter",
    "Meowfacts",
    "Provider",
    "UpstreamError",
    "cleaned",
    "data_of",
    "fetch_json",
    "parse_retry_after",
]
