-- Interop (issue 6): the hospital patient index, each sequence's reconciled identity, the PACS outbox.
-- The patient index as the hospital feeds it (HL7 v2 ADT or CSV); a merged identity points to its survivor.
CREATE TABLE patient_index (
    id TEXT PRIMARY KEY,
    family TEXT,
    given TEXT,
    birth_date TEXT,
    sex TEXT,
    merged_into TEXT,
    source TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
-- One row per sequence once reconciled: the identity it is filed under, or why it waits in quarantine.
-- sequence.patient_id keeps what the device sent (evidence); patient_id here is the index identity.
CREATE TABLE sequence_identity (
    sequence_id TEXT PRIMARY KEY REFERENCES sequence (id),
    claimed_id TEXT NOT NULL,
    patient_id TEXT,
    state TEXT NOT NULL,
    reason TEXT,
    decided_by TEXT NOT NULL,
    decided_at TEXT NOT NULL
);
CREATE INDEX sequence_identity_patient ON sequence_identity (patient_id);
CREATE INDEX sequence_identity_state ON sequence_identity (state);
-- Durable outbox: one row per photo and target; the worker moves it pending -> sent | failed | skipped.
CREATE TABLE interop_outbox (
    photo_id TEXT NOT NULL REFERENCES photo (id),
    target TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    PRIMARY KEY (photo_id, target)
);
CREATE INDEX interop_outbox_due ON interop_outbox (state, next_attempt_at);
