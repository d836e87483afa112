"""回避 from both sides: a handler who works inside the inspected unit, or who is a person concerned,
holds the right role yet never sees, gets, is handed or is told about that clue's tasks — while a
colleague with the same role does."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import queues, runtime
from engine.db import transaction
from engine.errors import InvalidInput, NotFound
from engine.scheduler import notices
from models import Notification
from tests.helpers import act, add_user, open_clue, ready_task


@pytest.mark.parametrize("who", ["stationed in the unit", "person concerned"])
def test_recused_handler_never_sees_gets_or_hears_of_the_clue(factory, ctx, demo, who):  # type: ignore[no-untyped-def]
    if who == "stationed in the unit":  # e.g. the 派驻纪检组 sitting at the inspected unit
        recused = add_user(factory, "stationed", "U-EDU", [("receiving_body", "JW")])
        iid = open_clue(factory, ctx, demo, unit="U-EDU", receiving="JW")
    else:
        recused = add_user(factory, "concerned", "JW", "receiving_body", id_number="410100198001010022")
        iid = open_clue(factory, ctx, demo, unit="U-EDU", receiving="JW",
                        persons=[{"name": "某某", "id_number": "410100198001010022"}])
    colleague = add_user(factory, "colleague", "JW", "receiving_body")
    act(factory, ctx, "office1", iid, "handover", {"handover_list": "清单"})
    task = ready_task(factory, iid, "acknowledge")
    notices(factory, ctx)  # the scheduler tells the candidates

    with factory() as s:
        assert task.id in [t.id for t in queues.list_tasks(s, colleague, "group").items]
        assert task.id not in [t.id for t in queues.list_tasks(s, recused, "group").items]
        with pytest.raises(NotFound):
            runtime.get_task(s, recused, task.id)
        with pytest.raises(NotFound):
            runtime.get_instance(s, recused, iid)
        notified = {n.user_id for n in s.execute(select(Notification).where(Notification.task_id == task.id))
                    .scalars()}
    assert colleague.user_id in notified and recused.user_id not in notified
    with pytest.raises(NotFound), transaction(factory) as s:
        runtime.claim_task(s, ctx, recused, task.id)
    with pytest.raises(InvalidInput), transaction(factory) as s:  # nor can the office hand it to them
        runtime.assign_task(s, ctx, demo.actor("office1"), task.id, recused.username)
    with transaction(factory) as s:
        runtime.claim_task(s, ctx, colleague, task.id)
    with pytest.raises(InvalidInput), transaction(factory) as s:  # nor can a colleague delegate it to them
        runtime.delegate_task(s, ctx, colleague, task.id, recused.username)
