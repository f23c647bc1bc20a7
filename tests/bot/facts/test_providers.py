"""Providers against a real local HTTP server playing each upstream behaviour.

These tests pin down the requests for one collection: what counts as a fact, which failures are
worth a retry, and that nothing a server sends can make the bot read too much or show something
unsafe. Retries themselves belong to the client (``test_client.py``): here each request is made
once, through the real :func:`~bot.facts.providers.fetch_json`.
"""

from __future__ import annotations

import asyncio
import functools
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import aiohttp
import pytest
from aiohttp import web

from bot.facts.languages import ENGLISH, LANGUAGES, Language
from bot.facts.providers import (
    MAX_BODY_BYTES,
    MAX_RETRY_AFTER,
    CatFactNinja,
    Meowfacts,
    Provider,
    UpstreamError,
    fetch_json,
    parse_retry_after,
)
from bot.text import MAX_FACT_LENGTH
from fakes import (
    CHUNKED_OVERHEAD,
    FACTS,
    GERMAN_FACTS,
    NINJA_FACTS,
    FakeCatfactNinja,
    FakeMeowfacts,
    refused_url,
)

SHORT = 0.2


@pytest.fixture
def provider(meowfacts: FakeMeowfacts) -> Meowfacts:
    return Meowfacts(meowfacts.url)


async def collect(
    provider: Provider, session: aiohttp.ClientSession, language: str = ENGLISH.code
) -> list[str]:
    """The provider's collection in ``language``, each request made once with a short limit."""
    get = functools.partial(fetch_json, session, time_limit=SHORT)
    return await provider.collect(get, language)


async def fetch_error(provider: Provider, session: aiohttp.ClientSession) -> UpstreamError:
    with pytest.raises(UpstreamError) as caught:
        await collect(provider, session)
    return caught.value


async def test_meowfacts_brings_its_whole_collection_in_one_request(
    provider: Meowfacts, session: aiohttp.ClientSession, meowfacts: FakeMeowfacts
) -> None:
    seen: list[str] = []
    answer = meowfacts.handler

    async def spy(request: web.Request) -> web.StreamResponse:
        seen.append(f"{request.path_qs} {request.headers['Accept']}")
        return await answer(request)

    meowfacts.handler = spy
    assert sorted(await collect(provider, session)) == sorted(FACTS)
    assert seen == [f"/?lang=eng-us&count={Meowfacts.WHOLE_COLLECTION} application/json"]


async def test_meowfacts_asks_for_the_language_in_place_of_one_in_its_address(
    session: aiohttp.ClientSession, meowfacts: FakeMeowfacts
) -> None:
    # The language is each server's choice now, not the deployment's.
    await collect(Meowfacts(f"{meowfacts.url}?lang=ger"), session)
    assert meowfacts.queries == [f"/?lang=eng-us&count={Meowfacts.WHOLE_COLLECTION}"]


@pytest.mark.parametrize("language", LANGUAGES, ids=lambda language: language.code)
async def test_meowfacts_asks_for_each_language_by_its_full_code(
    session: aiohttp.ClientSession, meowfacts: FakeMeowfacts, language: Language
) -> None:
    meowfacts.languages[language.code] = [f"A fact in {language.english}."]
    facts = await collect(Meowfacts(meowfacts.url), session, language.code)
    assert facts == [f"A fact in {language.english}."]
    assert meowfacts.queries == [f"/?lang={language.code}&count={Meowfacts.WHOLE_COLLECTION}"]


async def test_meowfacts_brings_the_german_collection(
    provider: Meowfacts, session: aiohttp.ClientSession
) -> None:
    assert sorted(await collect(provider, session, "ger-de")) == sorted(GERMAN_FACTS)


async def test_a_language_meowfacts_refuses_is_not_retried(
    provider: Meowfacts, session: aiohttp.ClientSession
) -> None:
    with pytest.raises(UpstreamError) as caught:
        await collect(provider, session, "fra-fr")  # the fake holds English and German only
    assert str(caught.value) == "127.0.0.1 answered HTTP 400 (text/html)"
    assert not caught.value.retryable


