-- Who took it (issue 11, point 4): the people who may unlock and capture on each phone.
-- A person is added to a phone by signing in on it with their own server passkey (the server
-- verifies the assertion); the phone then wraps its vault key under that person's own PIN or
-- passkey PRF. removed_at: the phone (or an administrator) took the person off; adding again
-- clears it. credential_id: the passkey that proved the person when added.
CREATE TABLE device_person (
    device_id TEXT NOT NULL REFERENCES device (id),
    person_id TEXT NOT NULL REFERENCES person (id),
    credential_id TEXT NOT NULL,
    added_at TEXT NOT NULL,
    removed_at TEXT,
    PRIMARY KEY (device_id, person_id)
);
CREATE INDEX device_person_person ON device_person (person_id);
-- The person who opened the sequence (its sealed form's person_id) and who took each photo (the
-- manifest's photos[].person_id); NULL for photos taken before people unlocked phones.
ALTER TABLE sequence ADD COLUMN person_id TEXT;
ALTER TABLE photo ADD COLUMN person_id TEXT;
