-- People who sign in with passkeys (issue 4). No passwords anywhere.
-- roles: space-separated, from surgeon, nurse, security_officer, administrator.
-- user_handle: the WebAuthn user.id (random, base64url), never the person's name.
CREATE TABLE person (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    roles TEXT NOT NULL,
    user_handle TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at TEXT
);
-- One row per passkey; a person may hold several. public_key is the COSE key, base64url.
CREATE TABLE passkey (
    credential_id TEXT PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES person (id),
    public_key TEXT NOT NULL,
    sign_count BIGINT NOT NULL,
    label TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT
);
CREATE INDEX passkey_person ON passkey (person_id);
-- One-time registration links; only SHA-256 of the token is kept.
CREATE TABLE invitation (
    token_hash TEXT PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES person (id),
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);
-- WebAuthn challenges, consumed by their first use whatever the outcome.
CREATE TABLE webauthn_challenge (
    id TEXT PRIMARY KEY,
    challenge TEXT NOT NULL,
    purpose TEXT NOT NULL,
    person_id TEXT,
    invitation_hash TEXT,
    expires_at TEXT NOT NULL
);
-- Server-side sessions (the cookie carries only a signed opaque id; its SHA-256 is the key).
CREATE TABLE web_session (
    id_hash TEXT PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES person (id),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT,
    address TEXT,
    break_glass_until TEXT,
    break_glass_reason TEXT
);
CREATE INDEX web_session_person ON web_session (person_id);