@pytest.mark.parametrize(
    ("lang", "answer"),
    [
        pytest.param(None, "eng-us", id="missing"),
        pytest.param("", "eng-us", id="empty"),
        pytest.param("eng", "eng-us", id="eng"),
        pytest.param("ger", "ger-de", id="ger"),
        pytest.param("ger-de", "ger-de", id="ger-de"),
        pytest.param("esp", "esp-es", id="esp-is-spain"),
        pytest.param("esp-mx", "esp-mx", id="esp-mx"),
        pytest.param("GER", None, id="case-sensitive"),
        pytest.param("ESP", None, id="ESP"),
        pytest.param("XYZ", None, id="unknown"),
        pytest.param("fra", None, id="not-held"),
    ],
)
async def test_the_fake_meowfacts_reads_lang_as_meowfacts_does(
    session: aiohttp.ClientSession, meowfacts: FakeMeowfacts, lang: str | None, answer: str | None
) -> None:
    # The fake's rules are meowfacts' (../shared/NOTES.md): the tests above rely on them.
    meowfacts.languages["esp-mx"] = ["Un dato de México."]  # added before esp-es on purpose
    meowfacts.languages["esp-es"] = ["Un dato de España."]
    query = {"count": "1000"} if lang is None else {"count": "1000", "lang": lang}
    async with session.get(meowfacts.url, params=query) as response:
        if answer is None:
            assert (response.status, response.content_type) == (400, "text/html")
            assert "ger-de" in await response.text()  # it lists the valid codes
        else:
            assert response.status == 200
            body = await response.json()
            assert sorted(body["data"]) == sorted(meowfacts.languages[answer])


async def test_catfact_ninja_reads_every_page(
    ninja: FakeCatfactNinja, session: aiohttp.ClientSession
) -> None:
    assert await collect(CatFactNinja(ninja.url), session) == NINJA_FACTS
    assert ninja.queries == [f"/facts?limit=100&page={page}" for page in (1, 2, 3)]


async def test_catfact_ninja_stops_at_its_page_limit(
    ninja: FakeCatfactNinja, session: aiohttp.ClientSession
) -> None:
    ninja.collection = [f"Fact {n}." for n in range(CatFactNinja.PAGE_SIZE * 30)]
    facts = await collect(CatFactNinja(ninja.url), session)
    assert len(facts) == CatFactNinja.PAGE_SIZE * CatFactNinja.MAX_PAGES
    assert ninja.requests == CatFactNinja.MAX_PAGES


async def test_catfact_ninja_stops_at_an_empty_page(
    ninja: FakeCatfactNinja, session: aiohttp.ClientSession
) -> None:
    first = {"data": [{"fact": "Cats purr."}], "next_page_url": "more"}
    ninja.handler = ninja.sequence(
        ninja.json(first), ninja.json({"data": [], "next_page_url": "x"})
    )
    assert await collect(CatFactNinja(ninja.url), session) == ["Cats purr."]
    assert ninja.requests == 2


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"fact": "Cats purr.", "length": 10}, id="single-fact-shape"),
        pytest.param({"data": [{"fact": None}]}, id="null-fact"),
        pytest.param({"data": ["Cats purr."]}, id="meowfacts-shape"),
        pytest.param({"data": []}, id="no-facts"),
        pytest.param([], id="list"),
    ],
)
async def test_catfact_ninja_refuses_other_shapes(
    ninja: FakeCatfactNinja, session: aiohttp.ClientSession, payload: object
) -> None:
    ninja.handler = ninja.json(payload)
    assert not (await fetch_error(CatFactNinja(ninja.url), session)).retryable


async def test_catfact_ninja_without_a_usable_fact_says_so(
    ninja: FakeCatfactNinja, session: aiohttp.ClientSession
) -> None:
    ninja.handler = ninja.json({"data": [{"fact": " "}], "next_page_url": None})
    error = await fetch_error(CatFactNinja(ninja.url), session)
    assert str(error) == "127.0.0.1 answered without a usable fact"


