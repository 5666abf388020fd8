"""SQLite group commit: a group whose committer never commits is answered, never left waiting.

The committer is a task of its own. A shutdown cancels every task; a task can also be cancelled
before its first step, and then none of its code runs. Whatever happens to it, the writers of its
group must get an error instead of waiting forever, later writers must not join the dead group,
and what the group wrote must not survive.
"""
from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from sync_server.db import Db, GroupCommitError

pytestmark = pytest.mark.asyncio


def _stop_every_other_task(*keep: asyncio.Task[object] | None) -> None:
    """What a shutdown does to the tasks it does not wait for (here: the committer)."""
    for task in asyncio.all_tasks():
        if task not in keep:
            task.cancel()


async def _open(path: Path) -> Db:
    store = Db(f"sqlite:///{path}")
    await store.connect()
    await store.execute("CREATE TABLE probe (id INTEGER PRIMARY KEY)")
    return store


def _committed(path: Path) -> list[int]:
    with sqlite3.connect(path) as other:  # another connection sees only what was committed
        return [r[0] for r in other.execute("SELECT id FROM probe ORDER BY id")]


async def test_a_group_whose_committer_is_cancelled_fails_instead_of_hanging(tmp_path: Path) -> None:
    store = await _open(tmp_path / "t.db")
    try:
        inside, release = asyncio.Event(), asyncio.Event()

        async def first() -> None:
            async with store.write() as db:
                await db.execute("INSERT INTO probe (id) VALUES (1)")
                inside.set()
                await release.wait()  # the group is open; its committer waits for the lock

        async def later() -> None:
            async with store.write() as db:
                await db.execute("INSERT INTO probe (id) VALUES (2)")

        writer = asyncio.create_task(first())
        await inside.wait()
        _stop_every_other_task(asyncio.current_task(), writer)
        queued = asyncio.create_task(later())  # waits for the lock: must not join the dead group
        await asyncio.sleep(0)
        release.set()
        with pytest.raises(GroupCommitError):
            await asyncio.wait_for(writer, 10)
        await asyncio.wait_for(queued, 10)
        await asyncio.wait_for(store.execute("INSERT INTO probe (id) VALUES (3)"), 10)
        assert _committed(tmp_path / "t.db") == [2, 3]  # the failed group's row was rolled back
    finally:
        await asyncio.wait_for(store.disconnect(), 10)


async def test_a_committer_cancelled_before_its_first_step_fails_its_group(tmp_path: Path) -> None:
    store = await _open(tmp_path / "t.db")
    try:
        writer = asyncio.create_task(store.execute("INSERT INTO probe (id) VALUES (1)"))
        while not store._group:  # the writer opened its group: the committer exists, not yet started
            await asyncio.sleep(0)
        _stop_every_other_task(asyncio.current_task(), writer)
        with pytest.raises(GroupCommitError):
            await asyncio.wait_for(writer, 10)
        await asyncio.wait_for(store.execute("INSERT INTO probe (id) VALUES (2)"), 10)
        assert _committed(tmp_path / "t.db") == [2]
    finally:
        await asyncio.wait_for(store.disconnect(), 10)


async def test_a_failing_first_writer_rolls_back_alone_and_the_next_group_commits(tmp_path: Path) -> None:
    store = await _open(tmp_path / "t.db")
    try:
        with pytest.raises(sqlite3.IntegrityError):
            async with store.write() as db:
                await db.execute("INSERT INTO probe (id) VALUES (1)")
                await db.execute("INSERT INTO probe (id) VALUES (1)")

        async def one(i: int) -> None:
            async with store.write() as db:
                await db.execute("INSERT INTO probe (id) VALUES (:i)", {"i": i})
                if i in (2, 4):  # the first writer of a group, then one that joined the next group
                    raise ValueError("this writer changes its mind")

        results = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(2, 6)), return_exceptions=True), 10)
        assert [type(r).__name__ for r in results] == ["ValueError", "NoneType", "ValueError", "NoneType"]
        assert _committed(tmp_path / "t.db") == [3, 5]
    finally:
        await asyncio.wait_for(store.disconnect(), 10)
