"""The database: what the bot must remember, kept in SQLite by default or in PostgreSQL.

The rest of the bot imports from this package only: :func:`parse_database_url` reads
``DATABASE_URL``, :class:`Database` connects and migrates, and :mod:`~bot.database.schema` holds
the tables. The modules:

- :mod:`~bot.database.url`: ``DATABASE_URL`` as operators write it (Heroku's ``postgres://``);
- :mod:`~bot.database.core`: the engine, SQLite's settings, migrations under a lock;
- :mod:`~bot.database.schema`: the tables as they are at the latest migration;
- ``migrations/``: Alembic's history of the schema, one file a change.
"""

from __future__ import annotations

from bot.database import schema
from bot.database.core import UNAVAILABLE, Database, head_revision
from bot.database.url import DEFAULT_DATABASE_URL, DatabaseURL, parse_database_url

__all__ = [
    "DEFAULT_DATABASE_URL",
    "UNAVAILABLE",
    "Database",
    "DatabaseURL",
    "head_revision",
    "parse_database_url",
    "schema",
]
