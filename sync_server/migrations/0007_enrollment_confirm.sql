-- Two-step enrolment (issue 9): an enrolment answer is pending on its code until the device confirms
-- it stored the credential. One pending answer per code; a retry with the same code replaces it (the
-- earlier credential stops working). The code is used up only at confirmation; a pending answer dies
-- with its code. Only SHA-256 of the pending secret is kept, like a device's.
ALTER TABLE enrollment_code ADD COLUMN pending_device_id TEXT;
ALTER TABLE enrollment_code ADD COLUMN pending_credential_hash TEXT;
ALTER TABLE enrollment_code ADD COLUMN pending_label TEXT;
ALTER TABLE enrollment_code ADD COLUMN pending_at TEXT;
ALTER TABLE enrollment_code ADD COLUMN answers INTEGER NOT NULL DEFAULT 0;
CREATE INDEX enrollment_code_pending_device ON enrollment_code (pending_device_id);
