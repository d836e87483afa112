"""Which version new cases start on, deploying without switching, releasing and rolling back."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, select

from engine import runtime, versions
from engine.db import transaction
from engine.errors import Conflict, DefinitionInvalid, NotFound, NotPermitted
from models import AuditEvent, Group, ProcessRelease
from tests.helpers import simple_bpmn


def v(n: int) -> bytes:
    """Version ``n`` of the memo process: each differs in its task's name."""
    return simple_bpmn("memo", task_name=f"办理{n}")


def _deploy(factory, ctx, demo, xml: bytes, *, make_current: bool = True, user: str = "designer1"):  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        result = versions.deploy_version(s, xml, demo.actor(user), ctx.forms, at=ctx.clock.now(),
                                         comment=f"c{len(xml)}", make_current=make_current)
        return result.definition.version, result.created


def _current(factory, key: str = "memo") -> int:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        return versions.current_definition(s, key).version


def _start(factory, ctx, demo) -> int:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        office = demo.actor("office1")
        case = runtime.start_instance(s, ctx, office, "memo", {}, scope_path=office.roles[0].org_path)
        return case.definition.version


def _events(session, event_type: str) -> list[dict]:  # type: ignore[type-arg]
    rows = session.execute(select(AuditEvent).where(AuditEvent.event_type == event_type)
                           .order_by(AuditEvent.seq)).scalars()
    return [json.loads(r.payload) for r in rows]


def test_without_a_release_the_newest_version_is_current(factory, ctx, demo):
    _deploy(factory, ctx, demo, v(1))
    _deploy(factory, ctx, demo, v(2))
    assert _current(factory) == 2
    assert _start(factory, ctx, demo) == 2


def test_deploy_without_make_current_keeps_new_cases_on_the_previous_version(factory, ctx, demo, session):
    _deploy(factory, ctx, demo, v(1))
    assert _deploy(factory, ctx, demo, v(2), make_current=False) == (2, True)
    assert _current(factory) == 1
    assert _start(factory, ctx, demo) == 1
    assert _deploy(factory, ctx, demo, v(3), make_current=False) == (3, True)
    assert _current(factory) == 1
    assert _events(session, "definition_kept_current") == [
        {"key": "memo", "current_version": 1, "deployed_version": 2},
        {"key": "memo", "current_version": 1, "deployed_version": 3}]


def test_deploy_with_make_current_switches_back_to_the_newest(factory, ctx, demo, session):
    _deploy(factory, ctx, demo, v(1))
    _deploy(factory, ctx, demo, v(2), make_current=False)
    assert _deploy(factory, ctx, demo, v(3)) == (3, True)
    assert _current(factory) == 3
    assert session.execute(select(ProcessRelease)).scalars().all() == []
    assert _events(session, "definition_released")[-1] == {
        "key": "memo", "version": 3, "definition_id": _events(session, "definition_deployed")[-1]["definition_id"],
        "previous_version": 1, "reason": "deploy"}


def test_redeploying_the_newest_with_make_current_releases_it(factory, ctx, demo):
    _deploy(factory, ctx, demo, v(1))
    _deploy(factory, ctx, demo, v(2), make_current=False)
    assert _deploy(factory, ctx, demo, v(2)) == (2, False)
    assert _current(factory) == 2


def test_only_supervisors_deploy_versions(factory, ctx, demo, session):
    with pytest.raises(NotPermitted), transaction(factory) as s:
        versions.deploy_version(s, v(1), demo.actor("office1"), ctx.forms, at=ctx.clock.now())
    with pytest.raises(NotFound), transaction(factory) as s:
        versions.current_definition(s, "memo")


def test_release_pins_an_older_version_for_new_cases_and_is_audited(factory, ctx, demo, session):
    _deploy(factory, ctx, demo, v(1))
    _deploy(factory, ctx, demo, v(2))
    with transaction(factory) as s:
        versions.release(s, demo.actor("designer1"), "memo", 1, at=ctx.clock.now())
    assert _current(factory) == 1
    assert _start(factory, ctx, demo) == 1
    event = _events(session, "definition_released")[-1]
    assert (event["version"], event["previous_version"], event["reason"]) == (1, 2, "release")
    with transaction(factory) as s:
        versions.release(s, demo.actor("designer1"), "memo", 2, at=ctx.clock.now())
    assert _current(factory) == 2


def test_release_is_refused_to_others_and_for_unknown_versions(factory, ctx, demo, session):
    _deploy(factory, ctx, demo, v(1))
    _deploy(factory, ctx, demo, v(2))
    with pytest.raises(NotPermitted), transaction(factory) as s:
        versions.release(s, demo.actor("office1"), "memo", 1, at=ctx.clock.now())
    with pytest.raises(NotFound), transaction(factory) as s:
        versions.release(s, demo.actor("designer1"), "memo", 9, at=ctx.clock.now())
    with pytest.raises(NotFound), transaction(factory) as s:
        versions.release(s, demo.actor("designer1"), "no_such_process", 1, at=ctx.clock.now())
    assert _current(factory) == 2
    assert _events(session, "definition_released") == []


