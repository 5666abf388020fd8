"""A hospital group's ward: three ``clinphoto serve`` processes on one PostgreSQL and one data folder, behind
a real nginx (tests/support/ward.py). What only a shared install can get wrong: an upload resumed on
another process, one upload written by two at once, one batch committed by two at once, the audit
chain appended by all, and the work only one may do (outbox delivery, decoding what was left) done
once, by the leader, and taken over when the leader dies. The whole sync suite also runs on such a
ward (tests/test_sync_protocol.py)."""
from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

from sync_server.audit.log import verify_chain
from sync_server.db import Db, with_db
from sync_server.settings import Settings
from tests.conftest import Batch
from tests.interop.test_fhir_push import Emr, emr  # noqa: F401  (fixture)
from tests.support.client import SyncClient
from tests.support.server import ServerProcess
from tests.support.waiting import wait_for
from tests.support.ward import Ward

PATIENTS_CSV = "id,family,given,birth_date,sex\nIPP-0042,Dupont,Zoé,1980-01-02,F\n"


@pytest.fixture
def ward(tmp_path: Path, pg_database_url: str, emr: Emr) -> Iterator[Ward]:
    ward = Ward(tmp_path / "data", pg_database_url, CLINPHOTO_FHIR_PUSH_URL=emr.url,
                CLINPHOTO_OUTBOX_RETRY_SECONDS="1", CLINPHOTO_OUTBOX_RETRY_MAX_SECONDS="1",
                CLINPHOTO_LEFT_BEHIND_SECONDS="2")
    yield ward
    ward.stop()


def query(ward: Ward, work: Callable[[Db], Any]) -> Any:
    """Read the ward's database as one more process of the install would (its keys open the rows)."""
    settings = Settings(data_dir=ward.servers[0].data_dir, database_url=ward.servers[0].env["CLINPHOTO_DATABASE_URL"])
    return asyncio.run(with_db(settings, work))


