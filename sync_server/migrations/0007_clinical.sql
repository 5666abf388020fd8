-- Clinicians' workspace (issue 10): consent changes (the form's level is the first; each change is a row,
-- never an update, so the history stays), and the patients each person opened last.
CREATE TABLE sequence_consent (
    id {serial_pk},
    sequence_id TEXT NOT NULL REFERENCES sequence (id),
    previous TEXT NOT NULL,
    level TEXT NOT NULL,
    reason TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    changed_at TEXT NOT NULL
);
CREATE INDEX sequence_consent_sequence ON sequence_consent (sequence_id, id);
CREATE TABLE patient_recent (
    person_id TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    PRIMARY KEY (person_id, patient_id)
);
CREATE INDEX patient_recent_person ON patient_recent (person_id, opened_at);
