"""The auditor workspace over the REST API, on SQLite and PostgreSQL: auditors read everything and change
nothing (403 for complete, claim, deploy, cancel), their saved searches, the statistics, the retention
and the purge, and signed exports checked against the published key."""

from __future__ import annotations

import io

from engine.case_file import verify_export
from tests.conftest import DATA, PETITION_BUNDLE, ApiClient, problem_of

ISSUE = {"title": "加装电梯", "proposer_count": 30, "eligible_count": 100}


def started(api: ApiClient) -> dict:
    answer = api.post("/process-instances", "wang", json={"process_key": "petition_review", "org_unit": "qiaoyi"})
    assert answer.status_code == 201, answer.json
    return answer.json


def test_an_auditor_may_read_a_case_but_not_complete_claim_deploy_or_cancel(api: ApiClient) -> None:
    instance = started(api)
    task = instance["tasks"][0]["id"]
    bundle = {"files": [(io.BytesIO((DATA / "engine" / n).read_bytes()), n) for n in PETITION_BUNDLE]}
    attempts = {
        "complete": api.post(f"/tasks/{task}/complete", "auditor", json={"data": ISSUE}),
        "claim": api.post(f"/tasks/{task}/claim", "auditor"),
        "deploy": api.post("/deployments", "auditor", data=bundle, content_type="multipart/form-data"),
        "cancel": api.post(f"/process-instances/{instance['id']}/cancel", "auditor", json={"reason": "审计"}),
        "suspend": api.post(f"/process-instances/{instance['id']}/suspend", "auditor"),
        "comment": api.post(f"/tasks/{task}/comments", "auditor", json={"text": "审计意见"}),
    }
    for name, answer in attempts.items():
        assert problem_of(answer)["status"] == 403, name
    assert problem_of(attempts["claim"])["code"] == "not_candidate"  # the stable name beside the sentence
    for read in ("", "/history", "/path", "/export"):
        assert api.get(f"/process-instances/{instance['id']}{read}", "auditor").status_code == 200, read
    # nothing the auditor tried changed the case
    history = api.get(f"/process-instances/{instance['id']}/history", "auditor").json["items"]
    assert {e["actor"]["username"] for e in history} <= {"wang", "engine"}
    assert api.get(f"/tasks/{task}", "wang").json["status"] == "open"


def test_saved_searches_over_the_api_belong_to_their_auditor(api: ApiClient) -> None:
    body = {"name": "超期", "filters": {"missed_deadline": True, "status": "running"}}
    created = api.post("/audit/saved-searches", "auditor", json=body)
    assert created.status_code == 201 and created.json["filters"] == body["filters"]
    assert [s["name"] for s in api.get("/audit/saved-searches", "auditor").json["items"]] == ["超期"]
    assert api.get("/audit/saved-searches", "admin").json["items"] == []
    assert problem_of(api.get("/audit/saved-searches", "wang"))["status"] == 403
    bad = api.post("/audit/saved-searches", "auditor", json={"name": "x", "filters": {"drop": "table"}})
    assert problem_of(bad)["status"] == 422
    assert problem_of(api.call("DELETE", f"/audit/saved-searches/{created.json['id']}", "admin"))["status"] == 404
    assert api.call("DELETE", f"/audit/saved-searches/{created.json['id']}", "auditor").status_code == 204
    search = api.get("/process-instances?missed_deadline=true&actor=wang", "auditor")
    assert search.status_code == 200 and search.json["items"] == []


def test_statistics_retention_and_purge_keep_to_their_roles(api: ApiClient) -> None:
    started(api)
    stats = api.get("/audit/statistics?process_key=petition_review", "auditor")
    assert stats.status_code == 200 and stats.json["instances"]["running"] == 1
    assert stats.json["committee_load"]["committees"][0]["org_unit"] == "qiaoyi"
    assert problem_of(api.get("/audit/statistics", "zhang"))["status"] == 403
    assert api.get("/audit/retention", "auditor").json == {"days": None, "changed_by": None, "changed_at": None}
    assert problem_of(api.get("/audit/retention", "wang"))["status"] == 403
    assert problem_of(api.call("PUT", "/audit/retention", "auditor", json={"days": 30}))["status"] == 403
    assert problem_of(api.call("PUT", "/audit/retention", "admin", json={"days": 0}))["status"] == 422
    assert api.call("PUT", "/audit/retention", "admin", json={"days": 30}).json["days"] == 30
    assert problem_of(api.post("/audit/purge", "auditor"))["status"] == 403
    purged = api.post("/audit/purge", "admin")
    assert purged.status_code == 200 and purged.json["purged"] == 0 and purged.json["retention_days"] == 30
    assert api.get("/audit/tombstones", "auditor").json["items"] == []
    assert api.call("PUT", "/audit/retention", "admin", json={"days": None}).json["days"] is None


def test_an_export_from_the_api_verifies_against_the_published_key(api: ApiClient) -> None:
    instance = started(api)
    key = api.get("/audit/export-key", "auditor").json
    assert key["algorithm"] == "Ed25519" and len(key["key_id"]) == 16
    for format in ("json", "csv"):
        data = api.get(f"/process-instances/{instance['id']}/export?format={format}", "auditor").data
        check = verify_export(data, key["public_key"])
        assert check.ok and check.instance_id == instance["id"], (format, check.problems)
        changed = bytearray(data)
        changed[len(changed) // 3] ^= 0x20
        assert not verify_export(bytes(changed), key["public_key"]).ok, format
