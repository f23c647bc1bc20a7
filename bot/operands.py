"""Exact, bounded parsing of the numbers people type, and exact arithmetic on them.

People expect ``0.1 + 0.2`` to be ``0.3``, so numbers are :class:`decimal.Decimal`, never floats.
Input is bounded *before* it is converted: at most :data:`MAX_OPERANDS` numbers of at most
:data:`MAX_OPERAND_LENGTH` characters each, in plain positional notation only (no exponents, so
``1e999999999`` cannot ask for a billion digits). Within those bounds every sum and difference is
exact, and computing it takes microseconds.
"""

from __future__ import annotations

import decimal
import enum
import re
from collections.abc import Iterable, Sequence

from discord.ext import commands

MAX_OPERANDS = 25
MAX_OPERAND_LENGTH = 50
MIN_OPERANDS = 2

# Digits are ASCII only: Python's Decimal would also accept other scripts' digits, which people do
# not mean to type into a calculator and which would make the echoed numbers confusing.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_NON_FINITE = re.compile(r"[+-]?(?:nan|snan|inf|infinity)", re.IGNORECASE)
_SCIENTIFIC = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][+-]?[0-9]+")

# Enough digits for any sum of MAX_OPERANDS numbers of MAX_OPERAND_LENGTH characters; Inexact is
# trapped so that, should the bounds ever change without this, we fail loudly instead of rounding.
_EXACT = decimal.Context(
    prec=4 * MAX_OPERAND_LENGTH,
    traps=[decimal.Inexact, decimal.InvalidOperation, decimal.Overflow],
)


class Problem(enum.Enum):
    """What is wrong with the input; the error handler turns each into a sentence."""

    NOT_A_NUMBER = "not a number"
    NOT_FINITE = "not finite"
    EXPONENT = "an exponent"
    TOO_LONG = "too long"
    TOO_FEW = "too few numbers"
    TOO_MANY = "too many numbers"


class OperandError(commands.BadArgument):
    """The operands of an arithmetic command are unusable."""

    def __init__(self, problem: Problem, token: str = "", *, plain: str | None = None) -> None:
        super().__init__(f"{problem.value}: {token[:MAX_OPERAND_LENGTH]!r}")
        self.problem = problem
        self.token = token
        self.plain = plain
        """For :attr:`Problem.EXPONENT`: the number written out, when that fits the limits."""


def parse_operands(text: str) -> list[decimal.Decimal]:
    """Split ``text`` on whitespace into between two and :data:`MAX_OPERANDS` exact numbers.

    Each word is read before the words are counted, so ``!add abc`` hears that ``abc`` is not
    a number rather than that one number is too few. Only more than :data:`MAX_OPERANDS` words
    are refused before any is read, which bounds the work.
    """
    tokens = text.split()
    if len(tokens) > MAX_OPERANDS:
        raise OperandError(Problem.TOO_MANY)
    numbers = [parse_number(token) for token in tokens]
    if len(numbers) < MIN_OPERANDS:
        raise OperandError(Problem.TOO_FEW, text.strip())
    return numbers


def parse_number(token: str) -> decimal.Decimal:
    """Convert one token, checking its length before anything else is done with it."""
    if len(token) > MAX_OPERAND_LENGTH:
        raise OperandError(Problem.TOO_LONG, token)
    normalized = token.replace("\N{MINUS SIGN}", "-")
    if _NON_FINITE.fullmatch(normalized):
        raise OperandError(Problem.NOT_FINITE, token)
    if _SCIENTIFIC.fullmatch(normalized):
        raise OperandError(Problem.EXPONENT, token, plain=written_out(normalized))
    if not _NUMBER.fullmatch(normalized):
        raise OperandError(Problem.NOT_A_NUMBER, token)
    return decimal.Decimal(normalized)


def written_out(scientific: str) -> str | None:
    """``1e5`` as ``100000``: a number in scientific notation in plain notation, or ``None``
    when that would be longer than :data:`MAX_OPERAND_LENGTH` (checked from the exponent before
    any digit is written, so ``1e999999999`` costs nothing)."""
    number = decimal.Decimal(scientific)
    exponent = abs(number.adjusted())
    # Equivalent mutants: the length check below refuses the same numbers; this one only keeps
    # a number like 1e999999999 from being written out before it is refused
    if exponent >= MAX_OPERAND_LENGTH:  # pragma: no mutate
        return None
    plain = format_number(number)
    return plain if len(plain) <= MAX_OPERAND_LENGTH else None


def add(numbers: Iterable[decimal.Decimal]) -> decimal.Decimal:
    """The exact sum."""
    total = decimal.Decimal(0)
    for number in numbers:
        total = _EXACT.add(total, number)
    return total


def subtract(numbers: Sequence[decimal.Decimal]) -> decimal.Decimal:
    """The first number minus all the others, exactly."""
    first, *rest = numbers
    return _EXACT.subtract(first, add(rest))


def format_number(number: decimal.Decimal) -> str:
    """Plain notation without trailing zeros: ``0.30`` is ``0.3``, ``-0`` is ``0``."""
    text = f"{number:f}"
    if "." in text:
        # Equivalent mutants: rstrip takes a set of characters, and a formatted number holds no X
        text = text.rstrip("0").rstrip(".")  # pragma: no mutate
    return "0" if text == "-0" else text
