"""The circuit breaker's state machine, on a clock the tests move."""

from __future__ import annotations

from bot.facts.breaker import CircuitBreaker, State
from fakes import FakeClock


def state(breaker: CircuitBreaker) -> State:
    """Read the state through a call, so the type checker does not pin it between reads."""
    return breaker.state


def test_closed_until_the_threshold_of_consecutive_failures(clock: FakeClock) -> None:
    breaker = CircuitBreaker(threshold=3, cooldown=10, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    assert (state(breaker), breaker.allow()) == (State.CLOSED, True)
    breaker.record_failure()
    assert (state(breaker), breaker.allow(), breaker.available()) == (State.OPEN, False, False)


def test_a_success_resets_the_count(clock: FakeClock) -> None:
    breaker = CircuitBreaker(threshold=2, clock=clock)
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert state(breaker) is State.CLOSED


def test_half_open_after_the_cooldown_lets_exactly_one_probe_through(clock: FakeClock) -> None:
    breaker = CircuitBreaker(threshold=1, cooldown=10, clock=clock)
    breaker.record_failure()
    clock.advance(9.9)
    assert state(breaker) is State.OPEN
    clock.advance(0.1)
    assert (state(breaker), breaker.available()) == (State.HALF_OPEN, True)
    assert breaker.allow() is True
    assert (breaker.allow(), breaker.available()) == (False, False)  # the probe is taken
    assert state(breaker) is State.HALF_OPEN


def test_a_successful_probe_closes(clock: FakeClock) -> None:
    breaker = CircuitBreaker(threshold=1, cooldown=10, clock=clock)
    breaker.record_failure()
    clock.advance(10)
    assert breaker.allow()
    breaker.record_success()
    assert (state(breaker), breaker.allow(), breaker.allow()) == (State.CLOSED, True, True)


def test_a_failed_probe_opens_again_for_a_full_cooldown(clock: FakeClock) -> None:
    breaker = CircuitBreaker(threshold=5, cooldown=10, clock=clock)
    for _ in range(5):
        breaker.record_failure()
    clock.advance(10)
    assert breaker.allow()
    breaker.record_failure()  # one failure is enough while probing
    assert state(breaker) is State.OPEN
    clock.advance(9.9)
    assert state(breaker) is State.OPEN
    clock.advance(0.1)
    assert breaker.allow()


def test_retry_after_opens_at_once_for_that_long(clock: FakeClock) -> None:
    breaker = CircuitBreaker(threshold=3, cooldown=30, clock=clock)
    breaker.record_failure(retry_after=5)
    assert state(breaker) is State.OPEN
    clock.advance(5)
    assert state(breaker) is State.HALF_OPEN


def test_retry_after_longer_than_the_cooldown_wins_at_the_threshold(clock: FakeClock) -> None:
    breaker = CircuitBreaker(threshold=1, cooldown=30, clock=clock)
    breaker.record_failure(retry_after=120)
    clock.advance(119)
    assert state(breaker) is State.OPEN
    clock.advance(1)
    assert state(breaker) is State.HALF_OPEN


def test_a_zero_retry_after_does_not_open(clock: FakeClock) -> None:
    breaker = CircuitBreaker(threshold=3, clock=clock)
    breaker.record_failure(retry_after=0)
    assert state(breaker) is State.CLOSED


def test_described_in_words(clock: FakeClock) -> None:
    breaker = CircuitBreaker(threshold=3, cooldown=10, clock=clock)
    assert (breaker.describe(), breaker.failures) == ("healthy", 0)
    breaker.record_failure()
    breaker.record_failure()
    assert (breaker.describe(), breaker.failures) == ("failing (2 in a row)", 2)
    breaker.record_failure()
    assert breaker.describe() == "down"
    clock.advance(10)
    assert breaker.describe() == "recovering"


def test_a_cooldown_shorter_than_a_second_is_kept_exactly(clock: FakeClock) -> None:
    breaker = CircuitBreaker(threshold=1, cooldown=0.5, clock=clock)
    breaker.record_failure()
    assert state(breaker) is State.OPEN
    clock.advance(0.5)
    assert (state(breaker), breaker.allow()) == (State.HALF_OPEN, True)


def test_the_cooldown_ends_exactly_when_it_says() -> None:
    # A clock that moves only when told, so "exactly 30 s later" can be checked to the tick.
    now = [100.0]
    breaker = CircuitBreaker(threshold=1, cooldown=30, clock=lambda: now[0])
    breaker.record_failure()
    now[0] = 129.999
    assert (state(breaker), breaker.allow()) == (State.OPEN, False)
    now[0] = 130.0
    assert (state(breaker), breaker.allow()) == (State.HALF_OPEN, True)


def test_an_abandoned_probe_lets_the_next_caller_probe(clock: FakeClock) -> None:
    breaker = CircuitBreaker(threshold=1, cooldown=10, clock=clock)
    breaker.record_failure()
    clock.advance(10)
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # only one at a time
    breaker.release()  # the probe was cancelled before it had an outcome
    assert breaker.available()
    assert breaker.allow()
