"""The published year's generator (bench/year.py, run by make bench): exactly the published shape."""
from collections import Counter

from bench.year import PATIENTS, PHOTOS, SEQUENCES, generate, split


def test_a_seed_gives_exactly_the_published_year_and_always_the_same_one():
    year = generate(2026)
    assert (len({s.patient_id for s in year}), len(year), sum(s.photos for s in year)) == (979, 2345, 8112)
    assert (PATIENTS, SEQUENCES, PHOTOS) == (979, 2345, 8112)
    assert min(Counter(s.patient_id for s in year).values()) >= 1 and min(s.photos for s in year) >= 1
    assert all(s.delay_days for s in year if s.phase == "post_op")  # the form requires it after surgery
    assert len({s.performed_on[:7] for s in year}) == 11  # eleven months
    assert [(s.patient_id, s.photos) for s in generate(2026)] == [(s.patient_id, s.photos) for s in year]
    assert [(s.patient_id, s.photos) for s in generate(7)] != [(s.patient_id, s.photos) for s in year]


def test_split_keeps_the_total_and_gives_each_part_at_least_one():
    import random
    parts = split(100, 30, random.Random(1))
    assert sum(parts) == 100 and len(parts) == 30 and min(parts) >= 1
