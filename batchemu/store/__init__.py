"""Durable state in SQLite (stdlib sqlite3, WAL): schema migrations, transactions, typed queries.

Documents are stored as JSON with wire (camelCase) keys. Must not know HTTP or Docker.
"""

from batchemu.store.db import Store

__all__ = ["Store"]
