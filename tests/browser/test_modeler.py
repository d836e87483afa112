"""流程设计 in a real browser, as the supervisor designer1: add a user task to a lane of a small process
with the palette and the context pad, name it and pick its form in the properties panel, deploy, see the
version listed and a case's new task in the right group's queue; deploy an invalid diagram and see the
offending elements marked on the canvas and listed beside it."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

from lxml import etree
from playwright.sync_api import Browser, Dialog, Page, expect

from engine.actors import load_actor
from engine.context import EngineContext
from engine.db import make_engine, make_session_factory, transaction
from engine.definitions import BPMN_NS as BPMN
from engine.definitions import SPIFF_NS as SPIFF
from engine.demo import DEMO_PASSWORD
from engine.versions import deploy_version
from tests.browser.conftest import log_in

KEY = "memo_review"

# office: start → end; leading_group: an empty lane for the step the supervisor adds.
MEMO = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
  xmlns:di="http://www.omg.org/spec/DD/20100524/DI" id="Defs_memo" targetNamespace="http://xuncha.local/bpmn">
  <bpmn:collaboration id="Collab_memo">
    <bpmn:participant id="Participant_memo" name="情况报告" processRef="{KEY}" />
  </bpmn:collaboration>
  <bpmn:process id="{KEY}" name="情况报告" isExecutable="true">
    <bpmn:laneSet id="LaneSet_memo">
      <bpmn:lane id="Lane_office" name="office"><bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef></bpmn:lane>
      <bpmn:lane id="Lane_leading" name="leading_group" />
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>flow_direct</bpmn:outgoing></bpmn:startEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>flow_direct</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="flow_direct" sourceRef="start" targetRef="end" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="Diagram_memo">
    <bpmndi:BPMNPlane id="Plane_memo" bpmnElement="Collab_memo">
      <bpmndi:BPMNShape id="Participant_memo_di" bpmnElement="Participant_memo" isHorizontal="true">
        <dc:Bounds x="100" y="80" width="700" height="400" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Lane_office_di" bpmnElement="Lane_office" isHorizontal="true">
        <dc:Bounds x="130" y="80" width="670" height="200" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Lane_leading_di" bpmnElement="Lane_leading" isHorizontal="true">
        <dc:Bounds x="130" y="280" width="670" height="200" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="180" y="162" width="36" height="36" />
        </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="end_di" bpmnElement="end"><dc:Bounds x="700" y="162" width="36" height="36" />
        </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="flow_direct_di" bpmnElement="flow_direct">
        <di:waypoint x="216" y="180" /><di:waypoint x="700" y="180" /></bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def deploy_memo(browser_db: str) -> None:
    engine = make_engine(browser_db)
    ctx = EngineContext.default()
    with transaction(make_session_factory(engine)) as session:
        deploy_version(session, MEMO.encode(), load_actor(session, "designer1"), ctx.forms, at=ctx.clock.now(),
                       comment="初版")
    engine.dispose()


def open_modeler(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.get_by_test_id("modeler")).to_have_attribute("data-ready", "true")


def element_box(page: Page, element_id: str) -> dict[str, float]:
    box = page.locator(f'g.djs-element[data-element-id="{element_id}"]').first.bounding_box()
    assert box is not None, element_id
    return box


def api_call(base: str, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    request = urllib.request.Request(f"{base}/api/v1{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def test_a_supervisor_adds_a_step_in_a_lane_deploys_it_and_a_case_offers_it_to_that_group(
        browser_db: str, server: str, browser: Browser) -> None:
    deploy_memo(browser_db)
    page = log_in(browser, server, "designer1")
    page.set_viewport_size({"width": 1500, "height": 950})
    open_modeler(page, f"{server}/designer/{KEY}")

    # A task from the palette, dropped into the leading_group lane; made a user task with the context pad.
    lane = element_box(page, "Lane_leading")
    page.locator('.djs-palette [data-action="create.task"]').click()
    x, y = lane["x"] + lane["width"] / 2, lane["y"] + lane["height"] / 2
    page.mouse.move(x, y)
    page.mouse.move(x + 2, y + 2)
    page.mouse.click(x + 2, y + 2)
    page.locator('.djs-context-pad [data-action="replace"]').click()
    page.locator('.djs-popup [data-id="replace-with-user-task"]').click()
    task_id = page.evaluate("""() => window.xunchaModeler.get('elementRegistry')
        .filter(e => e.type === 'bpmn:UserTask')[0].id""")
    # Wire it in: start → new step → end (bpmn-js's modeling API; drawing flows by mouse adds nothing here).
    page.evaluate("""(taskId) => {
        const registry = window.xunchaModeler.get('elementRegistry');
        const modeling = window.xunchaModeler.get('modeling');
        modeling.removeElements([registry.get('flow_direct')]);
        modeling.connect(registry.get('start'), registry.get(taskId));
        modeling.connect(registry.get(taskId), registry.get('end'));
        window.xunchaModeler.get('selection').select(registry.get(taskId)); }""", task_id)
    expect(page.get_by_test_id("modeler-state")).to_contain_text("有未保存的修改")

    # Name and form in the properties panel.
    page.locator("#bio-properties-panel-name").fill("领导小组审阅")
    page.locator("#bio-properties-panel-xc-form").select_option("rect_supervise.schema.json")
    page.locator("#bio-properties-panel-xc-due").fill("3")

    page.get_by_role("button", name="保存草稿").click()
    expect(page.get_by_test_id("modeler-state")).to_contain_text("已保存")

    with page.expect_download() as download:
        page.get_by_role("button", name="下载 XML").click()
    assert download.value.suggested_filename == f"{KEY}.bpmn"
    assert "领导小组审阅" in Path(download.value.path()).read_text(encoding="utf-8")

    page.locator("input[name=comment]").fill("增加领导小组审阅")
    page.get_by_role("button", name="部署", exact=True).click()
    outcome = page.get_by_test_id("modeler-outcome")
    expect(outcome).to_contain_text(f"已部署 {KEY} 第 2 版")
    outcome.get_by_role("link", name="版本列表").click()
    page.wait_for_url(f"{server}/definitions/{KEY}/versions")
    expect(page.locator("body")).to_contain_text("增加领导小组审阅")

    # A case of the new version: its first step is the new one, offered to 领导小组 (leader1), not to the office.
    token = api_call(server, "POST", "/auth/token", {"username": "office1", "password": DEMO_PASSWORD})["token"]
    started = api_call(server, "POST", "/instances", {"process_key": KEY, "data": {}}, token)
    assert started["version"] == 2
    leader = log_in(browser, server, "leader1")
    leader.goto(f"{server}/tasks?queue=group")
    expect(leader.get_by_test_id("task-row").filter(has_text="领导小组审阅")).to_have_count(1)
    office = log_in(browser, server, "office1")
    office.goto(f"{server}/tasks?queue=group")
    expect(office.get_by_test_id("task-row").filter(has_text="领导小组审阅")).to_have_count(0)


def test_an_invalid_diagram_is_not_deployed_and_its_offending_element_is_marked_and_listed(
        browser_db: str, server: str, browser: Browser) -> None:
    deploy_memo(browser_db)
    page = log_in(browser, server, "designer1")
    page.set_viewport_size({"width": 1500, "height": 950})
    open_modeler(page, f"{server}/designer/{KEY}")

    # The lane is renamed to no known group (raw name, in the panel's General group).
    lane = element_box(page, "Lane_leading")
    page.mouse.click(lane["x"] + lane["width"] / 2, lane["y"] + lane["height"] / 2)
    expect(page.locator("#bio-properties-panel-xc-lane-group")).to_have_value("leading_group")
    page.locator("#bio-properties-panel-name").fill("不存在的组")
    expect(page.locator("#bio-properties-panel-xc-lane-group")).to_have_value("不存在的组")

    # An exclusive gateway from the palette, in the office lane, choosing between two bare flows.
    office_lane = element_box(page, "Lane_office")
    page.locator('.djs-palette [data-action="create.exclusive-gateway"]').click()
    x, y = office_lane["x"] + office_lane["width"] * 0.45, office_lane["y"] + office_lane["height"] * 0.75
    page.mouse.move(x, y)
    page.mouse.move(x + 2, y + 2)
    page.mouse.click(x + 2, y + 2)
    gateway = page.evaluate("""() => {
        const registry = window.xunchaModeler.get('elementRegistry');
        const modeling = window.xunchaModeler.get('modeling');
        const gateway = registry.filter(e => e.type === 'bpmn:ExclusiveGateway')[0];
        modeling.removeElements([registry.get('flow_direct')]);
        modeling.connect(registry.get('start'), gateway);
        modeling.connect(gateway, registry.get('end'));
        modeling.connect(gateway, registry.get('end'));
        return gateway.id; }""")

    problem_class = re.compile(r"\bxc-problem\b")
    page.get_by_role("button", name="校验").click()
    problems = page.get_by_test_id("modeler-problems")
    expect(problems).to_contain_text("没有默认连线")
    expect(page.locator(f'g.djs-element[data-element-id="{gateway}"]')).to_have_class(problem_class)

    # Without the gateway, deploying is refused for the lane, which is marked (and only it).
    page.evaluate("""(gatewayId) => {
        const registry = window.xunchaModeler.get('elementRegistry');
        const modeling = window.xunchaModeler.get('modeling');
        modeling.removeElements([registry.get(gatewayId)]);
        modeling.connect(registry.get('start'), registry.get('end')); }""", gateway)
    page.get_by_role("button", name="部署", exact=True).click()
    expect(page.get_by_test_id("modeler-outcome")).to_contain_text("未部署")
    expect(problems).to_contain_text("泳道“不存在的组”没有对应的用户组")
    expect(problems).not_to_contain_text("没有默认连线")
    expect(page.locator('g.djs-element[data-element-id="Lane_leading"]')).to_have_class(problem_class)
    expect(page.locator("g.djs-element.xc-problem")).to_have_count(1)

    # Clicking the problem selects its element; the one version is still the only one.
    page.mouse.click(10, 10)
    problems.locator('li[data-element-id="Lane_leading"]').click()
    selected = page.evaluate("() => window.xunchaModeler.get('selection').get().map(e => e.id)")
    assert selected == ["Lane_leading"]

    # Leaving with unsaved changes asks first.
    dialogs: list[str] = []

    def answer(dialog: Dialog) -> None:
        dialogs.append(dialog.type)
        dialog.accept()

    page.on("dialog", answer)
    page.goto(f"{server}/definitions")
    assert dialogs == ["beforeunload"]
    response = page.goto(f"{server}/definitions/{KEY}/versions/2/bpmn")
    assert response is not None and response.status == 404


def test_the_rectification_diagram_round_trips_and_its_timer_is_edited_in_working_days(
        server: str, browser: Browser) -> None:
    page = log_in(browser, server, "designer1")
    page.set_viewport_size({"width": 1500, "height": 950})
    open_modeler(page, f"{server}/designer/rectification")

    # 方案将到期 fires 19 working days after 整改方案 opens, which is due in 22: "到期前 3 个工作日".
    page.evaluate("""() => { const m = window.xunchaModeler;
        m.get('selection').select(m.get('elementRegistry').get('warn_plan')); }""")
    expect(page.locator("#bio-properties-panel-xc-timer-mode")).to_have_value("before_due")
    days = page.locator("#bio-properties-panel-xc-timer-days")
    expect(days).to_have_value("3")
    expect(page.locator("#bio-properties-panel-xc-escalation")).to_have_value("提醒")
    expect(page.locator("#bio-properties-panel-xc-notify-holder")).to_be_checked()
    days.fill("5")
    expression = page.locator("#bio-properties-panel-xc-timer-expression")
    expect(expression).to_have_value("deadline_in(17)")
    page.locator("#bio-properties-panel-xc-notify-office").check()
    page.locator("#bio-properties-panel-xc-timer-mode").select_option("duration")
    expect(expression).to_have_value('"PT1H"')
    page.locator("#bio-properties-panel-xc-timer-mode").select_option("at_due")
    expect(expression).to_have_value("deadline_in(22)")

    # What bpmn-js writes back still has every spiffworkflow property and passes the deploy checks.
    page.get_by_role("button", name="校验").click()
    expect(page.get_by_test_id("modeler-outcome")).to_contain_text("校验通过")
    page.get_by_role("button", name="保存草稿").click()
    expect(page.get_by_test_id("modeler-state")).to_contain_text("已保存")
    saved = page.request.get(f"{server}/designer/rectification/draft.xml").text()
    original = Path("workflows/rectification.bpmn").read_text(encoding="utf-8")
    for marker in ("formJsonSchemaFilename", "dueWorkingDays", "returnWith", "instructionsForEndUser", "escalation"):
        assert saved.count(marker) == original.count(marker), marker
    assert "<bpmn:loopDataInputRef>items</bpmn:loopDataInputRef>" in saved  # SpiffWorkflow's variable names
    assert "<bpmn:loopDataOutputRef>item_results</bpmn:loopDataOutputRef>" in saved
    event = etree.fromstring(saved.encode()).find(f".//{{{BPMN}}}boundaryEvent[@id='warn_plan']")
    assert event is not None
    assert event.findtext(f".//{{{BPMN}}}timeDate") == "deadline_in(22)"
    notify = event.find(f".//{{{SPIFF}}}property[@name='notify']")
    assert notify is not None and notify.get("value") == "holder,unit_leader,office"

    # Opening the process again opens the draft, says so, and says when it was saved.
    open_modeler(page, f"{server}/designer/rectification")
    expect(page.get_by_test_id("draft-notice")).to_contain_text("已打开您保存的草稿")
    expect(page.get_by_test_id("modeler-state")).to_contain_text("已保存")
    expect(page.locator("#bio-properties-panel-xc-timer-expression")).to_have_count(0)
