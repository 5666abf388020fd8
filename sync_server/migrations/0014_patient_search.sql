-- Patient data encrypted at rest (issue 12): every patient identifier is stored sealed (deterministic
-- AES-SIV, storage/fields.py) and the index's names, birth dates and sex in CPR1 envelopes, so name
-- search goes through keyed tokens: HMAC of each prefix of each folded name word, and of the birth date.
CREATE TABLE patient_search (
    token TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    PRIMARY KEY (token, patient_id)
);
CREATE INDEX patient_search_patient ON patient_search (patient_id);
-- Set once every identifier, index field and audit entry an earlier version wrote in clear is sealed
-- (storage/fields.py, seal_clear_patients): later starts skip the scan.
CREATE TABLE patient_fields_sealed (
    id INTEGER PRIMARY KEY,
    sealed_at TEXT NOT NULL
);
