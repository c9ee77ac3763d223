"""The studio through the REST API: a designer opens a version as a draft, saves it, validates, deploys the
next version, compares the two, downloads them and moves a running case over; mistakes are sentences."""

from __future__ import annotations

import io
import zipfile

from tests.conftest import ApiClient, problem_of


def test_a_designer_edits_deploys_compares_downloads_and_migrates_through_the_api(api: ApiClient) -> None:
    case = api.post("/process-instances", "wang", json={"process_key": "petition_review", "org_unit": "qiaoyi"}).json
    draft = api.post("/drafts", "designer", json={"process_key": "petition_review"}).json
    xml = api.get(f"/drafts/{draft['id']}/files/petition_review.bpmn", "designer").get_data(as_text=True)
    changed = xml.replace("街道审查", "街道复查")
    saved = api.call("PATCH", f"/drafts/{draft['id']}", "designer", json={"files": {"petition_review.bpmn": changed}})
    assert saved.status_code == 200, saved.json

    report = api.post(f"/drafts/{draft['id']}/validate", "designer").json
    assert report["ok"] is True
    deployed = api.post(f"/drafts/{draft['id']}/deploy", "designer")
    assert deployed.status_code == 201 and deployed.json["processes"][0]["version"] == 2

    diff = api.get("/process-definitions/petition_review/diff?from=1&to=2", "designer").json
    assert diff["from"] == 1 and [c["id"] for c in diff["changed"]] == ["review_petition"]
    archive = api.get("/process-definitions/petition_review/files?version=2", "designer")
    assert archive.mimetype == "application/zip"
    assert 'filename="petition_review-v2.zip"' in archive.headers["Content-Disposition"]
    names = zipfile.ZipFile(io.BytesIO(archive.data)).namelist()
    assert "petition_review.bpmn" in names and "petition_register.form.json" in names
    single = api.get("/process-definitions/petition_review/files?version=1&format=bpmn", "designer")
    assert "街道审查" in single.get_data(as_text=True)

    dry = api.post("/process-definitions/petition_review/migrations", "designer", json={"dry_run": True}).json
    assert [(o["instance_id"], o["outcome"]) for o in dry["instances"]] == [(case["id"], "ok")]
    moved = api.post("/process-definitions/petition_review/migrations", "designer", json={"dry_run": False}).json
    assert moved["counts"]["migrated"] == 1
    assert api.get(f"/process-instances/{case['id']}", "wang").json["version"] == 2
    history = api.get(f"/process-instances/{case['id']}/history", "auditor").json["items"]
    assert history[-1]["action"] == "instance_migrated"


def test_studio_mistakes_are_answered_with_sentences(api: ApiClient) -> None:
    assert problem_of(api.get("/drafts/nope", "designer"))["status"] == 404
    both = api.post("/drafts", "designer", json={"process_key": "petition_review", "new_process": "x"})
    assert problem_of(both)["status"] == 422
    bad_id = api.post("/drafts", "designer", json={"new_process": "1 bad id"})
    assert "not allowed" in problem_of(bad_id)["detail"]
    diff = api.get("/process-definitions/petition_review/diff?from=1&to=9", "designer")
    assert problem_of(diff)["status"] == 404
    timer = api.post("/studio/timer-check", "designer", json={"kind": "timeCycle", "text": "P7D"}).json
    assert timer["ok"] is False and "cycle timer" in timer["problems"][0]["message"]
    control = api.post("/studio/timer-check", "designer", json={"kind": "timeDuration", "text": "P7D\u0005"})
    assert "cannot hold" in problem_of(control)["detail"]
    not_bpmn = {"file": (io.BytesIO(b"{}"), "form.form.json")}
    imported = api.post("/drafts/import", "designer", data=not_bpmn, content_type="multipart/form-data")
    assert problem_of(imported)["status"] == 422
    unknown = api.post("/process-definitions/nope/migrations", "designer", json={})
    assert problem_of(unknown)["status"] == 404


def test_text_no_file_can_hold_is_refused_with_a_sentence(api: ApiClient) -> None:
    draft = api.post("/drafts", "designer", json={"process_key": "petition_review"}).json
    body = '{"title": "a\\udb5e", "files": {"petition_review.bpmn": "\\udb5e"}}'
    refused = api.call("PATCH", f"/drafts/{draft['id']}", "designer", data=body, content_type="application/json")
    assert problem_of(refused)["status"] == 422 and "surrogate" in refused.json["detail"]
    assert {e["field"] for e in refused.json["errors"]} == {"title", "files.petition_review.bpmn"}