async def test_a_failing_page_fails_the_whole_collection(
    ninja: FakeCatfactNinja, session: aiohttp.ClientSession
) -> None:
    healthy = ninja.handler
    ninja.handler = ninja.sequence(healthy, ninja.body("down", status=503))
    assert (await fetch_error(CatFactNinja(ninja.url), session)).retryable


async def test_facts_are_cleaned_and_unusable_entries_skipped(
    provider: Meowfacts, session: aiohttp.ClientSession, meowfacts: FakeMeowfacts
) -> None:
    meowfacts.handler = meowfacts.json({"data": [None, "  Cats\npurr.  ", 42, " ", "**Bold**"]})
    assert await collect(provider, session) == ["Cats purr.", r"\*\*Bold\*\*"]


@pytest.mark.parametrize(
    ("status", "body", "content_type", "retryable"),
    [
        pytest.param(500, '{"error": "boom"}', "application/json", True, id="500"),
        pytest.param(503, "<html>Application error</html>", "text/html", True, id="503-html"),
        pytest.param(429, "Too many requests", "text/plain", True, id="429"),
        pytest.param(400, "Invalid language", "text/html", False, id="400-text"),
        pytest.param(404, '{"message": "none"}', "application/json", False, id="404"),
        pytest.param(200, "<html>maintenance</html>", "text/html", False, id="200-html"),
        pytest.param(200, "{not json", "application/json", False, id="invalid-json"),
        pytest.param(200, '"just a string"', "application/json", False, id="json-string"),
        pytest.param(200, "[" * 60_000, "application/json", False, id="absurd-nesting"),
    ],
)
async def test_error_responses_say_whether_a_retry_can_help(
    provider: Meowfacts,
    session: aiohttp.ClientSession,
    meowfacts: FakeMeowfacts,
    status: int,
    body: str,
    content_type: str,
    retryable: bool,
) -> None:
    meowfacts.handler = meowfacts.body(body, status=status, content_type=content_type)
    error = await fetch_error(provider, session)
    assert error.retryable is retryable
    assert error.retry_after is None


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
async def test_malformed_data_is_not_retried(
    provider: Meowfacts, session: aiohttp.ClientSession, meowfacts: FakeMeowfacts, payload: object
) -> None:
    meowfacts.handler = meowfacts.json(payload)
    assert not (await fetch_error(provider, session)).retryable


@pytest.mark.parametrize(
    ("payload", "logged"),
    [
        pytest.param(
            {"fact": "Cats purr."},
            "expected {'data': [...]}, got {'fact': 'Cats purr.'}",
            id="other-shape",
        ),
        pytest.param(
            ["y" * 1000],
            "expected {'data': [...]}, got ['" + "y" * 78,
            id="long-answer-cut-short",
        ),
    ],
)
async def test_a_wrong_shape_is_reported_with_what_was_expected_and_what_came(
    provider: Meowfacts,
    session: aiohttp.ClientSession,
    meowfacts: FakeMeowfacts,
    payload: object,
    logged: str,
) -> None:
    # The message is what the warning in the log shows the operator.
    meowfacts.handler = meowfacts.json(payload)
    assert str(await fetch_error(provider, session)) == logged


async def test_retry_after_is_read_from_a_429(
    provider: Meowfacts, session: aiohttp.ClientSession, meowfacts: FakeMeowfacts
) -> None:
    meowfacts.handler = meowfacts.body("slow down", status=429, headers={"Retry-After": "7"})
    error = await fetch_error(provider, session)
    assert (error.retryable, error.retry_after) == (True, 7.0)


async def test_a_hang_is_a_retryable_timeout_that_fires_at_the_time_limit(
    provider: Meowfacts, session: aiohttp.ClientSession, meowfacts: FakeMeowfacts
) -> None:
    meowfacts.handler = meowfacts.hang()
    loop = asyncio.get_running_loop()
    started = loop.time()
    error = await fetch_error(provider, session)
    assert error.retryable
    assert str(error) == f"no answer from 127.0.0.1 within {SHORT:.2g} s"
    assert loop.time() - started == pytest.approx(SHORT)  # loop time: exact on any machine


async def test_connection_refused_is_retryable(session: aiohttp.ClientSession) -> None:
    error = await fetch_error(Meowfacts(refused_url()), session)
    assert error.retryable
    assert "failed" in str(error)


