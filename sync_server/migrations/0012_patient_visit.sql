-- The patient's current stay, as the hospital's ADT feed reports it (PV1): the phones of a department get
-- the list of today's patients from it, to confirm a patient by name and birth date (issue 11, point 5).
CREATE TABLE patient_visit (
    patient_id TEXT PRIMARY KEY,
    department TEXT NOT NULL,
    admitted_on TEXT,
    ended_at TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX patient_visit_department ON patient_visit (department, ended_at);
-- the department a person works in, and the one a phone serves (set by an administrator:
-- clinphoto set-person-department, set-device-department); the person's comes first
ALTER TABLE person ADD COLUMN department TEXT;
ALTER TABLE device ADD COLUMN department TEXT;
