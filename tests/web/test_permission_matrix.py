"""The permission matrix from the outside: every demo role, a county office and a recused handler, against a
clue, rectification items of two units, definitions, the audit trail and the office's pages — through the
pages and the API, from both sides, with 404 for rows one may not know exist and 403 for what one may not do.

The expectations are DOMAIN.md's rules ("Confidentiality — who may see what") written out by hand here,
not read from engine/permissions.py, so a change to the code that breaks a rule fails this file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.context import EngineContext
from engine.demo import Demo
from engine.scheduler import notices
from models import AuditEvent, TermPlan
from tests.helpers import act, add_user, clue_of, open_clue, open_rectification, simple_bpmn
from tests.web.helpers import Api, api_for, bpmn_upload, login, make_app

RECUSED_ID = "110101198001010011"
CLUE_NUMBER = "XS-M-001"
SUMMARY = "反映某科长收受供应商财物。"  # open_clue's

# Everyone who may log in, as DOMAIN.md knows them.
USERS = ["office1", "group1", "jw1", "zzb1", "unit1", "unit2", "unitlead1", "leader1", "designer1", "auditor1",
         "county1",    # demo: 某县巡察办, office over county A
         "county9",    # added here: another office account over county A
         "jw2"]        # added here: a 纪委 handler named as the person concerned (回避)

# -- DOMAIN.md, written out ------------------------------------------------------------------------------------
# "Clues: only the 巡察办, the group that found them, the receiving body's handlers and the leading group.
#  Never the inspected unit." The clue: found at 市教育局 by 第一巡察组, handed by the city office to 纪委监委.
#  A county office is not the 巡察办 of a city clue; jw2 is recused ("A person concerned … must not handle it").
CLUE_READERS = {"office1", "leader1", "group1", "jw1"}
# "Rectification items: the unit sees its own only; groups see the units of their rounds; counties see their own
#  county; the city sees all." 第一巡察组 inspected both 教育局 and 卫健委; unitlead1 leads 教育局.
EDU_ITEM_READERS = {"unit1", "unitlead1", "group1", "office1", "leader1"}
HEALTH_ITEM_READERS = {"unit2", "group1", "office1", "leader1"}
# Definitions: everyone reads the published processes; the 流程管理员 (supervisor) deploys.
DEPLOYERS = {"designer1"}
# The audit trail: the auditor and the city's 巡察办 (it spans every county, so not a county office).
AUDIT_READERS = {"auditor1", "office1"}
# The office's pages: the one working calendar is the city office's; figures, reports and plans are for the
# 巡察办 and the leading group (a county office over its county); 凡提必用 for 组织部 and the 巡察办.
OVERSIGHT = {"office1", "leader1", "county1", "county9"}
PAGE_USERS = {
    "/calendar": {"office1"},
    "/dashboard": OVERSIGHT,
    "/reports": OVERSIGHT,
    "/promotion-checks": {"zzb1", "office1", "county1", "county9"},
    "/audit": AUDIT_READERS,
    "/planning": OVERSIGHT,
    "/publications": OVERSIGHT,
    "/intake": OVERSIGHT | {"group1"},  # 成果录入: the 巡察办, the leading group, the inspection groups
}
API_USERS = {
    "/statistics": OVERSIGHT,
    "/reports": OVERSIGHT,
    "/audit/verify": AUDIT_READERS,
    "/audit/export": AUDIT_READERS,
    "/tasks?queue=all": OVERSIGHT,  # 全部任务, within one's scope
    "/plans": OVERSIGHT,  # as the pages: refused, not an empty list, to roles the matrix does not admit
    "/publications": OVERSIGHT,
}
# Rows of the city's work, and who may act on them. The city plan: read by the city's 巡察办 and leading group,
# changed by the office only; a county office does not know it exists. 教育局's inspection (第一巡察组 visited):
# read by the office, the leading group and the group; recorded by the office and the group. 教育局's 整改台账:
# read by whoever reads its items; kept (对账) by the office, the group and the unit, not by the leading group
# or the unit's leader. Its rectification case: suspended by the city office alone, among those who see it.
CITY_PLAN_READERS, CITY_PLAN_EDITORS = {"office1", "leader1"}, {"office1"}
INTAKE_READERS, INTAKE_RECORDERS = {"office1", "leader1", "group1"}, {"office1", "group1"}
LEDGER_KEEPERS = {"office1", "group1", "unit1"}
SUSPENDERS = {"office1"}


@dataclass
class World:
    clue_id: int
    clue_instance: int
    attachment_id: int
    edu_instance: int
    edu_item: int
    health_instance: int
    health_item: int


@pytest.fixture
def extra_users(factory: sessionmaker[Session], demo: Demo, demo_password_hash: str) -> None:
    add_user(factory, "county9", "COUNTY-A-OFFICE", [("office", "COUNTY-A")], password_hash=demo_password_hash)
    add_user(factory, "jw2", "JW", "receiving_body", password_hash=demo_password_hash, id_number=RECUSED_ID)


@pytest.fixture
def api(db_url: str, ctx: EngineContext, demo: Demo, extra_users: None) -> Iterator[Api]:
    with api_for(db_url, ctx) as client:
        yield client


@pytest.fixture
def pages(db_url: str, ctx: EngineContext, demo: Demo, extra_users: None) -> Iterator[FlaskClient]:
    app = make_app(db_url, ctx, WTF_CSRF_ENABLED=False)
    yield app.test_client()  # not as a context manager: the API client beside it keeps its own contexts
    app.extensions["xuncha.engine"].dispose()


@pytest.fixture
def world(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, extra_users: None, api: Api) -> World:
    iid = open_clue(factory, ctx, demo, unit="U-EDU", receiving="JW", number=CLUE_NUMBER,
                    persons=[{"name": "某某", "post": "科长", "id_number": RECUSED_ID}])
    uploaded = api("office1").post(f"/instances/{iid}/attachments", data={"file": (BytesIO(b"%PDF-1.4\n%%EOF\n"),
                                                                                   "evidence.pdf")},
                                   content_type="multipart/form-data")
    assert uploaded.status_code == 201, uploaded.get_json()
    act(factory, ctx, demo.actor("office1"), iid, "handover", {"handover_list": "清单"})  # 签收 goes to 纪委
    notices(factory, ctx)  # the scheduler's tick tells the candidates of the new task
    edu = open_rectification(factory, ctx, demo, unit="U-EDU", problems=["教育局问题。"])
    health = open_rectification(factory, ctx, demo, unit="U-HEALTH", problems=["卫健委问题。"])
    items = {i["unit"]["code"]: i["id"] for i in api("office1").ok("GET", "/rectification-items?per_page=100")["items"]}
    return World(clue_of(factory, iid).id, iid, uploaded.get_json()["id"], edu, items["U-EDU"], health,
                 items["U-HEALTH"])


def _as(client: FlaskClient, username: str) -> FlaskClient:
    client.post("/logout")
    response = login(client, username)
    assert response.status_code == 302, username
    return client


def _seen(allowed: bool) -> int:
    return 200 if allowed else 404


def _clue_reads(factory: sessionmaker[Session], instance_id: int) -> list[tuple[str | None, str]]:
    with factory() as session:
        rows = session.execute(select(AuditEvent).where(AuditEvent.stream == f"case:{instance_id}",
                                                        AuditEvent.event_type == "clue_viewed")
                               .order_by(AuditEvent.seq)).scalars()
        return [(e.actor_name, json.loads(e.payload)["via"]) for e in rows]


# -- a clue ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", USERS)
def test_a_clue_through_the_api_listings_search_and_attachments(api: Api, world: World, factory, username: str):  # type: ignore[no-untyped-def]
    caller, reader = api(username), username in CLUE_READERS
    assert caller.get(f"/clues/{world.clue_id}").status_code == _seen(reader)
    for path in (f"/instances/{world.clue_instance}", f"/instances/{world.clue_instance}/history",
                 f"/attachments/{world.attachment_id}", f"/attachments/{world.attachment_id}/content"):
        response = caller.get(path)
        assert response.status_code == _seen(reader), (path, response.status_code)
        if not reader:
            assert response.get_json()["error"]["code"] == "not_found"
    listed = [c["number"] for c in caller.ok("GET", f"/clues?q={CLUE_NUMBER}")["items"]]
    assert listed == ([CLUE_NUMBER] if reader else [])
    ledger = caller.get(f"/ledgers/clues?q={CLUE_NUMBER}")
    if ledger.status_code == 200:
        assert [c["number"] for c in ledger.get_json()["items"]] == ([CLUE_NUMBER] if reader else [])
    else:
        assert not reader and ledger.status_code == 403
    notified = {n["instance_id"] for n in caller.ok("GET", "/notifications?per_page=100")["items"]}
    assert (world.clue_instance in notified) <= reader  # nobody is told of a clue they may not see
    if username == "jw1":
        assert world.clue_instance in notified  # the receiving body's handlers are told to sign for it
    readers = {actor for actor, _via in _clue_reads(factory, world.clue_instance)}
    assert readers == ({username} if reader else set())  # every read on the record, none for a refusal


@pytest.mark.parametrize("username", USERS)
def test_a_clue_through_the_pages(pages: FlaskClient, world: World, factory, username: str):  # type: ignore[no-untyped-def]
    client, reader = _as(pages, username), username in CLUE_READERS
    assert client.get(f"/cases/{world.clue_instance}").status_code == _seen(reader)
    assert client.get(f"/attachments/{world.attachment_id}").status_code == _seen(reader)
    listing = client.get(f"/ledgers/clues?q={CLUE_NUMBER}")
    assert listing.status_code in (200, 403) and (SUMMARY in listing.text) == reader
    cases = client.get("/cases")
    assert cases.status_code == 200 and (CLUE_NUMBER in cases.text) <= reader
    assert {actor for actor, _ in _clue_reads(factory, world.clue_instance)} == ({username} if reader else set())


def test_every_read_path_of_a_clue_is_audited_with_its_path(  # type: ignore[no-untyped-def]
        api: Api, pages: FlaskClient, world: World, factory):
    office = api("office1")
    office.ok("GET", f"/clues/{world.clue_id}")
    office.ok("GET", f"/clues?q={CLUE_NUMBER}")
    office.ok("GET", f"/ledgers/clues?q={CLUE_NUMBER}")
    assert office.get(f"/ledgers/clues/export?q={CLUE_NUMBER}").status_code == 200
    office.ok("POST", "/promotion-checks", {"name": "某某", "id_number": RECUSED_ID})
    office.ok("GET", f"/instances/{world.clue_instance}")
    office.ok("GET", f"/instances/{world.clue_instance}/history")
    office.ok("GET", f"/attachments/{world.attachment_id}")
    assert office.get(f"/attachments/{world.attachment_id}/content").status_code == 200
    client = _as(pages, "group1")
    assert client.get(f"/cases/{world.clue_instance}").status_code == 200
    assert client.get(f"/ledgers/clues?q={CLUE_NUMBER}").status_code == 200
    assert client.get(f"/ledgers/clues/export?q={CLUE_NUMBER}").status_code == 200
    reads = _clue_reads(factory, world.clue_instance)
    assert reads == [("office1", "detail"), ("office1", "list"), ("office1", "ledger"), ("office1", "export"),
                     ("office1", "promotion_check"), ("office1", "instance"), ("office1", "history"),
                     ("office1", "api_attachment"), ("group1", "case_page"), ("group1", "ledger_page"),
                     ("group1", "export")]
    with factory() as session:  # the evidence file's download is on the record too, as what it is
        downloads = session.execute(select(AuditEvent.actor_name).where(
            AuditEvent.stream == f"case:{world.clue_instance}",
            AuditEvent.event_type == "attachment_downloaded")).scalars().all()
    assert downloads == ["office1"]


def test_the_recused_handler_is_neither_shown_the_clue_nor_offered_its_task(api: Api, world: World):
    jw2 = api("jw2")
    offered = jw2.ok("GET", "/tasks?queue=group&per_page=100")["items"]
    assert all(t["instance_id"] != world.clue_instance for t in offered)
    task_id = api("jw1").group_task(world.clue_instance, "acknowledge")
    assert jw2.get(f"/tasks/{task_id}").status_code == 404
    assert jw2.post(f"/tasks/{task_id}/claim").status_code == 404


# -- rectification items ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", USERS)
def test_rectification_items_of_ones_own_unit_and_another(  # type: ignore[no-untyped-def]
        api: Api, pages: FlaskClient, world: World, username: str):
    caller = api(username)
    edu, health = username in EDU_ITEM_READERS, username in HEALTH_ITEM_READERS
    assert caller.get(f"/rectification-items/{world.edu_item}").status_code == _seen(edu)
    assert caller.get(f"/rectification-items/{world.health_item}").status_code == _seen(health)
    assert caller.get(f"/instances/{world.edu_instance}").status_code == _seen(edu)
    listed = {i["id"] for i in caller.ok("GET", "/rectification-items?per_page=100")["items"]}
    assert (world.edu_item in listed, world.health_item in listed) == (edu, health)
    client = _as(pages, username)
    assert client.get(f"/cases/{world.edu_instance}").status_code == _seen(edu)
    assert client.get(f"/cases/{world.health_instance}").status_code == _seen(health)


# -- definitions, the audit trail, the office's pages ----------------------------------------------------------


@pytest.mark.parametrize("username", USERS)
def test_definitions_are_read_by_all_and_deployed_by_supervisors(api: Api, username: str) -> None:
    caller = api(username)
    assert caller.get("/definitions").status_code == 200
    xml = simple_bpmn(f"matrix_{username}")
    response = caller.post("/definitions", data={"file": bpmn_upload(xml)}, content_type="multipart/form-data")
    assert response.status_code == (201 if username in DEPLOYERS else 403), response.get_json()


@pytest.mark.parametrize("username", USERS)
def test_the_office_pages_and_the_audit_trail_by_role(  # type: ignore[no-untyped-def]
        api: Api, pages: FlaskClient, username: str):
    client = _as(pages, username)
    for path, allowed in PAGE_USERS.items():
        assert client.get(path).status_code == (200 if username in allowed else 403), path
    caller = api(username)
    for path, allowed in API_USERS.items():
        assert caller.get(path).status_code == (200 if username in allowed else 403), path
    assert caller.get("/calendar?year=2026").status_code == 200  # deadlines are counted from it for everyone


def _refused_or_unseen(username: str, acting: set[str], seeing: set[str], allowed_status: int) -> int:
    """What a call answers: ``allowed_status`` to who may act, 403 to who sees the row but may not, 404 else."""
    return allowed_status if username in acting else 403 if username in seeing else 404


@pytest.mark.parametrize("username", USERS)
def test_plans_inspections_ledgers_and_case_actions_from_both_sides(  # type: ignore[no-untyped-def]
        api: Api, world: World, demo: Demo, factory, username: str):
    caller = api(username)
    with factory() as session:
        city_plan = session.execute(select(TermPlan.id).where(TermPlan.org_id == demo.orgs["CITY"].id)).scalar_one()
    assert caller.get(f"/plans/{city_plan}/rounds").status_code == _seen(username in CITY_PLAN_READERS)
    # An empty round is invalid (400) once the permission is granted: nothing is created.
    response = caller.post(f"/plans/{city_plan}/rounds", json={})
    assert response.status_code == _refused_or_unseen(username, CITY_PLAN_EDITORS, CITY_PLAN_READERS, 400)
    inspection = demo.inspections["U-EDU"].id
    assert caller.get(f"/inspections/{inspection}/reports").status_code == _seen(username in INTAKE_READERS)
    response = caller.put(f"/inspections/{inspection}/reports/inspection", json={"title": "", "body": ""})
    assert response.status_code == _refused_or_unseen(username, INTAKE_RECORDERS, INTAKE_READERS, 400)
    unit = demo.orgs["U-EDU"].id
    diff = caller.get(f"/ledgers/rectification/{unit}/reconciliations/diff")
    assert diff.status_code == _seen(username in EDU_ITEM_READERS)
    response = caller.post(f"/ledgers/rectification/{unit}/reconciliations", json={"note": "对账"})
    assert response.status_code == _refused_or_unseen(username, LEDGER_KEEPERS, EDU_ITEM_READERS, 201)
    response = caller.post(f"/instances/{world.edu_instance}/suspend", json={"reason": ""})  # a reason is required
    assert response.status_code == _refused_or_unseen(username, SUSPENDERS, EDU_ITEM_READERS, 422)
