"""A local meowfacts stand-in with a configurable latency that counts requests and connections."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.test_utils import TestServer

POOL_SIZE = 1000
"""Distinct facts the fake serves, so batches differ as they would upstream."""


class SlowUpstream:
    """Answers ``GET /?count=N`` after ``latency`` seconds, like a free host far away."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.requests = 0
        self.peers: set[object] = set()
        self._next = 0
        app = web.Application()
        app.router.add_get("/", self._facts)
        self.server = TestServer(app, host="127.0.0.1")

    @property
    def url(self) -> str:
        return str(self.server.make_url("/"))

    @property
    def connections(self) -> int:
        """TCP connections that carried at least one request (each has its own client port)."""
        return len(self.peers)

    def reset_counts(self) -> None:
        self.requests = 0
        self.peers.clear()

    async def start(self) -> None:
        await self.server.start_server()

    async def close(self) -> None:
        await self.server.close()

    async def _facts(self, request: web.Request) -> web.Response:
        self.requests += 1
        assert request.transport is not None
        self.peers.add(request.transport.get_extra_info("peername"))
        await asyncio.sleep(self.latency)
        count = max(1, min(int(request.query.get("count", "1")), 100))
        first, self._next = self._next, self._next + count
        facts = [f"Benchmark fact number {n % POOL_SIZE}." for n in range(first, first + count)]
        return web.json_response({"data": facts})
