-- The last point the server's own verification of the audit log reached (one row): the size of a
-- signed checkpoint whose root was recomputed from the entries, the entry hash and the Merkle tree's
-- right edge there. The next check starts from it and reads only the entries after it; a full
-- check (``full=true``, or ``clinphoto audit verify``) still recomputes everything from the start.
CREATE TABLE audit_verified (
    id INTEGER PRIMARY KEY,
    size BIGINT NOT NULL,
    entry_hash TEXT NOT NULL,
    frontier TEXT NOT NULL,
    root_hash TEXT NOT NULL,
    verified_at TEXT NOT NULL
);
