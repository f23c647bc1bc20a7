"""Cat-fact providers: where facts come from, and how each one's answer is read.

A provider knows one API's address and response shape, nothing else: retries, failover and
buffering live in :mod:`bot.catfact`. Every HTTP exchange goes through :func:`fetch_json`, which
turns each way it can go wrong into one :class:`UpstreamError` that also says whether trying again
could help (:attr:`~UpstreamError.retryable`) and how long the server asked us to wait
(:attr:`~UpstreamError.retry_after`). Every fact passes through :func:`clean_fact` before anyone
sees it: facts are community-written text and are treated as untrusted.
"""

from __future__ import annotations

import json
import math
import re
from abc import ABC, abstractmethod
from email.utils import parsedate_to_datetime
from typing import ClassVar

import aiohttp
import discord
import yarl

from bot.text import neutralise_mentions

MAX_BODY_BYTES = 64 * 1024
"""A batch of facts is a few kilobytes; a larger answer is not a fact response and is not read."""

MAX_FACT_LENGTH = 4096
"""Discord refuses an embed description longer than this; a cleaned fact always fits."""

MAX_RETRY_AFTER = 3600.0
"""A ``Retry-After`` beyond an hour is treated as an hour (the circuit breaker honours it)."""

DEFAULT_MEOWFACTS_URL = "https://meowfacts.herokuapp.com/"
DEFAULT_CATFACT_NINJA_URL = "https://catfact.ninja/"


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


_ORDERED_LIST = re.compile(r"^(\d+)\.(?= )")


def clean_fact(raw: str) -> str | None:
    """Make third-party text safe to show: one line, no markup, no mentions, bounded length.

    Returns None when nothing is left. Markdown is escaped rather than removed, so the words stay
    as written; runs of whitespace (newlines included, which could start a heading or a quote)
    become single spaces.
    """
    text = " ".join(raw.split())
    if not text:
        return None
    text = neutralise_mentions(discord.utils.escape_markdown(text))
    text = _ORDERED_LIST.sub(r"\1\\.", text)  # "1. Cats..." would render as a list
    if len(text) > MAX_FACT_LENGTH:
        # Never end on half of an escape sequence: a lone backslash would escape the ellipsis.
        text = text[: MAX_FACT_LENGTH - 1].rstrip("\\") + "…"
    return text


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: a delay in seconds or an HTTP date."""
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
        seconds = when.timestamp() - discord.utils.utcnow().timestamp()
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
    while chunk := await response.content.read(16 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise UpstreamError(f"response body is over {limit} bytes")
    return b"".join(chunks)


class Provider(ABC):
    """One cat-fact API: how to ask it for ``count`` facts and how to read its answer."""

    name: ClassVar[str]
    """The name used in ``CATFACT_PROVIDERS``, logs and ``!about``."""

    max_batch: ClassVar[int]
    """The most facts one request can return."""

    def __init__(self, url: str) -> None:
        self.url = yarl.URL(url)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.url)!r})"

    @abstractmethod
    def request_url(self, count: int) -> yarl.URL:
        """The address that answers with up to ``count`` facts."""

    @abstractmethod
    def extract(self, payload: object) -> list[object]:
        """The raw fact values in a decoded answer; raise :class:`UpstreamError` on a bad shape."""

    async def fetch(
        self, session: aiohttp.ClientSession, count: int, time_limit: float
    ) -> list[str]:
        """Up to ``count`` cleaned facts (at least one) within ``time_limit`` seconds, or
        :class:`UpstreamError`."""
        url = self.request_url(max(1, min(count, self.max_batch)))
        payload = await fetch_json(session, url, time_limit=time_limit)
        facts = [
            fact
            for value in self.extract(payload)
            if isinstance(value, str) and (fact := clean_fact(value)) is not None
        ]
        if not facts:
            raise UpstreamError(f"{url.host} answered without a usable fact: {payload!r:.80}")
        return facts


class Meowfacts(Provider):
    """``GET /?count=N`` answers ``{"data": ["<fact>", ...]}`` with N distinct facts."""

    name = "meowfacts"
    max_batch = 90  # the English collection holds 91 facts

    def request_url(self, count: int) -> yarl.URL:
        return self.url.update_query(count=count)

    def extract(self, payload: object) -> list[object]:
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list):
            raise UpstreamError(f"expected {{'data': [...]}}, got {payload!r:.80}")
        return data


class CatFactNinja(Provider):
    """``GET /fact`` answers ``{"fact": "<fact>", "length": N}``: one fact per request."""

    name = "catfact.ninja"
    max_batch = 1

    def request_url(self, count: int) -> yarl.URL:
        return self.url / "fact"

    def extract(self, payload: object) -> list[object]:
        if not isinstance(payload, dict) or "fact" not in payload:
            raise UpstreamError(f"expected {{'fact': ...}}, got {payload!r:.80}")
        return [payload["fact"]]


PROVIDERS: dict[str, type[Provider]] = {kind.name: kind for kind in (Meowfacts, CatFactNinja)}
"""Every provider kind, by the name ``CATFACT_PROVIDERS`` uses."""

DEFAULT_URLS = {Meowfacts.name: DEFAULT_MEOWFACTS_URL, CatFactNinja.name: DEFAULT_CATFACT_NINJA_URL}

__all__ = [
    "DEFAULT_URLS",
    "MAX_BODY_BYTES",
    "MAX_FACT_LENGTH",
    "PROVIDERS",
    "CatFactNinja",
    "Meowfacts",
    "Provider",
    "UpstreamError",
    "clean_fact",
    "fetch_json",
    "parse_retry_after",
]
