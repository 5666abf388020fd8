"""The append path: the head this process remembers is only a guess, checked before each append.

Another process (the CLI) appends to the same log; a transaction that appended is rolled back;
a flush of coalesced entries is stopped by a shutdown. Each time the chain and the Merkle tree
must stay whole, and no caller may wait forever.
"""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sync_server.audit import merkle
from crypto import KeyStore

from sync_server.audit.log import AuditEvent, append, leaf_bytes, open_entry, record, record_many, verify_chain
from sync_server.audit.tree import root_at, tree_size
from sync_server.db import Db, GroupCommitError
from sync_server.storage.fields import PatientFields
from tests.conftest import both_backends

pytestmark = pytest.mark.asyncio


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return both_backends(request) or f"sqlite:///{tmp_path / 'audit.db'}"


@pytest.fixture
def fields(tmp_path: Path) -> PatientFields:
    """The install's keys for the patients the entries name (sealed in the rows, in clear in the leaves)."""
    return PatientFields(KeyStore.open(tmp_path / "keys"))


def _event(i: int) -> AuditEvent:
    return AuditEvent(action="photo.view", actor="user:dr-house", patient_id="IPP-0042", object=f"photo/{i}",
                      detail={"i": i})


async def _assert_whole(store: Db, entries: int) -> None:
    """The chain verifies and the stored tree is the RFC 9162 tree of exactly these entries."""
    report = await verify_chain(store)
    assert report.ok and report.entries == entries, report
    rows = await store.fetch_all("SELECT * FROM audit_entry ORDER BY seq")
    assert await tree_size(store) == entries
    assert await root_at(store, entries) == merkle.root_of(
        merkle.leaf_hash(leaf_bytes(open_entry(r, store.field_keys))) for r in rows)


async def test_appends_chain_on_after_another_process_appended(db_url: str, fields: PatientFields) -> None:
    server, cli = Db(db_url, fields), Db(db_url, fields)
    await server.connect()
    await cli.connect()
    try:
        assert [await record(server, _event(i)) for i in range(3)] == [1, 2, 3]
        assert await record_many(cli, [_event(3), _event(4)]) == [4, 5]  # the server's memory is now stale
        assert await asyncio.gather(*(record(server, _event(i)) for i in range(5, 9))) == [6, 7, 8, 9]
        assert await record(cli, _event(9)) == 10
        await _assert_whole(server, 10)
    finally:
        await cli.disconnect()
        await server.disconnect()


async def test_an_append_rolled_back_with_its_transaction_leaves_no_trace(db_url: str, fields: PatientFields) -> None:
    store = Db(db_url, fields)
    await store.connect()
    try:
        await record(store, _event(0))
        with pytest.raises(RuntimeError):
            async with store.write() as db:
                assert await append(db, _event(1)) == 2
                raise RuntimeError("the caller's own work failed after the append")
        assert await record(store, _event(2)) == 2  # the seq is reused, the chain goes on from entry 1
        await _assert_whole(store, 2)
        assert (await store.fetch_one("SELECT object FROM audit_entry WHERE seq = 2"))["object"] == "photo/2"
    finally:
        await store.disconnect()


async def test_a_stopped_flush_fails_its_entries_instead_of_leaving_them_waiting(db_url: str,
                                                                                 fields: PatientFields) -> None:
    store = Db(db_url, fields)
    await store.connect()
    try:
        waiting = asyncio.create_task(record(store, _event(0)))
        await asyncio.sleep(0)  # record() queued the entry and made the flush task, not yet started
        for task in asyncio.all_tasks() - {asyncio.current_task(), waiting}:
            task.cancel()  # as a shutdown does
        with pytest.raises(GroupCommitError):
            await asyncio.wait_for(waiting, 10)
        assert await asyncio.wait_for(record(store, _event(1)), 10) == 1  # the next entry is recorded
        await _assert_whole(store, 1)
    finally:
        await store.disconnect()
