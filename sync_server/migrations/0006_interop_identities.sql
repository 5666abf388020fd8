-- Interop (issue 6): identities the index holds with their assigning authorities, inactive identities,
-- and which identity each PACS or EMR copy was delivered under (so a merge can make the copies follow).
-- authority: assigning authority of the index identifier (HL7 CX-4; NULL when the source gives none).
-- active: 0 once the hospital withdrew the identity (HL7 A29, CSV active=0); new sequences claiming
-- it wait in quarantine.
ALTER TABLE patient_index ADD COLUMN authority TEXT;
ALTER TABLE patient_index ADD COLUMN active INTEGER NOT NULL DEFAULT 1;
-- Every identifier the hospital gave for an index patient (the index identifier itself and the other
-- PID-3 repetitions), per assigning authority ('' when none is given). One value held for two
-- different patients (usually under two authorities) makes a claim of that value ambiguous.
CREATE TABLE patient_identifier (
    value TEXT NOT NULL,
    authority TEXT NOT NULL,
    patient_id TEXT NOT NULL REFERENCES patient_index (id),
    PRIMARY KEY (value, authority, patient_id)
);
CREATE INDEX patient_identifier_patient ON patient_identifier (patient_id);
INSERT INTO patient_identifier (value, authority, patient_id) SELECT id, '', id FROM patient_index;
-- The index identity the row was last delivered under; after a merge the copy is delivered again
-- under the survivor and, for Orthanc, the copy filed under the old identity is removed.
ALTER TABLE interop_outbox ADD COLUMN sent_patient_id TEXT;
UPDATE interop_outbox SET sent_patient_id = (
    SELECT si.patient_id FROM photo p JOIN sequence_identity si ON si.sequence_id = p.sequence_id
    WHERE p.id = interop_outbox.photo_id) WHERE state = 'sent';
