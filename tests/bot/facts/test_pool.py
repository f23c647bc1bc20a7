"""The pool's promises, checked as properties: every fact once per round, no repeat in a row,
a channel's state one integer, the number of channels remembered bounded."""

from __future__ import annotations

import collections
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.facts.pool import Collection, Fact, Rotation, permute

KEYS = st.integers(min_value=0, max_value=2**64 - 1)


def texts(size: int) -> list[str]:
    return [f"Fact {n}." for n in range(size)]


def rotation(size: int, key: int = 1, max_channels: int = 1000) -> Rotation:
    return Rotation(Collection.of(texts(size), "test"), key=key, max_channels=max_channels)


@given(size=st.integers(1, 400), key=KEYS)
@settings(max_examples=150)
def test_a_permutation_uses_every_position_exactly_once(size: int, key: int) -> None:
    assert sorted(permute(index, size, key) for index in range(size)) == list(range(size))


@given(size=st.integers(1, 120), key=KEYS, channel=st.integers(0, 2**64), rounds=st.integers(1, 4))
@settings(max_examples=150)
def test_a_channel_hears_every_fact_once_a_round_and_never_one_twice_in_a_row(
    size: int, key: int, channel: int, rounds: int
) -> None:
    dealer = rotation(size, key)
    told = [dealer.deal(channel).text for _ in range(size * rounds)]
    for start in range(0, len(told), size):
        assert sorted(told[start : start + size]) == sorted(texts(size))
    if size > 1:
        assert all(a != b for a, b in itertools.pairwise(told))


def test_ninety_one_facts_in_a_row_are_ninety_one_different_facts() -> None:
    dealer = rotation(91)
    assert len({dealer.deal("general").text for _ in range(91)}) == 91


def order(dealer: Rotation, channel: int, count: int = 50) -> list[str]:
    return [dealer.deal(channel).text for _ in range(count)]


def test_channels_and_processes_get_their_own_orders() -> None:
    dealer = rotation(50)
    first, second = order(dealer, 1), order(dealer, 2)
    assert first != second
    assert sorted(first) == sorted(second)
    assert order(rotation(50, key=1), 1) == first  # the same key gives the same order...
    assert order(rotation(50, key=2), 1) != first  # ...and another process's key another one


def test_every_fact_is_as_likely_to_open_a_channel_s_round() -> None:
    # 9,100 channels over 91 facts: about 100 each. A biased shuffle would favour a few facts,
    # and people in new channels would keep hearing the same ones first. (Fixed keys and
    # channels: the verdict is the same on every run.)
    dealer = Rotation(Collection.of(texts(91), "test"), key=7)
    first = collections.Counter(dealer.deal(channel).text for channel in range(9100))
    assert len(first) == 91
    assert 60 <= min(first.values()) <= max(first.values()) <= 140


def test_the_next_round_comes_in_a_new_order() -> None:
    dealer = rotation(30)
    rounds = [[dealer.deal("c").text for _ in range(30)] for _ in range(3)]
    assert rounds[0] != rounds[1] != rounds[2]


def test_one_fact_is_all_there_is() -> None:
    dealer = rotation(1)
    assert {dealer.deal("c").text for _ in range(5)} == {"Fact 0."}


def test_two_facts_alternate() -> None:
    dealer = rotation(2)
    told = [dealer.deal("c").text for _ in range(10)]
    assert all(a != b for a, b in itertools.pairwise(told))


def test_no_channel_means_any_fact_and_nothing_remembered() -> None:
    dealer = rotation(10)
    assert dealer.deal(None).text in texts(10)
    assert dealer.channels == 0


def test_the_least_recently_served_channel_is_forgotten_first() -> None:
    dealer = rotation(10, max_channels=3)
    for channel in ("x", "a", "b", "c"):
        dealer.deal(channel)
    assert dealer.remembers() == ["a", "b", "c"]  # "x", the oldest, was forgotten
    dealer.deal("a")
    assert dealer.remembers() == ["b", "c", "a"]  # "a" is now the most recent
    dealer.deal("x")
    assert dealer.remembers() == ["c", "a", "x"]


def test_a_forgotten_channel_starts_a_round_in_a_new_order() -> None:
    dealer = rotation(91, max_channels=1)
    before = order(dealer, 1, 91)
    dealer.deal(2)  # channel 1 is forgotten
    after = order(dealer, 1, 91)
    assert sorted(after) == sorted(before)  # a whole round, none twice...
    assert after != before  # ...but not a replay of the old one


def test_a_collection_is_the_same_whatever_order_or_repeats_it_came_in() -> None:
    assert Collection.of(["b", "a", "b"], "m") == Collection.of(["a", "b"], "m")
    assert Collection.of(["a", "b"], "m").facts == (Fact("a", "m"), Fact("b", "m"))
    assert Collection.of(["a"], "m") != Collection.of(["a"], "other")
    assert len(Collection.of(["a", "b", "a"], "m")) == 2


def test_an_empty_collection_cannot_be_dealt() -> None:
    with pytest.raises(ValueError, match="at least one fact"):
        Rotation(Collection.of([], "m"), key=1)


def test_a_fact_knows_whether_it_is_offline() -> None:
    assert Fact("Cats purr.", "offline").offline
    assert not Fact("Cats purr.", "meowfacts").offline
