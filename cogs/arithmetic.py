"""``!add`` and ``!sub`` (also ``/add`` and ``/sub``): exact arithmetic on two or more numbers."""

from __future__ import annotations

from discord import app_commands
from discord.ext import commands

from bot import operands
from bot.core import CatFactBot

NUMBERS_HELP = "two or more numbers separated by spaces"
# The prefix face reads the description from the parameter, the slash face from `describe`.
NUMBERS = commands.parameter(description=NUMBERS_HELP)
USAGE = "<number> <number> [more numbers...]"


class Arithmetic(commands.Cog):
    """Exact decimal arithmetic: 0.1 + 0.2 is 0.3 here."""

    @commands.hybrid_command(name="add", usage=USAGE, extras={"example": "2 3", "gives": "5"})  # type: ignore[arg-type]  # see bot/core.py
    @app_commands.describe(numbers=NUMBERS_HELP)
    async def add(self, ctx: commands.Context[CatFactBot], *, numbers: str = NUMBERS) -> None:
        """Add two or more numbers, exactly."""
        total = operands.add(operands.parse_operands(numbers))
        await ctx.send(operands.format_number(total))

    @commands.hybrid_command(name="sub", usage=USAGE, extras={"example": "10 4", "gives": "6"})  # type: ignore[arg-type]  # see bot/core.py
    @app_commands.describe(numbers=NUMBERS_HELP)
    async def sub(self, ctx: commands.Context[CatFactBot], *, numbers: str = NUMBERS) -> None:
        """Subtract the other numbers from the first, exactly."""
        difference = operands.subtract(operands.parse_operands(numbers))
        await ctx.send(operands.format_number(difference))


async def setup(bot: CatFactBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Arithmetic())
