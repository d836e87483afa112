"""The audit trail: every change leaves a hash-chained event; edits, deletions and a cut-off tail are
caught by verify; PostgreSQL refuses UPDATE, DELETE and TRUNCATE outright."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from engine import audit
from engine.db import transaction
from tests.helpers import act, open_clue, tamper


@pytest.fixture
def history(factory, ctx, demo) -> int:  # type: ignore[no-untyped-def]
    iid = open_clue(factory, ctx, demo)
    act(factory, ctx, demo.actor("office1"), iid, "handover", {"handover_list": "清单"})
    return iid


def _verify(factory):  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        return audit.verify(s)


def test_each_step_is_recorded_and_the_chain_holds(factory, history, session):
    types = [e.event_type for e in audit.stream_events(session, history)]
    assert types == ["instance_started", "task_created", "task_claimed", "task_completed", "case_updated",
                     "task_created"]
    result = _verify(factory)
    assert result.ok and result.checked >= len(types) and result.first_broken is None


def test_an_edited_payload_is_caught_at_that_event(factory, sql_engine, history, session):
    target = audit.stream_events(session, history)[3]
    tamper(sql_engine, f"UPDATE audit_event SET payload = replace(payload, '清单', '改过') WHERE id = {target.id}")
    result = _verify(factory)
    assert not result.ok
    assert result.first_broken == {"stream": f"case:{history}", "seq": 4, "event_id": target.id,
                                   "reason": "content does not match its hash (the row was edited)"}


def test_a_deleted_event_in_the_middle_is_caught(factory, sql_engine, history, session):
    target = audit.stream_events(session, history)[1]
    tamper(sql_engine, f"DELETE FROM audit_event WHERE id = {target.id}")
    result = _verify(factory)
    assert not result.ok and result.first_broken["seq"] == 3  # type: ignore[index]


def test_a_deleted_tail_is_caught_by_the_stream_head(factory, sql_engine, history, session):
    target = audit.stream_events(session, history)[-1]
    tamper(sql_engine, f"DELETE FROM audit_event WHERE id = {target.id}")
    result = _verify(factory)
    assert not result.ok and "missing" in result.first_broken["reason"]  # type: ignore[index]


@pytest.mark.parametrize("statement", [
    "UPDATE audit_event SET actor_name = 'someone else'",
    "DELETE FROM audit_event",
    "TRUNCATE audit_event",
])
def test_postgres_refuses_changes_to_the_audit_table(sql_engine, history, statement):
    if sql_engine.dialect.name != "postgresql":
        pytest.skip("the trigger exists on PostgreSQL only")
    with pytest.raises(DBAPIError, match="append-only"), sql_engine.begin() as conn:
        conn.execute(text(statement))
