-- Docking station (issue 11, point 6): what each phone last said it holds, counts only (never a
-- patient identifier), its sync state and progress, and whether a nurse asked it to sync now.
-- One row per device, written when the report changes (not at every heartbeat).
CREATE TABLE device_status (
    device_id TEXT PRIMARY KEY REFERENCES device (id),
    reported_at TEXT,
    pending_photos BIGINT NOT NULL DEFAULT 0,
    pending_sequences BIGINT NOT NULL DEFAULT 0,
    oldest_pending_at TEXT,
    sync_state TEXT NOT NULL DEFAULT 'idle',
    progress_done BIGINT,
    progress_total BIGINT,
    last_error_code TEXT,
    sync_requested_at TEXT,
    sync_requested_by TEXT
);
