"""流程定义 pages: listing, downloading, and deploying new versions (supervisors only)."""

from __future__ import annotations

import io

from flask.testing import FlaskClient

from tests.web.helpers import login

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs_web_test"
                  targetNamespace="http://xuncha.example/bpmn">
  <bpmn:collaboration id="collab_web_test">
    <bpmn:participant id="participant_web_test" name="测试流程" processRef="web_test" />
  </bpmn:collaboration>
  <bpmn:process id="web_test" name="测试流程" isExecutable="true">
    <bpmn:laneSet id="lanes_web_test">
      <bpmn:lane id="{lane_id}" name="{lane_name}">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>review</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="review" name="审阅">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review" />
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def _bpmn(lane_id: str = "Lane_office", lane_name: str = "office") -> bytes:
    return BPMN.replace("{lane_id}", lane_id).replace("{lane_name}", lane_name).encode("utf-8")


def _upload(client: FlaskClient, xml: bytes, comment: str = "") -> tuple[int, str]:
    response = client.post("/definitions", data={"file": (io.BytesIO(xml), "web_test.bpmn"), "comment": comment},
                           content_type="multipart/form-data")
    return response.status_code, response.get_data(as_text=True)


def test_definitions_list_the_newest_version_of_each_process(client: FlaskClient) -> None:
    login(client, "unit1")
    html = client.get("/definitions").get_data(as_text=True)
    assert "clue_disposition" in html and "rectification" in html and "第 1 版" in html
    assert "部署新版本" not in html


def test_the_bpmn_xml_downloads_as_an_attachment(client: FlaskClient) -> None:
    login(client, "office1")
    response = client.get("/definitions/rectification/versions/1/bpmn")
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    assert response.headers["Content-Disposition"] == 'attachment; filename="rectification-v1.bpmn"'
    assert b'<bpmn:process id="rectification"' in response.data
    assert client.get("/definitions/rectification/versions/99/bpmn").status_code == 404


def test_a_supervisor_deploys_a_new_process_with_warnings_shown(client: FlaskClient) -> None:
    login(client, "designer1")
    assert "部署新版本" in client.get("/definitions").get_data(as_text=True)

    status, html = _upload(client, _bpmn(), comment="首次部署")

    assert status == 200
    assert "已部署 测试流程（web_test）第 1 版" in html
    assert "没有指定表单" in html and "review" in html  # the task without a form is a warning
    assert "首次部署" in html
    status, html = _upload(client, _bpmn())
    assert "完全相同，未创建新版本" in html
    status, html = _upload(client, _bpmn(lane_name="巡察办"))
    assert "web_test）第 2 版" in html


def test_malformed_xml_is_refused_with_its_problems(client: FlaskClient) -> None:
    login(client, "designer1")
    status, html = _upload(client, b"<bpmn:definitions><unclosed>")
    assert status == 422
    assert "BPMN 文件不是有效的 XML" in html and "XML 格式错误" in html
    assert "web_test" not in html


def test_a_lane_matching_no_group_is_refused_naming_the_lane(client: FlaskClient) -> None:
    login(client, "designer1")
    status, html = _upload(client, _bpmn(lane_id="Lane_nobody", lane_name="不存在的组"))
    assert status == 422
    assert "Lane_nobody" in html and "泳道“不存在的组”没有对应的用户组" in html
    assert "web_test" not in html.split("流程标识")[1]


def test_an_upload_without_a_file_is_a_bad_request(client: FlaskClient) -> None:
    login(client, "designer1")
    response = client.post("/definitions", data={"comment": "x"}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "请选择要上传的 BPMN 文件" in response.get_data(as_text=True)


def test_only_supervisors_may_deploy(client: FlaskClient) -> None:
    login(client, "unit1")
    status, _html = _upload(client, _bpmn())
    assert status == 403
    client.post("/logout")
    assert client.post("/definitions").status_code == 302
