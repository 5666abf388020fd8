-- Attempts counted against guessing (enrolment codes, sign-in failures), in the database so that every
-- server process of an install shares one budget (issue 14, point 2): with the counts in each process's
-- memory, three processes behind a proxy would let three times the guesses through.
CREATE TABLE throttle_hit (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);
CREATE INDEX throttle_hit_key ON throttle_hit (scope, key, at_ms);
CREATE INDEX throttle_hit_age ON throttle_hit (at_ms);
