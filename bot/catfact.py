"""The shared asynchronous cat-fact client.

One :class:`CatFactClient` serves the whole process. It borrows the bot's single
``aiohttp.ClientSession`` (so connections are pooled and reused, never opened per command) and
turns every way the upstream can fail into one exception, :class:`CatFactError`. Callers therefore
handle exactly one failure type, and nothing network-shaped leaks into the cogs.

The upstream is meowfacts, which answers ``GET /`` with ``{"data": ["<fact>"]}``.
"""

from __future__ import annotations

import json
import logging

import aiohttp
import yarl

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 4.0
"""Seconds one fact request may take, connection included, before the user is told it failed."""

MAX_BODY_BYTES = 64 * 1024
"""A fact is a few hundred bytes; anything much larger is not a fact response and is not read."""


class CatFactError(Exception):
    """No fact could be fetched. The message says why, for the logs; users see a fixed text."""


class CatFactClient:
    """Fetches cat facts from a meowfacts-compatible API over a shared session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._session = session
        self._url = yarl.URL(base_url)
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    @property
    def url(self) -> yarl.URL:
        """Where facts are fetched from."""
        return self._url

    async def get_fact(self) -> str:
        """Return one random fact, or raise :class:`CatFactError`."""
        payload = await self._get_json()
        return _extract_fact(payload)

    async def _get_json(self) -> object:
        try:
            async with self._session.get(
                self._url,
                timeout=self._timeout,
                headers={"Accept": "application/json"},
            ) as response:
                body = await _read_capped(response, MAX_BODY_BYTES)
                status = response.status
                content_type = response.content_type
        except TimeoutError as exc:
            # aiohttp's own timeout errors subclass TimeoutError too.
            seconds = self._timeout.total
            raise CatFactError(f"no answer from {self._url} within {seconds} s") from exc
        except aiohttp.ClientError as exc:
            raise CatFactError(
                f"request to {self._url} failed: {type(exc).__name__}: {exc}"
            ) from exc

        if status != 200:
            raise CatFactError(f"{self._url} answered HTTP {status} ({content_type})")
        if content_type != "application/json":
            raise CatFactError(f"{self._url} answered {content_type}, not JSON")
        try:
            return json.loads(body)
        except (ValueError, RecursionError) as exc:  # bad JSON, bad UTF-8, absurd nesting
            raise CatFactError(f"{self._url} answered invalid JSON: {exc!r:.200}") from exc


async def _read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """Read the body, refusing to buffer more than ``limit`` bytes whatever the server sends."""
    if response.content_length is not None and response.content_length > limit:
        raise CatFactError(f"response body of {response.content_length} bytes is over {limit}")
    chunks: list[bytes] = []
    size = 0
    while chunk := await response.content.read(16 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise CatFactError(f"response body is over {limit} bytes")
    return b"".join(chunks)


def _extract_fact(payload: object) -> str:
    """Take the first fact out of ``{"data": ["<fact>", ...]}``, rejecting any other shape."""
    if not isinstance(payload, dict):
        raise CatFactError(f"expected a JSON object, got {type(payload).__name__}")
    data = payload.get("data")
    if not isinstance(data, list) or not data:
        raise CatFactError(f"expected a non-empty 'data' list, got {data!r:.80}")
    fact = data[0]
    if not isinstance(fact, str) or not fact.strip():
        raise CatFactError(f"expected a fact string, got {fact!r:.80}")
    return fact.strip()


__all__ = ["DEFAULT_TIMEOUT", "MAX_BODY_BYTES", "CatFactClient", "CatFactError"]
