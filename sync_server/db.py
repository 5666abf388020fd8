"""The database: one ``databases.Database``, its pragmas, its migrations, one writer at a time.

SQLite is the embedded default (WAL, ``synchronous=FULL``: a committed row survives a power
cut); PostgreSQL is reached by the same SQL through asyncpg. Every write goes through
``Db.write()``, which serialises writers in this process: SQLite allows one writer anyway, and
the audit hash chain needs its appends in a single order.
"""
from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path
from typing import Any, AsyncIterator, Mapping, Sequence

import databases

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class _SQLiteConnection(sqlite3.Connection):
    """Every pooled SQLite connection gets the durability pragmas before first use."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.execute("PRAGMA journal_mode=WAL")
        self.execute("PRAGMA synchronous=FULL")
        self.execute("PRAGMA foreign_keys=ON")
        self.execute("PRAGMA busy_timeout=30000")


class Db:
    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        options: dict[str, Any] = {"factory": _SQLiteConnection} if self.is_sqlite else {}
        if self.is_sqlite:
            Path(url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
        self.database = databases.Database(url, **options)
        self._write_lock = asyncio.Lock()

    async def connect(self) -> None:
        await self.database.connect()
        await self.migrate()

    async def disconnect(self) -> None:
        await self.database.disconnect()

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[databases.Database]:
        """A write transaction; writers in this process queue here instead of fighting for locks."""
        async with self._write_lock:
            async with self.database.transaction():
                yield self.database

    async def fetch_one(self, query: str, values: Mapping[str, Any] | None = None) -> Mapping[str, Any] | None:
        row = await self.database.fetch_one(query, values)
        return dict(row._mapping) if row is not None else None

    async def fetch_all(self, query: str, values: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        rows = await self.database.fetch_all(query, values)
        return [dict(r._mapping) for r in rows]

    async def fetch_val(self, query: str, values: Mapping[str, Any] | None = None) -> Any:
        return await self.database.fetch_val(query, values)

    async def execute(self, query: str, values: Mapping[str, Any] | None = None) -> Any:
        return await self.database.execute(query, values)

    async def execute_many(self, query: str, values: Sequence[Mapping[str, Any]]) -> None:
        await self.database.execute_many(query, list(values))

    async def migrate(self) -> list[int]:
        """Apply every migration not yet applied, in order, each in its own transaction."""
        applied: list[int] = []
        async with self.write() as db:
            await db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migration (version INTEGER PRIMARY KEY, "
                "name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
        done = {r["version"] for r in await self.fetch_all("SELECT version FROM schema_migration")}
        for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
            version = int(path.name.split("_", 1)[0])
            if version in done:
                continue
            async with self.write() as db:
                for statement in _statements(path.read_text(), self.is_sqlite):
                    await db.execute(statement)
                await db.execute(
                    "INSERT INTO schema_migration (version, name, applied_at) "
                    "VALUES (:v, :n, CURRENT_TIMESTAMP)",
                    {"v": version, "n": path.stem},
                )
            applied.append(version)
        return applied


def _statements(script: str, is_sqlite: bool) -> list[str]:
    # Migrations are portable SQL; the one dialect difference we need is the auto-increment key.
    script = script.replace(
        "{serial_pk}", "INTEGER PRIMARY KEY" if is_sqlite else "BIGSERIAL PRIMARY KEY"
    )
    lines = [l for l in script.splitlines() if not l.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
