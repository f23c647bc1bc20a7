"""A clock for code that runs outside an event loop."""

from __future__ import annotations

import asyncio


class FakeClock:
    """Time that only moves when a test moves it, for code that takes a clock outside an event
    loop (the circuit breaker on its own, the identify pacer). Async code reads the event loop's
    clock instead, which the suite fast-forwards (see ``conftest.py``).

    Pass it as the clock and :meth:`sleep` as the sleep function: :attr:`slept` records each
    sleep, which moves the clock by as much and returns at once.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)
        await asyncio.sleep(0)  # still yield, as a real sleep would
