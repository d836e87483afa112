"""web/api/openapi.json describes the API as built: the same routes and methods, and real responses
validate against the documented schemas."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.context import EngineContext
from engine.demo import Demo
from engine.scheduler import notices
from models import RectificationItem
from tests.engine.test_migration import deploy_xml, recheck_bpmn
from tests.helpers import PLAN_ROW, act, clue_of, open_clue, open_rectification, simple_bpmn
from tests.web.helpers import API, Api, api_for, bpmn_upload
from web.api.routes import OPENAPI_PATH

DOC: dict[str, Any] = json.loads(Path(OPENAPI_PATH).read_text(encoding="utf-8"))
IGNORED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture
def api(db_url: str, ctx: EngineContext, demo: Demo) -> Iterator[Api]:
    with api_for(db_url, ctx) as client:
        yield client


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.removeprefix(API))


def _as_json_schema(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable`` is not JSON Schema: turn it into a type list."""
    if isinstance(node, list):
        return [_as_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    result = {k: _as_json_schema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable"):
        result["type"] = [node["type"], "null"]
    return result


def _follow(ref: str) -> dict[str, Any]:
    node: Any = DOC
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    result: dict[str, Any] = node
    return result


def check_response(method: str, path: str, response: Any) -> None:
    """Validate a real response against what the document says ``method path`` returns for its status."""
    operation = DOC["paths"][path][method.lower()]
    documented = operation["responses"].get(str(response.status_code))
    assert documented is not None, f"{method} {path} returned undocumented {response.status_code}"
    if "$ref" in documented:
        documented = _follow(documented["$ref"])
    if "content" not in documented:
        assert not response.data
        return
    mimetype = response.mimetype
    assert mimetype in documented["content"], (method, path, mimetype)
    if mimetype != "application/json":
        return
    schema = {**_as_json_schema(documented["content"][mimetype]["schema"]),
              "components": _as_json_schema(DOC["components"])}
    errors = sorted(Draft202012Validator(schema).iter_errors(response.get_json()), key=str)
    assert not errors, f"{method} {path} {response.status_code}: {errors[0]}"


def test_every_route_is_documented_and_every_documented_route_exists(api: Api) -> None:
    app = api.client.application
    routed = {(_openapi_path(rule.rule), method) for rule in app.url_map.iter_rules()
              if rule.rule.startswith(API + "/") for method in (rule.methods or set()) - IGNORED_METHODS}
    documented = {(path, method.upper()) for path, item in DOC["paths"].items() for method in item}
    assert routed == documented


def test_path_parameters_match_the_templates() -> None:
    for path, item in DOC["paths"].items():
        for operation in item.values():
            parameters = [_follow(p["$ref"]) if "$ref" in p else p for p in operation.get("parameters", [])]
            names = {p["name"] for p in parameters if p["in"] == "path"}
            assert names == set(re.findall(r"{(\w+)}", path)), path


def test_every_reference_resolves() -> None:
    refs = re.findall(r'"\$ref": "([^"]+)"', json.dumps(DOC))
    assert refs
    for ref in refs:
        assert _follow(ref), ref


def test_the_served_document_is_the_file(api: Api) -> None:
    assert api.client.get(f"{API}/openapi.json").get_json() == DOC


def test_real_responses_match_the_documented_schemas(api: Api, factory: sessionmaker[Session], ctx: EngineContext,
                                                     demo: Demo) -> None:
    clue_instance = open_clue(factory, ctx, demo, unit="U-EDU", receiving="JW", number="XS-O-001")
    clue_id = clue_of(factory, clue_instance).id
    rect_instance = open_rectification(factory, ctx, demo, unit="U-EDU", problems=["问题一。"])
    office, unit, designer = api("office1"), api("unit1"), api("designer1")
    seen: set[tuple[str, str]] = set()

    def check(method: str, path: str, response: Any) -> Any:
        check_response(method, path, response)
        seen.add((path, method))
        return response.get_json()

    check("GET", "/openapi.json", api.client.get(f"{API}/openapi.json"))
    check("POST", "/auth/token", api.client.post(f"{API}/auth/token", json={"username": "unit1", "password": "x"}))
    check("POST", "/auth/token", api.client.post(f"{API}/auth/token",
                                                 json={"username": "unit1", "password": "xuncha-demo"}))
    check("GET", "/definitions", office.get("/definitions"))
    check("POST", "/definitions", designer.post("/definitions", data={"file": bpmn_upload(simple_bpmn("memo"))}))
    check("POST", "/definitions", designer.post("/definitions", data={"file": bpmn_upload(simple_bpmn("memo"))}))
    check("GET", "/definitions/{key}/versions/{version}/bpmn", office.get("/definitions/rectification/versions/1/bpmn"))
    memo_v2 = {"file": bpmn_upload(simple_bpmn("memo", task_name="复核")), "make_current": "false"}
    check("POST", "/definitions", designer.post("/definitions", data=memo_v2))
    check("POST", "/definitions", designer.post("/definitions", data={"file": bpmn_upload(simple_bpmn("memo")),
                                                                      "make_current": "maybe"}))
    listed, release = "/definitions/{key}/versions", "/definitions/{key}/release"
    rollback = "/definitions/{key}/rollback"
    check("GET", listed, designer.get("/definitions/memo/versions"))
    check("GET", listed, unit.get("/definitions/memo/versions?page=0"))
    check("GET", listed, unit.get("/definitions/nothing/versions"))
    check("POST", release, designer.post("/definitions/memo/release", json={"version": 2}))
    check("POST", release, designer.post("/definitions/memo/release", json={"version": "2"}))
    check("POST", release, designer.post("/definitions/memo/release", json={"version": 9}))
    check("POST", release, unit.post("/definitions/memo/release", json={"version": 1}))
    check("POST", rollback, designer.post("/definitions/memo/rollback", json={"version": 1, "comment": "撤回复核"}))
    check("POST", rollback, designer.post("/definitions/memo/rollback", json={"version": 1}))
    check("POST", rollback, unit.post("/definitions/memo/rollback", json={"version": 2}))
    check("GET", "/definitions/{key}/diff", unit.get("/definitions/memo/diff?from=1&to=2"))
    check("GET", "/definitions/{key}/diff", unit.get("/definitions/memo/diff?from=1"))
    check("GET", "/definitions/{key}/diff", unit.get("/definitions/memo/diff?from=1&to=9"))
    check("POST", "/instances", office.post("/instances", json={"process_key": "memo", "data": {"topic": "x"}}))
    check("POST", "/instances", office.post("/instances", json={"process_key": "rectification", "data": {}}))
    check("GET", "/instances/{instance_id}", unit.get(f"/instances/{rect_instance}"))
    check("GET", "/instances/{instance_id}/history", unit.get(f"/instances/{rect_instance}/history"))
    check("GET", "/instances/{instance_id}/diagram", unit.get(f"/instances/{rect_instance}/diagram"))
    check("GET", "/instances/{instance_id}/diagram", unit.get(f"/instances/{clue_instance}/diagram"))
    check("GET", "/clues", office.get("/clues"))
    check("GET", "/clues/{clue_id}", office.get(f"/clues/{clue_id}"))
    check("GET", "/clues/{clue_id}", unit.get(f"/clues/{clue_id}"))
    check("GET", "/rectification-items", unit.get("/rectification-items"))
    items = unit.get("/rectification-items").get_json()["items"]
    check("GET", "/rectification-items/{item_id}", unit.get(f"/rectification-items/{items[0]['id']}"))
    check("GET", "/tasks", office.get("/tasks?queue=group"))
    check("GET", "/tasks", office.get("/tasks?page=0"))
    check("GET", "/tasks", office.get("/tasks?queue=all&colour=red&unit=/1/"))
    check("GET", "/tasks", office.get("/tasks?queue=all&county=99999"))
    overdue = {"name": "逾期", "queue": "all", "params": {"colour": "red", "sort": "-due"}}
    saved = check("POST", "/saved-filters", office.post("/saved-filters", json=overdue))
    check("POST", "/saved-filters", office.post("/saved-filters", json=overdue))
    check("POST", "/saved-filters", office.post("/saved-filters", json={**overdue, "replace": True}))
    check("POST", "/saved-filters", unit.post("/saved-filters", json=overdue))
    check("GET", "/saved-filters", office.get("/saved-filters"))
    as_office = {"headers": {"Authorization": f"Bearer {office.token}"}}
    check("DELETE", "/saved-filters/{filter_id}", api.client.delete(f"{API}/saved-filters/{saved['id']}", **as_office))
    check("DELETE", "/saved-filters/{filter_id}", api.client.delete(f"{API}/saved-filters/{saved['id']}", **as_office))
    task_id = office.group_task(clue_instance, "handover")
    check("GET", "/tasks/{task_id}", office.get(f"/tasks/{task_id}"))
    check("POST", "/tasks/{task_id}/claim", office.post(f"/tasks/{task_id}/claim"))
    check("POST", "/tasks/{task_id}/unclaim", office.post(f"/tasks/{task_id}/unclaim"))
    claimed = check("POST", "/tasks/next", office.post("/tasks/next?process=clue_disposition"))
    office.ok("POST", f"/tasks/{claimed['id']}/unclaim")
    check("POST", "/tasks/next", office.post("/tasks/next?process=no_such_process"))
    check("POST", "/tasks/next", office.post("/tasks/next?sort=sideways"))
    check("POST", "/tasks/{task_id}/assign", office.post(f"/tasks/{task_id}/assign", json={"user": "office1"}))
    check("PUT", "/tasks/{task_id}/draft", office.put(f"/tasks/{task_id}/draft", json={"data": {"handover_note": "x"}}))
    check("PUT", "/tasks/{task_id}/draft", office.put(f"/tasks/{task_id}/draft", json={"data": {"nope": 1}}))
    check("GET", "/tasks/{task_id}/draft", office.get(f"/tasks/{task_id}/draft"))
    check("POST", "/tasks/{task_id}/delegate", office.post(f"/tasks/{task_id}/delegate", json={"user": "office1"}))
    check("POST", "/tasks/{task_id}/delegate", office.post(f"/tasks/{task_id}/delegate", json={"user": "jw1"}))
    check("POST", "/tasks/{task_id}/complete", office.post(f"/tasks/{task_id}/complete", json={"data": {}}))
    jw = api("jw1")
    check("POST", "/tasks/{task_id}/resolve", jw.post(f"/tasks/{task_id}/resolve", json={"data": {}}))
    check("POST", "/tasks/{task_id}/resolve", jw.post(f"/tasks/{task_id}/resolve",
                                                       json={"data": {"handover_list": "报告 1 份"}}))
    check("POST", "/tasks/{task_id}/resolve", jw.post(f"/tasks/{task_id}/resolve", json={"data": {}}))
    check("POST", "/tasks/{task_id}/complete", office.post(f"/tasks/{task_id}/complete", json={"data": {}}))
    check("POST", "/tasks/{task_id}/complete", office.post(f"/tasks/{task_id}/complete",
                                                           json={"data": {"handover_list": "报告 1 份"}}))
    check("POST", "/tasks/{task_id}/complete", office.post(f"/tasks/{task_id}/complete",
                                                           json={"data": {"handover_list": "报告 1 份"}}))
    check("POST", "/tasks/{task_id}/return", office.post(f"/tasks/{task_id}/return", json={"reason": "x"}))
    acknowledge = jw.group_task(clue_instance, "acknowledge")
    check("POST", "/tasks/{task_id}/return", jw.post(f"/tasks/{acknowledge}/return", json={"reason": " "}))
    check("POST", "/tasks/{task_id}/return", jw.post(f"/tasks/{acknowledge}/return", json={"reason": "材料不全"}))
    notices(factory, ctx)  # the scheduler's tick offers the returned clue to the office
    notes = check("GET", "/notifications", office.get("/notifications?unread=1"))
    assert notes["unread"] >= 1 and notes["items"]
    first = notes["items"][0]["id"]
    check("POST", "/notifications/{notification_id}/read", office.post(f"/notifications/{first}/read"))
    check("POST", "/notifications/{notification_id}/read", unit.post(f"/notifications/{first}/read"))
    check("POST", "/notifications/read-all", office.post("/notifications/read-all"))
    comments, attachments = "/instances/{instance_id}/comments", "/instances/{instance_id}/attachments"
    check("POST", comments, office.post(f"/instances/{clue_instance}/comments", json={"body": "请核对清单"}))
    check("POST", comments, office.post(f"/instances/{clue_instance}/comments", json={"body": " "}))
    check("GET", comments, office.get(f"/instances/{clue_instance}/comments"))
    check("GET", comments, unit.get(f"/instances/{clue_instance}/comments"))
    pdf = check("POST", attachments, unit.post(f"/instances/{rect_instance}/attachments",
                                               data={"file": (BytesIO(b"%PDF-1.4\n%%EOF\n"), "整改报告.pdf")}))
    check("POST", attachments, unit.post(f"/instances/{rect_instance}/attachments",
                                         data={"file": (BytesIO(b"<html></html>"), "page.html")}))
    check("GET", attachments, unit.get(f"/instances/{rect_instance}/attachments"))
    check("GET", "/attachments/{attachment_id}", unit.get(f"/attachments/{pdf['id']}"))
    check("GET", "/attachments/{attachment_id}/content", unit.get(f"/attachments/{pdf['id']}/content"))
    withdraw = {"headers": {"Authorization": f"Bearer {unit.token}"}}
    check("DELETE", "/attachments/{attachment_id}", api.client.delete(f"{API}/attachments/{pdf['id']}", **withdraw))
    check("DELETE", "/attachments/{attachment_id}", api.client.delete(f"{API}/attachments/{pdf['id']}", **withdraw))
    check("GET", "/attachments/{attachment_id}/content", unit.get(f"/attachments/{pdf['id']}/content"))
    extension_path, decide = "/tasks/{task_id}/extension-requests", "/extension-requests/{request_id}/"
    feedback = unit.group_task(rect_instance, "receive_feedback")
    unit.post(f"/tasks/{feedback}/claim")
    asked = {"requested_due_at": "2027-01-29", "reason": "材料较多，需补充调取"}
    check("POST", extension_path, unit.post(f"/tasks/{feedback}/extension-requests", json=asked))
    check("POST", extension_path, unit.post(f"/tasks/{feedback}/extension-requests", json=asked))
    check("POST", extension_path, unit.post(f"/tasks/{feedback}/extension-requests", json={**asked, "reason": " "}))
    check("POST", extension_path, unit.post(f"/tasks/{feedback}/extension-requests", json={"reason": "x"}))
    check("POST", extension_path, office.post(f"/tasks/{feedback}/extension-requests", json=asked))
    check("POST", extension_path, office.post("/tasks/999999/extension-requests", json=asked))
    pending = check("GET", "/extension-requests", office.get("/extension-requests?status=pending"))
    check("GET", "/extension-requests", office.get("/extension-requests?status=nope"))
    check("GET", "/extension-requests", unit.get("/extension-requests?mine=1"))
    asked_id = pending["items"][0]["id"]
    check("POST", decide + "refuse", unit.post(f"/extension-requests/{asked_id}/refuse"))
    check("POST", decide + "approve", api("jw1").post(f"/extension-requests/{asked_id}/approve"))
    check("POST", decide + "approve", office.post(f"/extension-requests/{asked_id}/approve", json={"note": "同意"}))
    check("POST", decide + "approve", office.post(f"/extension-requests/{asked_id}/approve"))
    again = unit.post(f"/tasks/{feedback}/extension-requests", json={**asked, "requested_due_at": "2027-02-26"})
    check("POST", decide + "withdraw", office.post(f"/extension-requests/{again.get_json()['id']}/withdraw"))
    check("POST", decide + "withdraw", unit.post(f"/extension-requests/{again.get_json()['id']}/withdraw"))
    check("POST", decide + "withdraw", unit.post(f"/extension-requests/{again.get_json()['id']}/withdraw"))
    third = unit.post(f"/tasks/{feedback}/extension-requests", json={**asked, "requested_due_at": "2027-02-26"})
    check("POST", decide + "refuse", office.post(f"/extension-requests/{third.get_json()['id']}/refuse",
                                                 json={"note": "期限充足"}))
    suspend, resume = "/instances/{instance_id}/suspend", "/instances/{instance_id}/resume"
    check("POST", suspend, unit.post(f"/instances/{rect_instance}/suspend", json={"reason": "等待审计"}))
    check("POST", suspend, api("jw1").post(f"/instances/{rect_instance}/suspend", json={"reason": "等待审计"}))
    check("POST", suspend, office.post(f"/instances/{rect_instance}/suspend", json={"reason": " "}))
    check("POST", suspend, office.post(f"/instances/{rect_instance}/suspend", json={"reason": "等待审计结论"}))
    check("POST", resume, office.post(f"/instances/{rect_instance}/resume", json={"note": "结论已出"}))
    check("POST", resume, office.post(f"/instances/{rect_instance}/resume"))
    check("GET", "/audit/verify", api("auditor1").get("/audit/verify"))
    check("GET", "/audit/verify", unit.get("/audit/verify"))
    check("GET", "/audit/export", api("auditor1").get("/audit/export?format=json"))
    check("GET", "/audit/export", api("office1").get("/audit/export?format=csv"))
    check("GET", "/audit/export", api("auditor1").get("/audit/export?format=xml"))
    check("GET", "/audit/export", unit.get("/audit/export"))
    check("GET", "/calendar", unit.get("/calendar?year=2026"))
    check("GET", "/calendar", unit.get("/calendar?year=nope"))
    day = "/calendar/days/{date}"
    check("PUT", day, office.put("/calendar/days/2026-12-01", json={"working": False, "note": "台风停工"}))
    check("PUT", day, office.put("/calendar/days/2026-12-01", json={"working": False, "note": "台风停工"}))
    check("PUT", day, office.put("/calendar/days/2026-12-02", json={"working": True, "note": "加班"}))
    check("PUT", day, office.put("/calendar/days/2026-13-01", json={"working": False, "note": "x"}))
    check("PUT", day, unit.put("/calendar/days/2026-12-01", json={"working": False, "note": "x"}))
    check("DELETE", day, api.client.delete(f"{API}/calendar/days/2026-12-01", **as_office))
    check("DELETE", day, api.client.delete(f"{API}/calendar/days/2026-12-01", **as_office))
    drafts, one = "/designer/drafts", "/designer/drafts/{key}"
    memo_xml = simple_bpmn("memo", task_name="复核").decode()
    check("GET", drafts, designer.get("/designer/drafts"))
    check("GET", drafts, unit.get("/designer/drafts"))
    check("GET", one, designer.get("/designer/drafts/memo"))
    saved = check("PUT", one, designer.put("/designer/drafts/memo", json={"bpmn_xml": memo_xml, "based_on_version": 1}))
    check("PUT", one, designer.put("/designer/drafts/memo", json={"bpmn_xml": memo_xml}))
    check("PUT", one, designer.put("/designer/drafts/memo", json={"bpmn_xml": "x" * (5 * 1024 * 1024 + 1)}))
    check("PUT", one, designer.put("/designer/drafts/memo", json={"bpmn_xml": "<broken"}))
    check("PUT", one, designer.put("/designer/drafts/memo", json={"revision": saved["revision"]}))
    check("PUT", one, designer.put("/designer/drafts/memo", json={"bpmn_xml": memo_xml, "based_on_version": 9,
                                                                   "revision": saved["revision"]}))
    check("PUT", one, unit.put("/designer/drafts/memo", json={"bpmn_xml": memo_xml}))
    check("GET", one, designer.get("/designer/drafts/memo"))
    check("GET", drafts, designer.get("/designer/drafts"))
    as_designer = {"headers": {"Authorization": f"Bearer {designer.token}"}}
    check("DELETE", one, api.client.delete(f"{API}/designer/drafts/memo?revision=x", **as_designer))
    check("DELETE", one, api.client.delete(f"{API}/designer/drafts/memo?revision=99", **as_designer))
    check("DELETE", one, api.client.delete(f"{API}/designer/drafts/memo", headers={
        "Authorization": f"Bearer {unit.token}"}))
    check("DELETE", one, api.client.delete(f"{API}/designer/drafts/memo?revision={saved['revision']}", **as_designer))
    check("DELETE", one, api.client.delete(f"{API}/designer/drafts/memo", **as_designer))
    check("POST", "/designer/validate", designer.post("/designer/validate", json={"bpmn_xml": memo_xml}))
    check("POST", "/designer/validate", designer.post("/designer/validate", data=b"<broken",
                                                      content_type="application/xml"))
    check("POST", "/designer/validate", designer.post("/designer/validate", json={}))
    huge = {"bpmn_xml": "x" * (5 * 1024 * 1024 + 1)}
    check("POST", "/designer/validate", designer.post("/designer/validate", json=huge))
    check("POST", "/designer/validate", unit.post("/designer/validate", json={"bpmn_xml": memo_xml}))
    check("GET", "/designer/catalog", designer.get("/designer/catalog"))
    check("GET", "/designer/catalog", unit.get("/designer/catalog"))
    recheck = {"type": "object", "properties": {"finding": {"type": "string", "title": "复查结论"}}}
    check("GET", "/forms", unit.get("/forms?q=rect"))
    check("GET", "/forms", unit.get("/forms?page=0"))
    check("POST", "/forms", designer.post("/forms", json={"name": "rect_recheck", "schema": recheck}))
    check("POST", "/forms", designer.post("/forms", json={"name": "rect_recheck", "schema": recheck,
                                                          "expected_version": 1}))
    check("POST", "/forms", designer.post("/forms", json={"name": "rect_recheck", "schema": recheck}))
    check("POST", "/forms", designer.post("/forms", json={"name": "Bad", "schema": recheck}))
    check("POST", "/forms", designer.post("/forms", json={"schema": recheck}))
    check("POST", "/forms", unit.post("/forms", json={"name": "unit_form", "schema": recheck}))
    check("GET", "/forms/{name}", unit.get("/forms/rect_recheck"))
    check("GET", "/forms/{name}", unit.get("/forms/nothing"))
    check("GET", "/forms/{name}/versions/{version}", unit.get("/forms/rect_recheck/versions/1"))
    check("GET", "/forms/{name}/versions/{version}", unit.get("/forms/rect_recheck/versions/9"))
    leader, zzb = api("leader1"), api("zzb1")
    check("GET", "/statistics", office.get("/statistics"))
    check("GET", "/statistics", leader.get("/statistics?county=COUNTY-A"))
    check("GET", "/statistics", office.get("/statistics?county=NOPE"))
    check("GET", "/statistics", unit.get("/statistics"))
    report = check("POST", "/reports", office.post("/reports", json={"kind": "bulletin"}))
    check("POST", "/reports", office.post("/reports", json={"kind": "poster"}))
    check("POST", "/reports", leader.post("/reports", json={"kind": "bulletin"}))
    check("GET", "/reports", leader.get("/reports"))
    check("GET", "/reports", leader.get("/reports?page=0"))
    check("GET", "/reports", unit.get("/reports"))
    check("GET", "/reports/{report_id}", leader.get(f"/reports/{report['id']}"))
    check("GET", "/reports/{report_id}", office.get("/reports/999"))
    check("GET", "/reports/{report_id}", unit.get(f"/reports/{report['id']}"))
    check("POST", "/promotion-checks", zzb.post("/promotion-checks", json={"name": "张某某", "unit": "U-EDU"}))
    check("POST", "/promotion-checks", zzb.post("/promotion-checks", json={"unit": "U-EDU"}))
    check("POST", "/promotion-checks", zzb.post("/promotion-checks", json={"name": "张某某"}))
    check("POST", "/promotion-checks", zzb.post("/promotion-checks", json={"unit": "NOPE"}))
    check("POST", "/promotion-checks", unit.post("/promotion-checks", json={"unit": "U-EDU"}))
    deploy_xml(factory, ctx, recheck_bpmn())  # rectification v2, to migrate rect_instance to
    migrations = "/definitions/rectification/migrations"
    check("POST", "/definitions/{key}/migrations", designer.post(migrations, json={"from_version": 1, "to_version": 2}))
    moved = designer.post(migrations, json={"from_version": 1, "to_version": 2, "dry_run": False})
    check("POST", "/definitions/{key}/migrations", moved)
    check("POST", "/definitions/{key}/migrations", designer.post(migrations, json={"from_version": 2, "to_version": 2}))
    check("POST", "/definitions/{key}/migrations", designer.post(migrations, json={"from_version": 1, "to_version": 9}))
    check("POST", "/definitions/{key}/migrations", unit.post(migrations, json={"from_version": 1, "to_version": 2}))
    check("GET", "/definitions/{key}/migrations/{run_id}", designer.get(f"{migrations}/{moved.get_json()['id']}"))
    check("GET", "/definitions/{key}/migrations/{run_id}", designer.get(f"{migrations}/999"))
    check("GET", "/definitions/{key}/migrations/{run_id}", unit.get(f"{migrations}/{moved.get_json()['id']}"))
    group, edu, health = api("group1"), demo.orgs["U-EDU"].id, demo.inspections["U-HEALTH"].id
    reports = f"/inspections/{health}/reports"
    check("GET", "/inspections/{inspection_id}/reports", group.get(reports))
    check("GET", "/inspections/{inspection_id}/reports", unit.get(reports))
    one_report = "/inspections/{inspection_id}/reports/{kind}"
    check("PUT", one_report, group.put(f"{reports}/clues", json={"title": "线索报告"}))
    check("PUT", one_report, group.put(f"{reports}/clues", json={"title": "x"}))
    intake_rows = {"rows": [{"number": "XS-O-101", "person_name": "王某", "summary": "反映问题。",
                             "receiving_body": "JW"}]}
    check("POST", "/inspections/{inspection_id}/clues", group.post(f"/inspections/{health}/clues", intake_rows))
    check("POST", "/inspections/{inspection_id}/clues", group.post(f"/inspections/{health}/clues", intake_rows))
    findings = {"rows": [{"description": "公务用车管理存在漏洞。"}]}
    check("POST", "/inspections/{inspection_id}/findings", group.post(f"/inspections/{health}/findings", findings))
    check("POST", "/inspections/{inspection_id}/findings", group.post(f"/inspections/{health}/findings", findings))
    ledger = f"/ledgers/rectification/{edu}"
    listed = check("GET", "/ledgers/rectification/{unit_id}", unit.get(ledger))
    check("GET", "/ledgers/rectification/{unit_id}", api("unit2").get(ledger))
    check("GET", "/ledgers/rectification/{unit_id}/export", office.get(f"{ledger}/export"))
    sheet = office.get(f"{ledger}/export").data
    multipart = "multipart/form-data"
    preview = check("POST", "/ledgers/rectification/{unit_id}/import/preview", unit.post(
        f"{ledger}/import/preview", data={"file": (BytesIO(sheet), "台账.xlsx")}, content_type=multipart))
    check("POST", "/ledgers/rectification/{unit_id}/import/preview", unit.post(
        f"{ledger}/import/preview", data={"file": (BytesIO(b"a,b"), "台账.csv")}, content_type=multipart))
    check("POST", "/ledgers/rectification/{unit_id}/import", unit.post(
        f"{ledger}/import", {"sheet": preview["sheet"], "basis": preview["basis"]}))
    item = f"/ledgers/rectification-items/{listed['items'][0]['id']}"
    as_unit = {"headers": {"Authorization": f"Bearer {unit.token}"}}
    check("PATCH", "/ledgers/rectification-items/{item_id}",
          api.client.patch(f"{API}{item}", json={"values": {"progress": "推进中"}}, **as_unit))
    check("PATCH", "/ledgers/rectification-items/{item_id}",
          api.client.patch(f"{API}{item}", json={"values": {"review_opinion": "同意"}}, **as_unit))
    check("POST", "/ledgers/rectification/{unit_id}/reconciliations", office.post(f"{ledger}/reconciliations", {}))
    check("POST", "/ledgers/rectification/{unit_id}/reconciliations", leader.post(f"{ledger}/reconciliations", {}))
    check("GET", "/ledgers/rectification/{unit_id}/reconciliations/diff", unit.get(f"{ledger}/reconciliations/diff"))
    check("GET", "/ledgers/clues", office.get("/ledgers/clues"))
    check("GET", "/ledgers/clues", office.get("/ledgers/clues?status=nope"))
    check("GET", "/ledgers/clues/export", office.get("/ledgers/clues/export"))
    # 巡察规划, publications and 回头看 (H7)
    leader1, county1 = api("leader1"), api("county1")

    def patch(caller: Any, path: str, body: Any) -> Any:
        return api.client.patch(API + path, json=body, headers={"Authorization": f"Bearer {caller.token}"})

    plans = check("GET", "/plans", office.get("/plans"))
    term = {"org_id": demo.orgs["COUNTY-A"].id, "name": "某县第十届巡察规划", "start_year": 2027, "end_year": 2031,
            "units": [{"unit_id": demo.orgs["COUNTY-A-TOWN"].id, "planned_year": 2027}]}
    check("POST", "/plans", county1.post("/plans", json=term))
    check("POST", "/plans", county1.post("/plans", json=term))
    check("POST", "/plans", county1.post("/plans", json={**term, "start_year": 2040}))
    check("POST", "/plans", county1.post("/plans", json={**term, "org_id": demo.orgs["CITY"].id}))
    check("POST", "/plans", leader1.post("/plans", json={**term, "start_year": 2032, "end_year": 2036}))
    check("GET", "/plans", unit.get("/plans"))
    city = next(p["id"] for p in plans["items"] if p["org_id"] == demo.orgs["CITY"].id)
    rounds = "/plans/{plan_id}/rounds"
    check("GET", rounds, office.get(f"/plans/{city}/rounds?year=2026"))
    check("GET", rounds, office.get(f"/plans/{city}/rounds?year=x"))
    check("GET", rounds, county1.get(f"/plans/{city}/rounds"))
    december = {"year": 2026, "kind": "专项", "method": "一托N", "starts_on": "2026-12-01", "ends_on": "2026-12-20"}
    new_round = check("POST", rounds, office.post(f"/plans/{city}/rounds", json=december))
    check("POST", rounds, office.post(f"/plans/{city}/rounds", json={"year": 2026, "number": new_round["number"]}))
    check("POST", rounds, office.post(f"/plans/{city}/rounds", json={"year": 2031}))
    check("POST", rounds, leader1.post(f"/plans/{city}/rounds", json=december))
    check("POST", rounds, unit.post(f"/plans/{city}/rounds", json=december))
    one_round, round_id = "/rounds/{round_id}", new_round["id"]
    check("PATCH", one_round, patch(office, f"/rounds/{round_id}", {"stage": "进驻", "name": "2026年专项巡察"}))
    check("PATCH", one_round, patch(office, f"/rounds/{round_id}", {"stage": "准备"}))
    check("PATCH", one_round, patch(office, f"/rounds/{round_id}", {"kind": "巡视"}))
    check("PATCH", one_round, patch(leader1, f"/rounds/{round_id}", {"name": "x"}))
    check("PATCH", one_round, patch(county1, f"/rounds/{round_id}", {"name": "x"}))
    inspections = "/rounds/{round_id}/inspections"
    sent = {"unit_id": demo.orgs["U-PW01"].id, "team_id": demo.orgs["TEAM1"].id, "contact_phone": "0000-7000000"}
    inspection = check("POST", inspections, office.post(f"/rounds/{round_id}/inspections", json=sent))
    check("POST", inspections, office.post(f"/rounds/{round_id}/inspections", json=sent))
    check("POST", inspections, office.post(f"/rounds/{round_id}/inspections",
                                           json={**sent, "unit_id": demo.orgs["U-PW02"].id, "team_id": 999}))
    check("POST", inspections, leader1.post(f"/rounds/{round_id}/inspections", json=sent))
    check("POST", inspections, unit.post(f"/rounds/{round_id}/inspections", json=sent))
    check("GET", inspections, office.get(f"/rounds/{round_id}/inspections"))
    check("GET", inspections, unit.get(f"/rounds/{round_id}/inspections"))
    one_inspection = "/inspections/{inspection_id}"
    check("PATCH", one_inspection, patch(office, f"/inspections/{inspection['id']}", {"contact_mailbox": "信箱 9 号"}))
    check("PATCH", one_inspection, patch(office, f"/inspections/{inspection['id']}", {"unit_id": 1}))
    check("PATCH", one_inspection, patch(leader1, f"/inspections/{inspection['id']}", {"contact_phone": "1"}))
    check("PATCH", one_inspection, patch(unit, f"/inspections/{inspection['id']}", {"contact_phone": "1"}))
    plan_unit, pw02 = "/plans/{plan_id}/units/{unit_id}", demo.orgs["U-PW02"].id
    check("PATCH", plan_unit, patch(office, f"/plans/{city}/units/{pw02}", {"planned_year": 2026}))
    check("PATCH", plan_unit, patch(office, f"/plans/{city}/units/{pw02}", {"planned_year": 2040}))
    check("PATCH", plan_unit, patch(leader1, f"/plans/{city}/units/{pw02}", {"planned_year": 2025}))
    check("PATCH", plan_unit, patch(unit, f"/plans/{city}/units/{pw02}", {"planned_year": 2025}))
    coverage = "/plans/{plan_id}/coverage"
    covered = check("GET", coverage, office.get(f"/plans/{city}/coverage?status=uncovered&per_page=5"))
    assert covered["units"] == 96 and len(covered["items"]) == 5
    check("GET", coverage, office.get(f"/plans/{city}/coverage?status=nope"))
    check("GET", coverage, county1.get(f"/plans/{city}/coverage"))
    announce = {"kind": "announcement", "source_id": inspection["id"], "title": "巡察公告"}
    published = check("POST", "/publications", office.post("/publications", json=announce))
    check("POST", "/publications", office.post("/publications", json=announce))
    check("POST", "/publications", office.post("/publications", json={**announce, "kind": "news"}))
    check("POST", "/publications", leader1.post("/publications", json=announce))
    check("POST", "/publications", unit.post("/publications", json=announce))
    check("GET", "/publications", office.get("/publications?kind=announcement"))
    check("GET", "/publications", office.get("/publications?kind=news"))
    withdraw = "/publications/{publication_id}/withdraw"
    check("POST", withdraw, office.post(f"/publications/{published['id']}/withdraw", json={"reason": " "}))
    check("POST", withdraw, leader1.post(f"/publications/{published['id']}/withdraw", json={"reason": "有误"}))
    check("POST", withdraw, unit.post(f"/publications/{published['id']}/withdraw", json={"reason": "有误"}))
    check("POST", withdraw, office.post(f"/publications/{published['id']}/withdraw", json={"reason": "电话有误"}))
    check("POST", withdraw, office.post(f"/publications/{published['id']}/withdraw", json={"reason": "电话有误"}))
    done = open_rectification(factory, ctx, demo, unit="U-EDU", problems=["回头看的问题。"])
    number = "U-EDU-01"
    for who, step, data in [  # the current diagram (v2 above) has a 复核 before 销号
            ("unit1", "receive_feedback", {"feedback_received_on": "2026-11-25"}),
            ("unit1", "draft_plan", {"plan_summary": "整改。", "pledge_signed": True, "pledge_signer": "书记",
                                     "plan_measures": [{"item_number": number, **PLAN_ROW}]}),
            ("office1", "review_plan", {"plan_decision": "通过"}),
            ("unit1", "rectify_item", {"item_progress": "已整改。", "item_completion": "已完成"}),
            ("group1", "verify_item", {"item_verify_decision": "通过"}), ("office1", "recheck_item", {}),
            ("office1", "strike_off_item", {"strike_off_date": "2026-12-01"}),
            ("unit1", "rectification_report", {"report_summary": "完成。", "report_date": "2026-12-10"}),
            ("office1", "disclosure", {"publish": False, "exemption_note": "无"}), ("office1", "close_out", {})]:
        act(factory, ctx, who, done, step, data)
    with factory() as session:
        item_id = session.execute(select(RectificationItem.id).where(RectificationItem.instance_id == done)).scalar()
    revisit = {"instance_id": done, "reopen_item_ids": [item_id], "new_problems": ["新问题。"], "due_on": "2027-03-31"}
    check("POST", "/revisits", unit.post("/revisits", json=revisit))
    check("POST", "/revisits", office.post("/revisits", json={**revisit, "due_on": "soon"}))
    check("POST", "/revisits", office.post("/revisits", json={**revisit, "instance_id": rect_instance}))
    check("POST", "/revisits", office.post("/revisits", json=revisit))
    check("POST", "/auth/revoke", unit.post("/auth/revoke"))
    check("GET", "/tasks", unit.get("/tasks"))
    assert seen == {(path, method.upper()) for path, item in DOC["paths"].items() for method in item}
