"""The studio's pages through Flask's test client, on SQLite and PostgreSQL: who may open them, the process
library, opening a version as a draft, the editor page, validation in the page's language, the diff, an
import from Camunda Modeler, and moving running cases after a dry run."""

from __future__ import annotations

import re

import pytest

from api import create_app
from engine import Engine
from tests.conftest import PETITION_BUNDLE, read_bundle, who
from tests.test_studio_engine import CAMUNDA
from tests.test_web import Browser


@pytest.fixture
def app(petition: Engine):  # noqa: ANN201
    return create_app({"GOVFLOW_ENGINE": petition, "TESTING": True})


def text_of(response) -> str:  # noqa: ANN001
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def deploy_renamed_review(engine: Engine) -> None:
    """Version 2 of petition_review: 街道审查 renamed 街道复查."""
    files = read_bundle(*PETITION_BUNDLE)
    files["petition_review.bpmn"] = files["petition_review.bpmn"].replace("街道审查".encode(), "街道复查".encode())
    engine.deploy(files, by=who(engine, "designer"))


def opened(designer: Browser) -> str:
    """Open petition_review version 1 from the library; the draft's id."""
    answer = designer.post("/studio/open", {"process_key": "petition_review", "version": "1"})
    assert answer.status_code == 303, answer.text
    return answer.location.rsplit("/", 1)[-1]


def test_only_designers_and_admins_open_the_studio_and_every_write_needs_the_csrf_token(app) -> None:  # noqa: ANN001
    official = Browser(app, "wang")
    refused = official.get("/studio")
    assert refused.status_code == 403 and "只有流程设计人员和系统管理员" in text_of(refused)
    assert 'href="/studio"' not in text_of(official.get("/inbox"))
    assert Browser(app, "auditor").get("/studio").status_code == 403
    assert Browser(app).get("/studio").status_code == 302  # not signed in: to the sign-in page
    for username in ("designer", "admin"):
        page = Browser(app, username).get("/studio")
        assert page.status_code == 200 and 'href="/studio" aria-current="page"' in text_of(page)
    designer = Browser(app, "designer")
    forged = designer.http.post("/studio/open", data={"process_key": "petition_review"})
    assert forged.status_code == 403 and "Traceback" not in forged.text
    assert designer.http.post("/studio/drafts/x/problems").status_code == 403


def test_the_library_lists_versions_with_their_running_cases_and_the_designers_drafts(
    app,
    petition: Engine,  # noqa: ANN001
) -> None:
    petition.start("petition_review", "qiaoyi", by=who(petition, "wang"))
    designer = Browser(app, "designer")
    draft_id = opened(designer)
    page = text_of(designer.get("/studio"))
    assert "议题联名审查" in page and "petition_review" in page
    row = re.search(
        r'v1 <span class="badge">最新</span>\s*</td>\s*<td>designer</td>\s*<td>[^<]+</td>\s*<td>(\d+)</td>', page
    )
    assert row and row.group(1) == "1"  # one case running on version 1
    assert f'href="/studio/drafts/{draft_id}"' in page and "基于第 1 版" in page
    assert "/api/v1/process-definitions/petition_review/files?version=1&amp;format=bpmn" in page
    english = text_of(designer.get("/studio?lang=en"))
    assert "Process library" in english and "based on version 1" in english


