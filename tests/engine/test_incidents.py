"""Marking an incident dealt with is what lets a case in error move to a fixed diagram version: the
migration of instances refuses a case while ``last_error`` is set."""

from __future__ import annotations

from engine import incidents
from engine.db import transaction
from models import ProcessInstance
from tests.engine.test_migration import deploy_xml, entry, recheck_bpmn, run
from tests.helpers import open_rectification


def test_a_case_in_error_can_be_migrated_once_its_incident_is_marked_dealt_with(factory, ctx, demo):  # type: ignore[no-untyped-def]
    iid = open_rectification(factory, ctx, demo, problems=1)
    with transaction(factory) as s:
        s.get(ProcessInstance, iid).last_error = "task fill: the sandbox stopped the code (script_refused)"
    deploy_xml(factory, ctx, recheck_bpmn())
    assert entry(run(factory, ctx, 1, 2, dry_run=True), iid)["movable"] is False

    with transaction(factory) as s:
        assert incidents.resolve(s, demo.actor("office1"), iid, at=ctx.clock.now(), note="数据已更正") == 0

    assert entry(run(factory, ctx, 1, 2, dry_run=True), iid)["movable"] is True