async def test_connection_reset_mid_body_is_retryable(
    provider: Meowfacts, session: aiohttp.ClientSession, meowfacts: FakeMeowfacts
) -> None:
    meowfacts.handler = meowfacts.reset_mid_body()
    assert (await fetch_error(provider, session)).retryable


async def test_a_client_side_error_is_not_retried(session: aiohttp.ClientSession) -> None:
    error = await fetch_error(Meowfacts("relative/path"), session)
    assert not error.retryable


async def test_oversized_body_is_refused_by_content_length(
    provider: Meowfacts, session: aiohttp.ClientSession, meowfacts: FakeMeowfacts
) -> None:
    meowfacts.handler = meowfacts.json({"data": ["x" * MAX_BODY_BYTES]})
    error = await fetch_error(provider, session)
    assert "over" in str(error)
    assert not error.retryable


async def test_a_body_of_exactly_the_limit_is_read(
    provider: Meowfacts, session: aiohttp.ClientSession, meowfacts: FakeMeowfacts
) -> None:
    payload = {"data": ["x" * (MAX_BODY_BYTES - CHUNKED_OVERHEAD)]}
    assert len(json.dumps(payload)) == MAX_BODY_BYTES  # announced in Content-Length
    meowfacts.handler = meowfacts.json(payload)
    [fact] = await collect(provider, session)
    assert fact == "x" * (MAX_FACT_LENGTH - 1) + "…"


async def test_a_collection_longer_than_one_read_arrives_intact(
    provider: Meowfacts, session: aiohttp.ClientSession, meowfacts: FakeMeowfacts
) -> None:
    facts = [f"Fact {n}: " + "кошки " * 60 for n in range(100)]  # 2 bytes a letter, like Russian
    meowfacts.handler = meowfacts.json({"data": facts})
    assert len(json.dumps({"data": facts}, ensure_ascii=False).encode()) > 64 * 1024
    assert await collect(provider, session) == [f.strip() for f in facts]


async def test_oversized_streamed_body_is_refused_while_reading(
    provider: Meowfacts, session: aiohttp.ClientSession, meowfacts: FakeMeowfacts
) -> None:
    meowfacts.handler = meowfacts.chunked(MAX_BODY_BYTES + 1024)
    assert "over" in str(await fetch_error(provider, session))


async def test_streamed_body_within_the_limit_is_read_and_the_fact_capped(
    provider: Meowfacts, session: aiohttp.ClientSession, meowfacts: FakeMeowfacts
) -> None:
    meowfacts.handler = meowfacts.chunked(MAX_BODY_BYTES)
    [fact] = await collect(provider, session)
    assert fact == "x" * (MAX_FACT_LENGTH - 1) + "…"


# Retry-After -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("0", 0.0),
        (" 12 ", 12.0),
        ("99999999", MAX_RETRY_AFTER),
        ("9" * 400, MAX_RETRY_AFTER),  # overflows to infinity on the way
        ("-3", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        ("Wed, 21 Oct 2015 07:28:00", None),  # a date without a zone is not an HTTP date
    ],
)
def test_retry_after_values(header: str, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_retry_after_absent() -> None:
    assert parse_retry_after(None) is None


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    in_a_minute = format_datetime(now + timedelta(seconds=60), usegmt=True)
    assert parse_retry_after(in_a_minute, now=lambda: now) == 60.0
    past = format_datetime(now - timedelta(days=1), usegmt=True)
    assert parse_retry_after(past, now=lambda: now) == 0.0


def test_an_http_date_is_measured_from_the_wall_clock_by_default() -> None:
    # A day ahead is past the one-hour cap, however long the test takes to get here.
    tomorrow = format_datetime(datetime.now(UTC) + timedelta(days=1), usegmt=True)
    assert parse_retry_after(tomorrow) == MAX_RETRY_AFTER  # capped at an hour


# Cleaning untrusted text -------------------------------------------------------------------------


def test_a_provider_shows_its_address() -> None:
    assert repr(CatFactNinja("https://catfact.ninja/")) == "CatFactNinja('https://catfact.ninja/')"
