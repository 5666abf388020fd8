-- Audit alerts (issue 5): what the alert scanner raised, how far it has read, the restricted patients.
-- One alert covers a run of entries of one kind about one subject (an address, a person, a device,
-- a patient and who touched it); entry_count entries, first_seq..last_seq, the latest at last_ts.
CREATE TABLE audit_alert (
    id {serial_pk},
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    subject TEXT NOT NULL,
    raised_at TEXT NOT NULL,
    actor TEXT,
    device_id TEXT,
    patient_id TEXT,
    entry_count BIGINT NOT NULL,
    first_seq BIGINT NOT NULL,
    last_seq BIGINT NOT NULL,
    last_ts TEXT NOT NULL,
    acknowledged_at TEXT,
    acknowledged_by TEXT
);
CREATE INDEX audit_alert_subject ON audit_alert (kind, subject, acknowledged_at);
CREATE INDEX audit_alert_open ON audit_alert (acknowledged_at);
-- The last entry the scanner has read; alerts and the cursor advance in one transaction.
-- An existing log starts at its current end: alerts are about what happens from now on.
CREATE TABLE audit_alert_cursor (
    id INTEGER PRIMARY KEY,
    seq BIGINT NOT NULL,
    updated_at TEXT NOT NULL
);
INSERT INTO audit_alert_cursor (id, seq, updated_at) SELECT 1, seq, '' FROM audit_head WHERE id = 1;
-- Patients an officer flagged as restricted (VIP, staff member...): any access raises an alert.
CREATE TABLE audit_restricted_patient (
    patient_id TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    since TEXT NOT NULL,
    marked_by TEXT NOT NULL
);
-- The officer's periods (since, until). Only this one: each index on audit_entry slows every append, and
-- one on ts costs little because it only ever grows at its right edge; a person or device search walks
-- the entries (newest first, stopping at a full page) or the period's index range.
CREATE INDEX audit_entry_ts ON audit_entry (ts);
