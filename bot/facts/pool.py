"""The fact pool: a provider's whole collection in memory, and each channel's way through it.

A :class:`Collection` is a snapshot of every fact one provider had when it was asked: cleaned,
without duplicates and in a canonical order, so two fetches of the same facts compare equal even
though meowfacts returns its list in a new order every time.

A :class:`Rotation` deals a collection's facts to channels. Every channel walks its own shuffled
order through the whole collection, so it hears each fact once before any fact comes again; then
its next round starts, in a new order, and never with the fact the channel has just had.

The only thing remembered per channel is a count: where the channel is in an endless series of
rounds, each in its own shuffled order. A channel seen for the first time (or forgotten) starts
at a round drawn at random from about a million, so channels seldom share an order and a
channel that comes back does not replay the one it had. (Such a channel, like every channel
after the collection changes, may open with the fact it last heard: about one time in as many
as there are facts.) The orders themselves are never stored: round *r*'s is recomputed on
demand from a secret key and *r* by a keyed pseudo-random permutation (a four-round Feistel
network over the next power of two, walking the cycle back into range), which maps position *i*
of a round to a fact in constant time. So memory per channel stays about a hundred bytes whatever
the collection's size, and the number of channels remembered is bounded too (the least recently
served are forgotten).
"""

from __future__ import annotations

import collections
import dataclasses
import random
from collections.abc import Hashable, Iterable

OFFLINE = "offline"
"""The source name of facts from the bundled collection (:mod:`bot.facts.offline`)."""

MAX_CHANNELS = 100_000
"""Channels whose place in their rotation is remembered; the least recently served are forgotten
(a forgotten channel starts a new round, in an order of its own). About 110 to 140 bytes each,
measured by ``make bench``."""

_START_ROUND_BITS = 20
"""A new channel starts at one of about a million rounds (its count stays a 28-byte int)."""
_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB


@dataclasses.dataclass(frozen=True, slots=True)
class Fact:
    """One fact, already cleaned for display, and where it came from."""

    text: str
    source: str
    """The provider's name, or :data:`OFFLINE`."""

    @property
    def offline(self) -> bool:
        """True for a fact from the bundled collection rather than a live provider."""
        return self.source == OFFLINE


@dataclasses.dataclass(frozen=True, slots=True)
class Collection:
    """Every fact one source had, deduplicated, in a canonical (sorted) order."""

    facts: tuple[Fact, ...]
    source: str

    @classmethod
    def of(cls, texts: Iterable[str], source: str) -> Collection:
        """The collection of ``texts`` from ``source``; order and repeats do not matter."""
        return cls(tuple(Fact(text, source) for text in sorted(set(texts))), source)

    def __len__(self) -> int:
        return len(self.facts)


# Equivalent mutants: any mixing function makes a shuffle: a Feistel round undoes itself whatever
# it mixes with, and tests may rely only on the shuffle's properties
def _mix(value: int) -> int:  # pragma: no mutate block
    """A 64-bit finaliser (SplitMix64's): every input bit affects every output bit."""
    value = ((value ^ (value >> 30)) * _MIX1) & _MASK64
    value = ((value ^ (value >> 27)) * _MIX2) & _MASK64
    return value ^ (value >> 31)


