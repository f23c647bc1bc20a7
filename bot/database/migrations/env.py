"""Alembic's entry point for the bot's migrations (see ``bot/database/core.py``).

The bot runs the migrations itself, on a connection it already holds and has locked
(``config.attributes["connection"]``). Alembic's own command line works too
(``alembic -c bot/database/alembic.ini ...``, for writing a new revision): it then connects to
``DATABASE_URL`` from the environment.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bot.database.schema import metadata
from bot.database.url import parse_database_url


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite alters a table by copying it; batch mode does that for every ALTER.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_from_environment() -> None:
    database = parse_database_url(os.environ.get("DATABASE_URL"))
    engine = create_async_engine(
        database.url, connect_args=database.connect_args, poolclass=NullPool
    )
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run)
    finally:
        await engine.dispose()


given = context.config.attributes.get("connection")
if given is not None:
    run(given)
else:
    asyncio.run(run_from_environment())
