-- Activity figures kept up to date as sequences and photos are filed (issue 14, point 4), instead of opening
-- every form on each request. One row per sequence: its patient (sealed), the month it counts in, its surgeon
-- and procedure (sealed, deterministic: storage/fields.py), its photos.
CREATE TABLE stats_sequence (
    sequence_id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL,
    month TEXT NOT NULL,
    surgeon TEXT NOT NULL,
    procedure TEXT NOT NULL,
    photos BIGINT NOT NULL
);
-- a range of months is read from this index alone (its figures are one GROUP BY a dimension over it)
CREATE INDEX stats_sequence_range ON stats_sequence (month, surgeon, procedure, patient_id, photos);
-- The all-time figures of each dimension and key (dim 'total', key ''), and the patients counted in each,
-- so that distinct patients stay exact as sequences arrive.
CREATE TABLE stats_total (
    dim TEXT NOT NULL,
    key TEXT NOT NULL,
    sequences BIGINT NOT NULL,
    photos BIGINT NOT NULL,
    patients BIGINT NOT NULL,
    PRIMARY KEY (dim, key)
);
CREATE TABLE stats_member (
    dim TEXT NOT NULL,
    key TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    PRIMARY KEY (dim, key, patient_id)
);
-- Set once the tables hold every sequence filed before them (built at start: storage/upgrade.py).
CREATE TABLE stats_built (
    id INTEGER PRIMARY KEY,
    built_at TEXT NOT NULL
);
