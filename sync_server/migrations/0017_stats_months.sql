-- Activity figures over any range of months read from small tables (issue 14, point 4), not from the
-- sequences of those months. stats_month: sequences and photos of each dimension, key and month.
CREATE TABLE stats_month (
    dim TEXT NOT NULL,
    key TEXT NOT NULL,
    month TEXT NOT NULL,
    sequences BIGINT NOT NULL,
    photos BIGINT NOT NULL,
    PRIMARY KEY (dim, key, month)
);
-- The months each patient counts in under each key (patients by their sealed identifier).
CREATE TABLE stats_visit (
    dim TEXT NOT NULL,
    key TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    month TEXT NOT NULL,
    PRIMARY KEY (dim, key, patient_id, month)
);
-- Distinct patients of a range [a, b] without reading them: a patient counts once, at its first month
-- in the range, the one whose previous month under the key (prev, '' for none) is before a. So the
-- patients of [a, b] are the sum of these counts over month in [a, b] and prev < a.
CREATE TABLE stats_first (
    dim TEXT NOT NULL,
    key TEXT NOT NULL,
    month TEXT NOT NULL,
    prev TEXT NOT NULL,
    patients BIGINT NOT NULL,
    PRIMARY KEY (dim, key, month, prev)
);
-- built again at the next start, with these tables
DELETE FROM stats_built;
