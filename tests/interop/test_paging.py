"""FHIR search paging without a server: _count, cursors, keyset SQL."""
from __future__ import annotations

import sqlite3

import pytest

from sync_server.interop import paging


def test_count_defaults_and_is_capped_rather_than_refused():
    assert paging.parse(None, None, 2) == paging.Page(paging.DEFAULT_COUNT)
    assert paging.parse("0", None, 2).count == 0
    assert paging.parse("100000", None, 2).count == paging.MAX_COUNT


@pytest.mark.parametrize("count", ["-1", "1.5", "ten", "", "9999999"])
def test_a_count_that_is_not_a_small_non_negative_integer_is_refused(count):
    with pytest.raises(paging.PagingError) as raised:
        paging.parse(count, None, 1)
    assert raised.value.parameter == "_count"


def test_a_cursor_names_a_direction_and_a_sort_key_and_round_trips():
    key = ("2026-11-27T09:30:15Z", "0b7c0e7e-6a59-4e0c-9b1a-7d9f3f4d7d11")
    page = paging.parse("2", paging.cursor(paging.BEFORE, key), 2)
    assert page == paging.Page(2, paging.BEFORE, key)


@pytest.mark.parametrize("cursor", ["a", "a.!!!", "q.WyJ4Il0", "a.WyJ4Il0", "a.eyJ4IjoxfQ", "a.WzEsMl0"])
def test_a_damaged_cursor_is_refused(cursor):
    with pytest.raises(paging.PagingError) as raised:
        paging.parse(None, cursor, 2)
    assert raised.value.parameter == "_cursor"


def test_keyset_sql_selects_exactly_the_rows_after_or_before_a_key():
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (a TEXT, b TEXT)")
    rows = [(a, b) for a in ("1", "2", "3") for b in ("x", "y")]
    db.executemany("INSERT INTO t VALUES (?, ?)", rows)
    for op, expected in ((">", [r for r in rows if r > ("2", "x")]), ("<", [r for r in rows if r < ("2", "x")])):
        where, values = paging.keyset(("a", "b"), ("2", "x"), op)
        assert db.execute(f"SELECT a, b FROM t WHERE {where} ORDER BY a, b", values).fetchall() == expected
