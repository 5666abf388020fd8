"""Server helpers that exist once: the bounded poll ledger, the audit search filter table, the CLI database opener."""
from sync_server.audit import commands
from sync_server import cli, db
from sync_server.audit.search import _CLAUSES, FILTERS, Filters
from sync_server.endpoints.common import PollLedger


class Ticks:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_poll_ledger_records_once_per_period():
    ticks = Ticks()
    ledger = PollLedger(clock=ticks)
    key = ("user:a", "GET", "station.read", "/station")
    assert ledger.due(key, 60)
    ticks.t = 59.9
    assert not ledger.due(key, 60)
    ticks.t = 60.0
    assert ledger.due(key, 60)


def test_poll_ledger_is_bounded_and_forgets_the_oldest_first():
    ticks = Ticks()
    ledger = PollLedger(limit=3, clock=ticks)
    for n in range(10):
        assert ledger.due((f"user:{n}",), 60)
    assert len(ledger) == 3
    assert not ledger.due(("user:9",), 60)  # recent: still remembered
    assert ledger.due(("user:0",), 60)      # forgotten: audited again, never skipped


def test_every_search_filter_has_one_clause():
    assert tuple(_CLAUSES) == FILTERS
    where, values = Filters(person="p1", action="auth.", until="2026-01-01T00:00:00.000000Z").sql()
    assert where == (" AND e.actor IN (:person, :person_user) AND substr(e.action, 1, :action_len) = :action"
                     " AND e.ts < :until")
    assert values == {"person": "p1", "person_user": "user:p1", "action": "auth.", "action_len": 5,
                      "until": "2026-01-01T00:00:00.000000Z"}
    assert Filters(action="auth.sign_in").sql() == (" AND e.action = :action", {"action": "auth.sign_in"})
    assert Filters().sql() == ("", {})


def test_the_command_line_opens_the_database_one_way():
    assert cli.with_db is db.with_db and commands.with_db is db.with_db
    assert not hasattr(cli, "_with_db") and not hasattr(commands, "_with_db")