def test_the_editor_page_carries_the_roles_forms_and_texts_its_panel_needs(app) -> None:  # noqa: ANN001
    designer = Browser(app, "designer")
    draft_id = opened(designer)
    page = designer.get(f"/studio/drafts/{draft_id}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-file="petition_review.bpmn"' in body and "bpmn-modeler.production.min.js" in body
    assert "subdistrict_office" in body and "petition_register" in body  # roles and forms for the panel
    assert 'data-decisions="[&#34;petition_class&#34;]"' in body  # the decisions a business-rule task may run
    assert "studio/spiffworkflow.json" in body
    form = designer.get(f"/studio/drafts/{draft_id}/edit/petition_register.form.json")
    assert form.status_code == 200 and "form-editor.umd.js" in form.get_data(as_text=True)
    dmn = designer.get(f"/studio/drafts/{draft_id}/edit/petition_class.dmn")
    assert dmn.status_code == 200 and "dmn-modeler.production.min.js" in dmn.get_data(as_text=True)
    assert designer.get(f"/studio/drafts/{draft_id}/edit/nope.form.json").status_code == 404
    assert Browser(app, "admin").get(f"/studio/drafts/{draft_id}").status_code == 200
    assert designer.get("/vendor/dmn-js/x/dmn-modeler.production.min.js").status_code == 200


def test_validation_speaks_the_pages_language_and_places_each_problem(app, petition: Engine) -> None:  # noqa: ANN001
    designer = Browser(app, "designer")
    draft_id = opened(designer)
    xml = petition.draft_file(draft_id, "petition_review.bpmn", who(petition, "designer"))
    broken = xml.replace(b'default="f_file"', b"").replace(b'value="petition_register"', b'value="nope"')
    petition.save_draft(draft_id, who(petition, "designer"), files={"petition_review.bpmn": broken})

    report = designer.post_json(f"/studio/drafts/{draft_id}/problems", {}).json
    assert report["ok"] is False and report["errors"] == 2
    by_element = {(p["severity"], p["element_id"]): p for p in report["problems"]}
    form = by_element[("error", "register_issue")]
    assert form["message"] == "用户任务「登记议题」使用的表单 nope 既不在本草稿中，也未部署。"
    assert form["severity_label"] == "错误" and form["file"] == "petition_review.bpmn"
    assert ("error", "f_file") in by_element  # a deploy check without a catalogue entry: the engine's sentence
    english = designer.http.post(
        f"/studio/drafts/{draft_id}/problems?lang=en", headers={"X-CSRF-Token": designer.csrf}
    ).json
    assert any(p["message"].startswith("The user task '登记议题' uses the form nope") for p in english["problems"])


def test_a_designer_compares_two_versions_on_the_diff_page(app, petition: Engine) -> None:  # noqa: ANN001
    deploy_renamed_review(petition)
    designer = Browser(app, "designer")
    assert "比较版本" in text_of(designer.get("/studio"))
    page = text_of(designer.get("/studio/processes/petition_review/diff?from=1&to=2"))
    assert "新增 0 个元素，删除 0 个，修改 1 个" in page
    assert "review_petition" in page and "街道审查" in page and "街道复查" in page and "<td>名称</td>" in page
    assert designer.get("/studio/processes/petition_review/diff?from=a").status_code == 422


def test_a_camunda_file_is_imported_with_its_changes_listed(app) -> None:  # noqa: ANN001
    import io

    designer = Browser(app, "designer")
    answer = designer.post("/studio/import", {"file": (io.BytesIO(CAMUNDA), "leave.bpmn")})
    page = text_of(answer)
    assert answer.status_code == 200 and "已生成草稿「Leave request」" in page
    assert "Approve" in page and "approve" in page
    link = re.search(r'href="/studio/drafts/([0-9a-f-]+)"', page)
    assert link and designer.get(f"/studio/drafts/{link.group(1)}").status_code == 200
    empty = designer.post("/studio/import", {})
    assert empty.status_code == 422 and "请选择要导入的 .bpmn 文件" in text_of(empty)


def test_running_cases_are_moved_after_a_dry_run_on_the_migration_page(app, petition: Engine) -> None:  # noqa: ANN001
    case = petition.start("petition_review", "qiaoyi", by=who(petition, "wang"), business_key="YT-7")
    deploy_renamed_review(petition)
    designer = Browser(app, "designer")
    assert "迁移到第 2 版" in text_of(designer.get("/studio"))

    dry = text_of(designer.get("/studio/processes/petition_review/migrate?to=2"))
    assert "试算：1 个可迁移，0 个受阻" in dry and "YT-7" in dry and "桥一居委会" in dry
    assert petition.get_instance(case["id"])["version"] == 1
    nothing = designer.post("/studio/processes/petition_review/migrate", {"to": "2"})
    assert nothing.status_code == 422 and "请至少勾选一个案件" in text_of(nothing)

    moved = text_of(designer.post("/studio/processes/petition_review/migrate", {"to": "2", "instance_id": case["id"]}))
    assert "已迁移 1 个案件，0 个受阻" in moved and "已迁移" in moved
    assert petition.get_instance(case["id"])["version"] == 2
    assert "没有需要迁移的案件" in text_of(designer.get("/studio/processes/petition_review/migrate?to=2"))