def test_list_versions_shows_current_deployer_and_running_counts(factory, ctx, demo):
    _deploy(factory, ctx, demo, v(1))
    _start(factory, ctx, demo)
    _start(factory, ctx, demo)
    _deploy(factory, ctx, demo, v(2), make_current=False)
    with transaction(factory) as s:
        listed = versions.list_versions(s, demo.actor("designer1"), "memo")
        rows = [(r.definition.version, r.is_current, r.running, r.definition.deployed_by.username,
                 r.definition.comment) for r in listed.items]
    assert rows == [(2, False, 0, "designer1", f"c{len(v(2))}"), (1, True, 2, "designer1", f"c{len(v(1))}")]
    assert (listed.current_version, listed.newest_version, listed.total) == (1, 2, 2)


def test_list_versions_hides_case_counts_from_readers_who_cannot_see_every_case(factory, ctx, demo):
    _deploy(factory, ctx, demo, v(1))
    _start(factory, ctx, demo)
    with transaction(factory) as s:
        listed = versions.list_versions(s, demo.actor("unit1"), "memo")
    assert [(r.definition.version, r.running) for r in listed.items] == [(1, None)]


def test_list_versions_pages(factory, ctx, demo):
    for n in range(1, 6):
        _deploy(factory, ctx, demo, v(n))
    with transaction(factory) as s:
        listed = versions.list_versions(s, demo.actor("designer1"), "memo", page=2, per_page=2)
    assert [r.definition.version for r in listed.items] == [3, 2]
    assert (listed.total, listed.pages) == (5, 3)
    with pytest.raises(NotFound), transaction(factory) as s:
        versions.list_versions(s, demo.actor("designer1"), "no_such_process")


def test_roll_back_makes_a_new_current_version_with_the_old_content(factory, ctx, demo, session):
    _deploy(factory, ctx, demo, v(1))
    _deploy(factory, ctx, demo, v(2))
    with transaction(factory) as s:
        result = versions.roll_back(s, demo.actor("designer1"), ctx.forms, "memo", 1, at=ctx.clock.now(),
                                    comment="复核步骤有误")
        assert (result.definition.version, result.created) == (3, True)
        assert result.definition.bpmn_xml == v(1).decode()
        assert result.definition.comment == "复核步骤有误"
    assert _current(factory) == 3
    assert _events(session, "definition_rolled_back") == [{
        "key": "memo", "version": 3, "definition_id": _events(session, "definition_deployed")[-1]["definition_id"],
        "source_version": 1, "previous_current_version": 2, "comment": "复核步骤有误"}]


def test_roll_back_to_the_newest_content_is_refused(factory, ctx, demo, session):
    _deploy(factory, ctx, demo, v(1))
    _deploy(factory, ctx, demo, v(2))
    with pytest.raises(Conflict), transaction(factory) as s:
        versions.roll_back(s, demo.actor("designer1"), ctx.forms, "memo", 2, at=ctx.clock.now())
    assert _events(session, "definition_rolled_back") == []


def test_roll_back_is_refused_to_others_and_for_unknown_versions(factory, ctx, demo, session):
    _deploy(factory, ctx, demo, v(1))
    _deploy(factory, ctx, demo, v(2))
    with pytest.raises(NotPermitted), transaction(factory) as s:
        versions.roll_back(s, demo.actor("office1"), ctx.forms, "memo", 1, at=ctx.clock.now())
    with pytest.raises(NotFound), transaction(factory) as s:
        versions.roll_back(s, demo.actor("designer1"), ctx.forms, "memo", 7, at=ctx.clock.now())
    assert _current(factory) == 2


def test_roll_back_to_a_version_that_no_longer_validates_lists_the_problems(factory, ctx, demo, session):
    with transaction(factory) as s:
        s.add(Group(key="temp_team", name="临时专班"))
    _deploy(factory, ctx, demo, simple_bpmn("memo", lane="temp_team", lane_id="Lane_temp"))
    _deploy(factory, ctx, demo, v(2))
    with transaction(factory) as s:
        s.execute(delete(Group).where(Group.key == "temp_team"))
    with pytest.raises(DefinitionInvalid) as caught, transaction(factory) as s:
        versions.roll_back(s, demo.actor("designer1"), ctx.forms, "memo", 1, at=ctx.clock.now())
    assert "Lane_temp" in [p["element_id"] for p in caught.value.details["problems"]]
    assert _current(factory) == 2
