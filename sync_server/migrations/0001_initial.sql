-- Devices and their one-time enrolment codes. Credentials and codes are kept only as SHA-256.
CREATE TABLE device (
    id TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    credential_hash TEXT NOT NULL,
    enrolled_at TEXT NOT NULL,
    revoked_at TEXT,
    last_seen_at TEXT
);
CREATE TABLE enrollment_code (
    code_hash TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    device_id TEXT
);
-- Clinical data: a sequence is one form; photos belong to a sequence.
CREATE TABLE sequence (
    id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    form_sha256 TEXT NOT NULL,
    form TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX sequence_patient ON sequence (patient_id);
CREATE TABLE photo (
    id TEXT PRIMARY KEY,
    sequence_id TEXT NOT NULL REFERENCES sequence (id),
    view TEXT NOT NULL,
    captured_at TEXT NOT NULL,
    mime TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    sealed_sha256 TEXT NOT NULL,
    sealed_size INTEGER NOT NULL,
    -- expected: named by a manifest, not yet filed; filed: stored durably, decode pending;
    -- verified: fully decoded, renditions made; quarantined: kept but never served.
    state TEXT NOT NULL,
    size INTEGER,
    width INTEGER,
    height INTEGER,
    storage_key TEXT,
    kek_id TEXT,
    stored_size INTEGER,
    filed_at TEXT,
    checked_at TEXT,
    quarantine_reason TEXT
);
CREATE INDEX photo_state ON photo (state);
CREATE TABLE rendition (
    photo_id TEXT NOT NULL REFERENCES photo (id),
    kind TEXT NOT NULL,
    storage_key TEXT NOT NULL,
    kek_id TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    stored_size INTEGER NOT NULL,
    PRIMARY KEY (photo_id, kind)
);
-- A batch is one proposal of a device; its manifest is kept verbatim with its digest.
CREATE TABLE batch (
    id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES device (id),
    manifest_sha256 TEXT NOT NULL,
    manifest TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    committed_at TEXT,
    receipt TEXT
);
CREATE TABLE batch_photo (
    batch_id TEXT NOT NULL REFERENCES batch (id),
    photo_id TEXT NOT NULL REFERENCES photo (id),
    PRIMARY KEY (batch_id, photo_id)
);
-- tus uploads in flight; the bytes live in <data_dir>/uploads/<id>.part
CREATE TABLE upload (
    id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    photo_id TEXT NOT NULL,
    length INTEGER NOT NULL,
    "offset" INTEGER NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    error_code TEXT
);
CREATE INDEX upload_state ON upload (state);
-- The audit trail: append-only, each entry chained to the previous one by SHA-256.
CREATE TABLE audit_entry (
    seq BIGINT PRIMARY KEY,
    ts TEXT NOT NULL,
    actor TEXT NOT NULL,
    device_id TEXT,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    patient_id TEXT,
    object TEXT,
    detail TEXT NOT NULL,
    address TEXT,
    prev_hash TEXT NOT NULL,
    entry_hash TEXT NOT NULL
);
CREATE INDEX audit_patient ON audit_entry (patient_id);
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY,
    seq BIGINT NOT NULL,
    entry_hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, entry_hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
