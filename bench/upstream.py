"""The benchmark's upstream: the test suite's fake meowfacts, answering after a delay."""

from __future__ import annotations

import asyncio

from aiohttp import web

from fakes import FakeMeowfacts


class SlowUpstream(FakeMeowfacts):
    """Answers ``GET /?count=N`` after ``latency`` seconds, like a free host far away.

    Counting comes from the fake: ``requests`` reached it, on ``len(connections)`` TCP
    connections (each has its own client port).
    """

    def __init__(self, latency: float) -> None:
        super().__init__()
        answer = self.handler

        async def slow(request: web.Request) -> web.StreamResponse:
            await asyncio.sleep(latency)
            return await answer(request)

        self.handler = slow

    def reset_counts(self) -> None:
        self.requests = 0
        self.connections.clear()
