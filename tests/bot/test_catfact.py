"""The cat-fact client against a real local HTTP server playing each upstream behaviour."""

from __future__ import annotations

import time

import aiohttp
import pytest

from bot.catfact import MAX_BODY_BYTES, CatFactClient, CatFactError
from tests.fakes import CHUNKED_OVERHEAD, FACTS, FakeMeowfacts, refused_url

SHORT_TIMEOUT = 0.2


@pytest.fixture
def client(session: aiohttp.ClientSession, meowfacts: FakeMeowfacts) -> CatFactClient:
    return CatFactClient(session, meowfacts.url, timeout=SHORT_TIMEOUT)


async def test_returns_the_fact_from_a_meowfacts_response(client: CatFactClient) -> None:
    assert await client.get_fact() == FACTS[0]


async def test_makes_exactly_one_request_per_fact(
    client: CatFactClient, meowfacts: FakeMeowfacts
) -> None:
    await client.get_fact()
    await client.get_fact()
    assert meowfacts.requests == 2


async def test_strips_surrounding_whitespace(
    client: CatFactClient, meowfacts: FakeMeowfacts
) -> None:
    meowfacts.handler = meowfacts.json({"data": ["  Cats purr.\n"]})
    assert await client.get_fact() == "Cats purr."


async def test_asks_for_json(client: CatFactClient, meowfacts: FakeMeowfacts) -> None:
    seen: list[str] = []
    answer = meowfacts.json({"data": ["Cats purr."]})

    async def spy(request: aiohttp.web.Request) -> aiohttp.web.StreamResponse:
        seen.append(request.headers.get("Accept", ""))
        return await answer(request)

    meowfacts.handler = spy
    await client.get_fact()
    assert seen == ["application/json"]


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        pytest.param(500, '{"error": "boom"}', "application/json", id="500"),
        pytest.param(503, "<html>Application error</html>", "text/html", id="503-html"),
        pytest.param(400, "Invalid language", "text/html", id="400-text"),
        pytest.param(429, "Too many requests", "text/plain", id="429"),
        pytest.param(200, "<html>maintenance</html>", "text/html", id="200-html"),
        pytest.param(200, "{not json", "application/json", id="invalid-json"),
        pytest.param(200, '"just a string"', "application/json", id="json-string"),
        pytest.param(200, "[" * 60_000, "application/json", id="absurd-nesting"),
    ],
)
async def test_error_responses_raise_catfact_error(
    client: CatFactClient, meowfacts: FakeMeowfacts, status: int, body: str, content_type: str
) -> None:
    meowfacts.handler = meowfacts.body(body, status=status, content_type=content_type)
    with pytest.raises(CatFactError):
        await client.get_fact()


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"data": []}, id="empty-list"),
        pytest.param({"data": [None]}, id="null-fact"),
        pytest.param({"data": [""]}, id="empty-fact"),
        pytest.param({"data": ["   "]}, id="blank-fact"),
        pytest.param({"data": [42]}, id="number-fact"),
        pytest.param({"data": "Cats purr."}, id="data-not-a-list"),
        pytest.param({"fact": "Cats purr."}, id="other-provider-shape"),
        pytest.param(["Cats purr."], id="top-level-list"),
    ],
)
async def test_malformed_data_raises_catfact_error(
    client: CatFactClient, meowfacts: FakeMeowfacts, payload: object
) -> None:
    meowfacts.handler = meowfacts.json(payload)
    with pytest.raises(CatFactError):
        await client.get_fact()


async def test_timeout_raises_catfact_error_promptly(
    client: CatFactClient, meowfacts: FakeMeowfacts
) -> None:
    meowfacts.handler = meowfacts.hang()
    started = time.monotonic()
    with pytest.raises(CatFactError, match="within"):
        await client.get_fact()
    # Generous bound: proves the timeout fired instead of the test waiting on the server.
    assert time.monotonic() - started < SHORT_TIMEOUT + 2


async def test_connection_refused_raises_catfact_error(session: aiohttp.ClientSession) -> None:
    client = CatFactClient(session, refused_url(), timeout=SHORT_TIMEOUT)
    with pytest.raises(CatFactError, match="failed"):
        await client.get_fact()


async def test_connection_reset_mid_body_raises_catfact_error(
    client: CatFactClient, meowfacts: FakeMeowfacts
) -> None:
    meowfacts.handler = meowfacts.reset_mid_body()
    with pytest.raises(CatFactError):
        await client.get_fact()


async def test_oversized_body_is_refused_by_content_length(
    client: CatFactClient, meowfacts: FakeMeowfacts
) -> None:
    meowfacts.handler = meowfacts.json({"data": ["x" * MAX_BODY_BYTES]})
    with pytest.raises(CatFactError, match="over"):
        await client.get_fact()


async def test_oversized_streamed_body_is_refused_while_reading(
    client: CatFactClient, meowfacts: FakeMeowfacts
) -> None:
    meowfacts.handler = meowfacts.chunked(MAX_BODY_BYTES + 1024)
    with pytest.raises(CatFactError, match="over"):
        await client.get_fact()


async def test_streamed_body_within_the_limit_is_read_whole(
    client: CatFactClient, meowfacts: FakeMeowfacts
) -> None:
    meowfacts.handler = meowfacts.chunked(MAX_BODY_BYTES)
    fact = await client.get_fact()
    assert fact == "x" * (MAX_BODY_BYTES - CHUNKED_OVERHEAD)


async def test_recovers_when_the_upstream_does(
    client: CatFactClient, meowfacts: FakeMeowfacts
) -> None:
    meowfacts.handler = meowfacts.body("down", status=503)
    with pytest.raises(CatFactError):
        await client.get_fact()
    meowfacts.handler = meowfacts.json({"data": [FACTS[1]]})
    assert await client.get_fact() == FACTS[1]
