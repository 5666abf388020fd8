"""The database: one ``databases.Database``, its pragmas, its migrations, one writer at a time.

SQLite is the embedded default (WAL, ``synchronous=FULL``: a committed row survives a power
cut); PostgreSQL is reached by the same SQL through asyncpg. Every write goes through
``Db.write()``, which serialises writers in this process: SQLite allows one writer anyway, and
the audit hash chain needs its appends in a single order.

With SQLite, ``databases`` would open a fresh connection (and thread) for every request task;
we keep two long-lived ones instead: a writer used only under the write lock, and a reader
that, thanks to WAL, sees only committed data while a write is in progress.

Group commit (SQLite): with ``synchronous=FULL`` every COMMIT waits for an fsync, and one
fsync per request would cap ingest at the disk's fsync rate. Writers that queue while a
transaction is open join it, each inside its own SAVEPOINT (a failing writer rolls back only
its own work), and one COMMIT makes the whole group durable. No writer returns before that
COMMIT: durability per caller is unchanged, only the fsyncs are shared.
"""
from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path
from typing import Any, AsyncIterator, Mapping

import databases
import databases.core

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
        self._writer: Any = self.database
        self._reader: Any = self.database
        self._group: asyncio.Future[None] | None = None

    async def connect(self) -> None:
        await self.database.connect()
        if self.is_sqlite:
            backend = self.database._backend  # databases has no public way to hold a connection open
            self._writer = await databases.core.Connection(self.database, backend).__aenter__()
            self._reader = await databases.core.Connection(self.database, backend).__aenter__()
        await self.migrate()

    async def disconnect(self) -> None:
        if self.is_sqlite:
            await self._reader.__aexit__(None, None, None)
            await self._writer.__aexit__(None, None, None)
        await self.database.disconnect()

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[Any]:
        """A write transaction, durable when the block exits; writers queue here, never fight for locks."""
        if not self.is_sqlite:
            async with self._write_lock:
                async with self._writer.transaction():
                    yield self._writer
            return
        async with self._write_lock:
            if self._group is None:
                await self._writer.execute("BEGIN IMMEDIATE")
                self._group = asyncio.get_running_loop().create_future()
                asyncio.get_running_loop().create_task(self._commit_group())
            group = self._group
            await self._writer.execute("SAVEPOINT writer")
            try:
                yield self._writer
            except BaseException:
                await self._writer.execute("ROLLBACK TO writer")
                await self._writer.execute("RELEASE writer")
                raise
            await self._writer.execute("RELEASE writer")
        await asyncio.shield(group)

    async def _commit_group(self) -> None:
        # queued behind the writers already waiting for the lock: they join this group first
        async with self._write_lock:
            group, self._group = self._group, None
            assert group is not None
            try:
                await self._writer.execute("COMMIT")
            except BaseException as exc:
                with contextlib.suppress(Exception):
                    await self._writer.execute("ROLLBACK")
                group.set_exception(exc)
                group.exception()  # retrieved: members that rolled back their own work do not wait
                return
            group.set_result(None)

    async def fetch_one(self, query: str, values: Mapping[str, Any] | None = None) -> Mapping[str, Any] | None:
        row = await self._reader.fetch_one(query, values)
        return dict(row._mapping) if row is not None else None

    async def fetch_all(self, query: str, values: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        rows = await self._reader.fetch_all(query, values)
        return [dict(r._mapping) for r in rows]

    async def fetch_val(self, query: str, values: Mapping[str, Any] | None = None) -> Any:
        return await self._reader.fetch_val(query, values)

    async def execute(self, query: str, values: Mapping[str, Any] | None = None) -> Any:
        """A single-statement write (tests and tools); service code uses ``write()``."""
        async with self.write() as db:
            return await db.execute(query, values)

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
