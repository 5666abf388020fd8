"""The decode backlog stays bounded and drains while uploads continue (issue 12, point 7).

The full decode waits while photos stream in (the nurse's sync comes first), so under a load that
never stops it used to wait for its 30 s deadline and then compete at the lowest priority: 2,670
photos were still waiting after a 60 s load of 20 devices. Now a new upload waits while
``decode_backlog_max`` photos are waiting, so the sync goes at the pace the decode keeps.
``make bench`` (bench/backlog.py) measures it under 20 devices."""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Callable

import pytest

from sync_server.settings import Settings
from tests.support.photos import make_jpeg, manifest, seal, sequence_form

LIMIT = 2


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", pwa_dir=tmp_path / "no-pwa", max_pixels=40_000_000,
                    max_blob_bytes=8 * 1024 * 1024, max_json_bytes=256 * 1024, decode_backlog_max=LIMIT)


def _decode_check(http: Any) -> dict[str, Any]:
    body = http.get("/healthz").json()
    return body["checks"]["decode"]


def test_uploads_that_never_pause_keep_the_backlog_bounded_and_every_photo_is_decoded(
        http, device, services, call: Callable[..., Any]):
    public, kid = device.seal_key()
    sequence_id = str(uuid.uuid4())
    photos = [seal(make_jpeg(640, 480, seed=i), public, kid, sequence_id) for i in range(8)]
    body = manifest(device.device_id or "", [sequence_form(sequence_id)], photos,
                    views=["frontal", "right_lateral", "left_lateral", "right_oblique", "left_oblique", "basal",
                           "additional", "additional"], seal_key=(public, kid))
    assert device.propose(body).status_code == 201
    seen = []
    for photo in photos:  # back to back: the decoder never sees the quiet it waits for
        assert device.upload(body["batch_id"], photo.photo_id, photo.sealed).status_code == 204
        check = _decode_check(http)
        assert check["ok"] is True
        seen.append(check["backlog"])
    assert max(seen) <= LIMIT, seen  # without the bound: 1, 2, ..., 8 (all waiting for the 30 s deadline)
    states = call(services.store.fetch_all, "SELECT state FROM photo WHERE sequence_id = :s", {"s": sequence_id})
    assert sum(r["state"] == "verified" for r in states) >= len(photos) - LIMIT  # decoded while uploads went on
    assert device.commit(body["batch_id"]).status_code == 200
    call(services.decoder.wait_idle)
    states = call(services.store.fetch_all, "SELECT state FROM photo WHERE sequence_id = :s", {"s": sequence_id})
    assert [r["state"] for r in states] == ["verified"] * len(photos)
    assert _decode_check(http) == {"ok": True, "backlog": 0, "oldest_seconds": 0.0}


def test_a_new_upload_waits_at_most_the_given_time_for_room(services, call: Callable[..., Any]):
    decoder = services.decoder
    async def fill_and_wait() -> tuple[bool, bool]:
        decoder._pending.update({str(uuid.uuid4()): 0.0 for _ in range(LIMIT)})  # a backlog that cannot move
        try:
            full = await decoder.wait_room(LIMIT, 0.05)
            room = await decoder.wait_room(LIMIT + 1, 0.05)
        finally:
            decoder._pending.clear()
        return full, room
    assert call(fill_and_wait) == (False, True)