def permute(index: int, size: int, key: int) -> int:
    """Position ``index`` of the pseudo-random permutation of ``range(size)`` chosen by ``key``.

    The positions are split into a high and a low half of ``bits`` bits in all; each of four
    rounds replaces one half by itself XOR a mix of the other half and a round key. Every round
    can be undone, so together they shuffle all ``2 ** bits`` values, whatever the mix (an
    unbalanced Feistel network); applying them again to a value that lands outside
    ``range(size)`` ("cycle walking") makes it a shuffle of ``range(size)``. That range is more
    than half of ``2 ** bits``, so fewer than two steps are needed on average.
    """
    if size <= 1:
        return 0
    # Equivalent mutants: a larger or smaller domain only changes the cycle walking; still a
    # shuffle, checked for every size to 256 and around powers of two
    bits = (size - 1).bit_length()  # pragma: no mutate
    # Equivalent mutants: halves of other widths still make rounds that undo themselves
    # pragma: no mutate start
    low_bits = bits - bits // 2
    high_mask, low_mask = (1 << (bits // 2)) - 1, (1 << low_bits) - 1
    # pragma: no mutate end
    k1 = _mix(key & _MASK64)
    k2 = (k1 + _GOLDEN) & _MASK64
    # Equivalent mutants: a weaker round key is still a round that undoes itself
    # pragma: no mutate start
    k3 = (k2 + _GOLDEN) & _MASK64
    k4 = (k3 + _GOLDEN) & _MASK64
    # pragma: no mutate end
    value = index
    while True:
        high, low = value >> low_bits, value & low_mask
        # Equivalent mutants: a round's mixing changes the order, not that it undoes itself
        # pragma: no mutate start
        low ^= _mix(high ^ k1) & low_mask
        high ^= _mix(low ^ k2) & high_mask
        low ^= _mix(high ^ k3) & low_mask
        high ^= _mix(low ^ k4) & high_mask
        # pragma: no mutate end
        value = (high << low_bits) | low
        if value < size:
            return value


class Rotation:
    """Deals the facts of one :class:`Collection` to channels without repeats within a round.

    Per channel it keeps one integer, the number of facts dealt, in an ordered mapping bounded by
    ``max_channels``. ``key`` chooses the orders and where new channels start: each process's
    are its own, and a test's are repeatable.
    """

    def __init__(
        self, collection: Collection, *, key: int, max_channels: int = MAX_CHANNELS
    ) -> None:
        if not collection.facts:
            raise ValueError("a rotation needs at least one fact")
        self.collection = collection
        self.max_channels = max_channels
        self._key = key
        self._rng = random.Random(key)  # noqa: S311  # variety, not secrecy
        self._dealt: collections.OrderedDict[Hashable, int] = collections.OrderedDict()

    @property
    def channels(self) -> int:
        """Channels whose place is remembered."""
        return len(self._dealt)

    def remembers(self) -> list[Hashable]:
        """The channels whose place is remembered, least recently served first."""
        return list(self._dealt)

    def deal(self, channel: Hashable | None) -> Fact:
        """The next fact for ``channel``; with no channel, any fact."""
        facts = self.collection.facts
        if channel is None:
            return self._rng.choice(facts)
        dealt = self._dealt.get(channel)
        if dealt is None:
            # A channel new to this rotation (or forgotten) starts a round of its own at random,
            # so a channel that keeps being forgotten does not replay the same order each time.
            dealt = self._rng.getrandbits(_START_ROUND_BITS) * len(facts)
        self._dealt[channel] = dealt + 1
        self._dealt.move_to_end(channel)
        if len(self._dealt) > self.max_channels:
            # Equivalent mutants: popitem reads last as a truth value
            self._dealt.popitem(last=False)  # pragma: no mutate
        return facts[self.position(dealt)]

    def position(self, dealt: int) -> int:
        """Which fact comes after ``dealt`` facts of a channel's count (its start included)."""
        size = len(self.collection.facts)
        if size == 2:  # only one order never repeats: alternate
            return permute(dealt % 2, size, self._key)
        round_number, index = divmod(dealt, size)
        if index < 2:
            # A round must not open with the fact the previous one ended with: if it would, its
            # first two facts trade places. (Position size-1 is never one of those two.)
            previous_last = permute(size - 1, size, _round_key(self._key, round_number - 1))
            if permute(0, size, _round_key(self._key, round_number)) == previous_last:
                index = 1 - index
        return permute(index, size, _round_key(self._key, round_number))


def _round_key(key: int, round_number: int) -> int:
    # Equivalent mutants: each round still gets a key of its own
    return (key + round_number * _GOLDEN) & _MASK64  # pragma: no mutate


__all__ = ["MAX_CHANNELS", "OFFLINE", "Collection", "Fact", "Rotation", "permute"]
