"""A circuit breaker: stop calling a provider that keeps failing, and probe it again later.

States, as usual: **closed** (calls go through), **open** (calls are refused at once, so users are
not made to wait for a provider known to be down), **half-open** (the cool-down has passed and one
probe call is let through: success closes the breaker, failure opens it again).

It is small enough to own. The async breaker libraries read the wall clock themselves, while this
one reads the event loop's clock (or one it is given), so tests that fast-forward the loop move
its cool-downs too; and it must also honour a server's ``Retry-After``, which none of them do.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable

DEFAULT_THRESHOLD = 3
"""Consecutive failures that open the breaker."""

DEFAULT_COOLDOWN = 30.0
"""Seconds the breaker stays open before a probe is allowed."""


def loop_time() -> float:
    """The running event loop's clock: monotonic, and the one asyncio's own timeouts use."""
    return asyncio.get_running_loop().time()


class State(enum.StrEnum):
    """Where the breaker is; the value is what ``!about`` shows."""

    CLOSED = "healthy"
    OPEN = "down"
    HALF_OPEN = "recovering"


class CircuitBreaker:
    """Counts consecutive failures of one provider and decides whether to call it."""

    def __init__(
        self,
        *,
        threshold: int = DEFAULT_THRESHOLD,
        cooldown: float = DEFAULT_COOLDOWN,
        clock: Callable[[], float] = loop_time,
    ) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._open_until: float | None = None
        self._probing = False

    @property
    def state(self) -> State:
        """The current state; an open breaker whose cool-down has passed reads as half-open."""
        if self._open_until is None:
            return State.CLOSED
        if self._probing or self._clock() >= self._open_until:
            return State.HALF_OPEN
        return State.OPEN

    @property
    def failures(self) -> int:
        """Failures in a row since the last success."""
        return self._failures

    def describe(self) -> str:
        """The state in words for ``!about``: ``healthy``, ``failing (2 in a row)``, ``down``..."""
        state = self.state
        if state is State.CLOSED and self._failures:
            return f"failing ({self._failures} in a row)"
        return str(state)

    def allow(self) -> bool:
        """May a call be made now? In half-open state only the first asker gets True."""
        if not self.available():
            return False
        if self._open_until is not None:  # half-open: this call is the probe
            self._probing = True
        return True

    def available(self) -> bool:
        """Would :meth:`allow` say yes? Unlike it, asking does not claim the probe."""
        state = self.state
        return state is State.CLOSED or (state is State.HALF_OPEN and not self._probing)

    def release(self) -> None:
        """A call was abandoned before it had an outcome: let the next caller probe instead."""
        self._probing = False

    def record_success(self) -> None:
        """The call worked: close the breaker and forget past failures."""
        self._failures = 0
        self._open_until = None
        self._probing = False

    def record_failure(self, *, retry_after: float | None = None) -> None:
        """The call failed. Open after :attr:`threshold` in a row, or at once after a probe.

        A server's ``retry_after`` opens the breaker at once for that long, even below the
        threshold: it has told us it will not answer before then.
        """
        self._failures += 1
        pause: float | None = None
        if self._probing or self._failures >= self.threshold:
            pause = max(self.cooldown, retry_after or 0.0)
        elif retry_after:
            pause = retry_after
        if pause is not None:
            self._open_until = self._clock() + pause
        self._probing = False


__all__ = ["DEFAULT_COOLDOWN", "DEFAULT_THRESHOLD", "CircuitBreaker", "State", "loop_time"]