def fetch(ward: Ward, sql: str, values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return query(ward, lambda store: store.fetch_all(sql, values))  # type: ignore[no-any-return]


def device_on(ward: Ward, client: httpx.Client, label: str = "Bloc 3 phone") -> SyncClient:
    device = SyncClient(client)
    assert device.enroll(ward.servers[0].enrollment_code(label)).status_code == 201
    return device


def direct(server: ServerProcess, device: SyncClient) -> SyncClient:
    """The same phone reaching one process straight (as a proxy's retry to another upstream would)."""
    other = SyncClient(server.client(timeout=30))
    other.credential, other.device_id, other.keys = device.credential, device.device_id, device.keys
    return other


def test_an_upload_begun_on_one_process_is_resumed_on_another_and_committed_on_a_third(ward: Ward) -> None:
    a, b, c = ward.servers
    phone = device_on(ward, a.client(timeout=30))
    on_a, on_b, on_c = phone, direct(b, phone), direct(c, phone)
    batch = Batch(phone, 1)
    photo = batch.photos[0]
    assert on_a.propose(batch.manifest).status_code == 201
    location = on_a.create_upload(batch.batch_id, photo.photo_id, len(photo.sealed)).headers["location"]
    third = len(photo.sealed) // 3
    assert on_a.patch(location, 0, photo.sealed[:third]).status_code == 204
    head = on_b.head(location)  # another process reads the offset from the shared part file
    assert head.status_code == 200 and int(head.headers["upload-offset"]) == third
    assert on_b.patch(location, third, photo.sealed[third:2 * third]).status_code == 204
    # back on the first process: its paused stream is behind the part file, so it is rebuilt from it
    done = on_a.patch(location, 2 * third, photo.sealed[2 * third:])
    assert done.status_code == 204 and int(done.headers["upload-offset"]) == len(photo.sealed)
    committed = on_c.commit(batch.batch_id)
    assert committed.status_code == 200
    assert [p["sha256"] for p in committed.json()["receipt"]["photos"]] == [photo.sha256]
    assert [r["state"] for r in fetch(ward, "SELECT state FROM photo")] in (["filed"], ["verified"])
    staged = list((a.data_dir / "objects" / ".staging").glob("*"))
    assert staged == [], f"a staging file outlived its upload: {staged}"


def test_one_upload_written_by_two_processes_at_once_is_taken_by_one_the_other_is_told_busy(ward: Ward) -> None:
    a, b, _ = ward.servers
    phone = device_on(ward, a.client(timeout=30))
    batch = Batch(phone, 1)
    photo = batch.photos[0]
    phone.propose(batch.manifest)
    location = phone.create_upload(batch.batch_id, photo.photo_id, len(photo.sealed)).headers["location"]
    holding = threading.Event()
    release = threading.Event()

    def slow_body() -> Iterator[bytes]:  # a phone on a weak signal: the first bytes, then a pause
        yield photo.sealed[:1000]
        holding.set()
        release.wait(30)
        yield photo.sealed[1000:]

    answers: list[httpx.Response] = []

    def first() -> None:
        with a.client(timeout=60) as http:
            answers.append(http.patch(location, content=slow_body(), headers={
                "Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream",
                "Content-Length": str(len(photo.sealed)), **phone.auth}))

    writer = threading.Thread(target=first)
    writer.start()
    assert holding.wait(30)
    time.sleep(0.5)  # the first process holds the upload now
    busy = direct(b, phone).patch(location, 0, photo.sealed)
    assert busy.status_code == 423 and busy.json()["error"]["code"] == "upload_busy", busy.text
    release.set()
    writer.join(60)
    assert answers and answers[0].status_code == 204, answers
    assert phone.commit(batch.batch_id).status_code == 200
    filed = fetch(ward, "SELECT action FROM audit_entry WHERE action = 'photo.file'")
    assert len(filed) == 1


def test_commits_of_one_batch_racing_on_two_processes_give_one_receipt_and_one_audit_entry(ward: Ward) -> None:
    a, b, _ = ward.servers
    phone = device_on(ward, ward.client(timeout=30))
    on_a, on_b = direct(a, phone), direct(b, phone)
    races = 6
    for _ in range(races):
        batch = Batch(phone, 1)
        # proposing at once on two processes: one creates it, the other finds it, neither fails
        proposed = _at_once(lambda: on_a.propose(batch.manifest), lambda: on_b.propose(batch.manifest))
        assert sorted(r.status_code for r in proposed) == [200, 201], [r.text for r in proposed]
        assert phone.upload(batch.batch_id, batch.photos[0].photo_id, batch.photos[0].sealed).status_code == 204
        answers = _at_once(lambda: on_a.commit(batch.batch_id), lambda: on_b.commit(batch.batch_id))
        codes = sorted(r.status_code for r in answers)
        assert codes == [200, 409], [r.text for r in answers]
        won = next(r for r in answers if r.status_code == 200).json()
        assert next(r for r in answers if r.status_code == 409).json()["error"]["code"] == "batch_already_committed"
        assert phone.receipt(batch.batch_id).json() == won  # the one receipt kept is the one the winner sent
    commits = fetch(ward, "SELECT object FROM audit_entry WHERE action = 'batch.commit' AND outcome = '0'")
    assert len(commits) == races and len({c["object"] for c in commits}) == races
    assert len(fetch(ward, "SELECT id FROM batch WHERE state = 'committed'")) == races


def _at_once(*calls: Callable[[], httpx.Response]) -> list[httpx.Response]:
    start = threading.Barrier(len(calls))
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def run(call: Callable[[], httpx.Response]) -> None:
        start.wait()
        answer = call()
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return answers


def test_the_audit_chain_is_one_chain_whoever_appends_and_the_once_only_work_is_done_once(
        ward: Ward, emr: Emr, tmp_path: Path) -> None:
    csv = tmp_path / "patients.csv"
    csv.write_text(PATIENTS_CSV)
    ward.servers[0].cli("import-patients", str(csv))
    leader = ward.one_leader()
    phones = [device_on(ward, ward.client(timeout=30), f"phone {i}") for i in range(3)]
    batches = [Batch(phone, 3) for phone in phones]

    def sync(phone: SyncClient, batch: Batch) -> None:
        assert phone.propose(batch.manifest).status_code == 201
        for photo in batch.photos:
            assert phone.upload(batch.batch_id, photo.photo_id, photo.sealed, chunk_size=4096).status_code == 204
        assert phone.commit(batch.batch_id).status_code == 200

    threads = [threading.Thread(target=sync, args=pair) for pair in zip(phones, batches)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert ward.nginx is not None and len(ward.nginx.upstreams_used()) == 3
    photos = {p.photo_id for b in batches for p in b.photos}
    # each photo checked once (by the process that filed it) and pushed to the EMR once (by the leader)
    wait_for(lambda: len(emr.received) >= len(photos), 60, "every photo pushed to the EMR")
    time.sleep(2)  # a second push of any photo would have come by now
    pushed = [r["bundle"]["entry"][0]["resource"]["id"] for r in emr.received]
    assert sorted(pushed) == sorted(photos)
    verified = fetch(ward, "SELECT object FROM audit_entry WHERE action = 'photo.verify'")
    assert sorted(v["object"] for v in verified) == sorted(f"photo/{p}" for p in photos)

    # the leader dies (kill -9): another process takes the lead and delivers what comes next
    leader.kill()
    follower = ward.one_leader(timeout=30)
    assert follower is not leader
    late = Batch(phones[0], 2)
    sync(phones[0], late)
    wait_for(lambda: len(emr.received) == len(photos) + 2, 60, "the new leader to push the next photos")
    assert sorted(r["bundle"]["entry"][0]["resource"]["id"] for r in emr.received[len(photos):]) == \
        sorted(p.photo_id for p in late.photos)

    # one chain: every entry of every process, in one order, verified
    result = query(ward, verify_chain)
    assert result.ok, result
    seqs = [r["seq"] for r in fetch(ward, "SELECT seq FROM audit_entry ORDER BY seq")]
    assert seqs == list(range(1, len(seqs) + 1))
    assert "verified" in follower.cli("audit", "verify")


def test_a_photo_a_stopped_process_left_unchecked_is_checked_by_the_leader(ward: Ward) -> None:
    phone = device_on(ward, ward.client(timeout=30))
    batch = Batch(phone, 1)
    photo_id = batch.photos[0].photo_id
    assert phone.propose(batch.manifest).status_code == 201
    assert phone.upload(batch.batch_id, photo_id, batch.photos[0].sealed).status_code == 204
    assert phone.commit(batch.batch_id).status_code == 200
    wait_for(lambda: fetch(ward, "SELECT state FROM photo")[0]["state"] == "verified", 30, "the photo's check")
    # as if the process that filed it had been killed before its check: filed, unchecked, for a while
    query(ward, lambda store: store.execute(
        "UPDATE photo SET state = 'filed', filed_at = '2026-01-01T00:00:00Z' WHERE id = :p", {"p": photo_id}))
    wait_for(lambda: fetch(ward, "SELECT state FROM photo")[0]["state"] == "verified", 30,
             "the leader to check what was left behind")
    checks = fetch(ward, "SELECT object FROM audit_entry WHERE action = 'photo.verify'")
    assert len(checks) == 2  # the first check, and the leader's


def test_guessing_enrolment_codes_gets_one_budget_across_the_processes(ward: Ward) -> None:
    """Ten attempts a minute from one address, whichever process nginx sends each to (not ten per process)."""
    with ward.client(timeout=30) as http:
        codes = [http.post("/api/v1/devices/enroll", json={"code": f"GUESS-{i:04d}-0000", "label": "x"}).status_code
                 for i in range(14)]
    assert ward.nginx is not None and len(ward.nginx.upstreams_used()) == 3
    assert 429 not in codes[:10] and codes[10:] == [429] * 4, codes
    refused = fetch(ward, "SELECT detail FROM audit_entry WHERE detail LIKE '%enrollment_throttled%'")
    assert len(refused) == 4


def test_a_start_removes_the_temp_files_of_processes_gone_never_those_of_a_live_one(tmp_path: Path) -> None:
    """Temp files carry their writer's instance id; each process holds a lock on its instance file."""
    import subprocess
    import sys

    from sync_server.cluster import INSTANCE_ID, Instance, staging_name, temp_name, writer_of
    from sync_server.storage.files import sweep_temp_files

    data, objects = tmp_path / "data", tmp_path / "data" / "objects" / ".staging"
    objects.mkdir(parents=True)
    other = subprocess.Popen([sys.executable, "-c",  # another server process of the install, alive
                              "import sys, time; from pathlib import Path; from sync_server.cluster import Instance, "
                              "INSTANCE_ID; Instance(Path(sys.argv[1])); print(INSTANCE_ID, flush=True); time.sleep(60)",
                              str(data)], stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout is not None
        theirs = other.stdout.readline().strip()
        mine = Instance(data)
        try:
            (data / "instances" / "0123456789abcdef").write_text("")  # a process killed long ago
            own = [staging_name("upload-4"), temp_name("photo.preview")]  # this process's own
            live = [f".upload-1.{theirs}.tmp", f".photo.original.{theirs}-a1b2c3.tmp"]  # the live one's
            gone = [".upload-2.0123456789abcdef.tmp", ".upload-3.tmp"]  # the dead one's; an earlier version's
            for name in own + live + gone:
                (objects / name).write_bytes(b"x")
            assert writer_of(objects / own[0]) == writer_of(objects / own[1]) == INSTANCE_ID
            assert mine.live() == {INSTANCE_ID, theirs}
            assert not (data / "instances" / "0123456789abcdef").exists()
            assert sweep_temp_files(data / "objects", mine.live()) == 2
            assert sorted(p.name for p in objects.iterdir()) == sorted(own + live)
            other.kill()  # kill -9: its lock goes with it
            other.wait(10)
            assert mine.live() == {INSTANCE_ID}
            assert sweep_temp_files(data / "objects", mine.live()) == 2
        finally:
            mine.close()
    finally:
        other.kill()
