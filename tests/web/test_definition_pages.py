"""流程定义 pages: listing, downloading, and deploying new versions (supervisors only)."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.helpers import simple_bpmn
from tests.web.helpers import bpmn_upload, login


def _bpmn(lane_id: str = "Lane_office", lane_name: str = "office") -> bytes:
    return simple_bpmn("web_test", name="测试流程", lane=lane_name, lane_id=lane_id, task_id="review", task_name="审阅",
                       participant=True)


def _upload(client: FlaskClient, xml: bytes, comment: str = "") -> tuple[int, str]:
    response = client.post("/definitions", data={"file": bpmn_upload(xml, "web_test.bpmn"), "comment": comment},
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
