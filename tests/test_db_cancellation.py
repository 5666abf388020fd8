"""A writer or reader cancelled at any point (a client gone, a shutdown) leaves the database whole.

Cancellation is how asyncio stops work: a request whose client went away, a background task at
shutdown. Whatever statement it interrupts, the connection must go back where it came from and
the transaction must end, or the next writers queue forever (a PostgreSQL pool whose connections
all leaked makes ``Pool.close()`` and every later query wait without end).
"""
from __future__ import annotations

import asyncio
import random
import uuid

import pytest

from sync_server.db import Db
from tests.conftest import both_backends

pytestmark = pytest.mark.asyncio


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    url = both_backends(request)
    return url or f"sqlite:///{tmp_path / 'cancel.db'}"


async def _cancel_midway(work, rounds: int, rng: random.Random) -> None:  # type: ignore[no-untyped-def]
    for _ in range(rounds):
        task = asyncio.create_task(work())
        await asyncio.sleep(rng.random() * 0.004)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass


async def test_cancelled_writers_and_readers_leak_nothing(db_url: str) -> None:
    db = Db(db_url)
    await db.connect()
    try:
        await db.execute("CREATE TABLE IF NOT EXISTS cancel_probe (id TEXT PRIMARY KEY, n INTEGER NOT NULL)")

        async def writer() -> None:
            while True:
                async with db.write() as w:
                    await w.execute("INSERT INTO cancel_probe (id, n) VALUES (:i, 1)", {"i": uuid.uuid4().hex})
                    await w.execute("UPDATE cancel_probe SET n = n + 1 WHERE n > 1000000")

        async def reader() -> None:
            while True:
                await db.fetch_val("SELECT COUNT(*) FROM cancel_probe")

        rng = random.Random(7)
        await asyncio.wait_for(_cancel_midway(writer, 150, rng), 120)
        await asyncio.wait_for(_cancel_midway(reader, 150, rng), 120)
        # the database still takes writes, and they are committed
        async def one_more() -> int:
            async with db.write() as w:
                await w.execute("INSERT INTO cancel_probe (id, n) VALUES ('last', 5)")
            return int(await db.fetch_val("SELECT n FROM cancel_probe WHERE id = 'last'"))
        assert await asyncio.wait_for(one_more(), 30) == 5
        # a write cancelled midway left nothing half-done: every row is whole
        assert await db.fetch_val("SELECT COUNT(*) FROM cancel_probe WHERE n <> 1 AND id <> 'last'") == 0
    finally:
        await asyncio.wait_for(db.disconnect(), 30)  # never waits for a connection that leaked
