"""FHIR search paging: ``_count`` and a keyset cursor. Pure: no I/O.

A search's matches are read in one fixed order (photos: capture time, then id; patients: id). A
page holds ``_count`` of them; its ``next`` link carries a cursor naming the sort key of the page's
last match, its ``previous`` link the key of its first. The next page is "the matches after that
key", not "skip N": following ``next`` never repeats nor skips a match already paged past, even
while photos arrive or leave meanwhile. The cursor is opaque to clients (base64url of JSON);
a damaged one is refused as a bad search parameter, never trusted as SQL.
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from typing import Any, Sequence

DEFAULT_COUNT = 50
MAX_COUNT = 500
AFTER, BEFORE = "a", "b"


class PagingError(ValueError):
    def __init__(self, parameter: str, problem: str) -> None:
        super().__init__(f"{parameter}: {problem}")
        self.parameter = parameter
        self.problem = problem


@dataclasses.dataclass(frozen=True)
class Page:
    count: int
    direction: str = AFTER  # AFTER: matches after ``key``; BEFORE: the last ``count`` matches before it
    key: tuple[str, ...] | None = None  # None: from the first match


def parse(count: str | None, cursor: str | None, key_size: int) -> Page:
    """The page a search asks for (``_count`` and ``_cursor`` as received)."""
    size = DEFAULT_COUNT
    if count is not None:
        if not count.isdigit() or len(count) > 6:
            raise PagingError("_count", "not a non-negative integer")
        size = min(int(count), MAX_COUNT)  # a server may return fewer than asked (FHIR search §3.2.1.7.4)
    if cursor is None:
        return Page(size)
    direction, _, payload = cursor.partition(".")
    try:
        key = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):
        raise PagingError("_cursor", "damaged; follow the Bundle's links as given") from None
    if direction not in (AFTER, BEFORE) or not isinstance(key, list) or len(key) != key_size \
            or not all(isinstance(k, str) and len(k) <= 64 for k in key):
        raise PagingError("_cursor", "damaged; follow the Bundle's links as given")
    return Page(size, direction, tuple(key))


def cursor(direction: str, key: Sequence[Any]) -> str:
    payload = json.dumps([str(k) for k in key], separators=(",", ":")).encode()
    return f"{direction}." + base64.urlsafe_b64encode(payload).decode().rstrip("=")


def keyset(columns: Sequence[str], key: Sequence[str], op: str, prefix: str = "k") -> tuple[str, dict[str, str]]:
    """SQL for "sort key ``op`` ``key``" over several columns (``op``: ``>`` or ``<``), and its values.

    ``(a, b) > (x, y)`` is written out as ``a > x OR (a = x AND b > y)``: the same on SQLite and
    PostgreSQL, and each column keeps its own index.
    """
    values = {f"{prefix}{i}": str(k) for i, k in enumerate(key)}
    terms = []
    for i, column in enumerate(columns):
        equal = [f"{columns[j]} = :{prefix}{j}" for j in range(i)]
        terms.append("(" + " AND ".join([*equal, f"{column} {op} :{prefix}{i}"]) + ")")
    return "(" + " OR ".join(terms) + ")", values
