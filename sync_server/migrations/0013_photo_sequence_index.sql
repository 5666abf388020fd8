-- A patient's timeline reads the photos of its sequences: without this index each look-up scanned every
-- photo (bench/scale.py: 1,000,000 photos).
CREATE INDEX photo_sequence ON photo (sequence_id);
