"""Admins manage people and units within their reach: list, read, rename, disable and enable users, reset a
password, grant and revoke roles, rename an org unit; every change audited; the same from the shell."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from engine import Engine
from engine.cli import main
from engine.models import UserAccount
from engine.people import hash_password
from tests.conftest import PASSWORD, ApiClient, problem_of

NEW_PASSWORD = "a-new-pass-2"


@pytest.fixture
def district_admin(api: ApiClient, petition: Engine) -> str:
    """hp_admin: admin of 黄浦区 (wlq, qiaoyi, ruinan, njdl, yunnan below it), not of 奉贤区 or the city."""
    petition.add_user("hp_admin", PASSWORD, [("admin", "hp")])
    return "hp_admin"


def system_events(api: ApiClient, action: str) -> list[dict]:
    return api.get("/audit/events", "auditor", query_string={"action": action}).json["items"]


def stored_hash(engine: Engine, username: str) -> str:
    with engine.reading() as session:
        return session.execute(select(UserAccount.password_hash).where(UserAccount.username == username)).scalar_one()


def test_an_admin_lists_users_by_unit_and_role_and_reads_one(api: ApiClient, district_admin: str) -> None:
    everyone = api.get("/users", "admin", query_string={"limit": 500}).json
    assert {u["username"] for u in everyone["items"]} >= {"wang", "zhang", "shen", "auditor", "hp_admin"}
    in_wlq = api.get("/users", "admin", query_string={"org_unit": "wlq"}).json["items"]
    assert [u["username"] for u in in_wlq] == ["chen", "liu", "wang", "zhang"]  # wlq and the committees below
    officials = api.get("/users", "admin", query_string={"org_unit": "wlq", "role": "subdistrict_office"}).json
    assert [u["username"] for u in officials["items"]] == ["liu", "zhang"]
    wang = api.get("/users/wang", "admin").json
    assert wang == {
        "username": "wang",
        "display_name": "wang",
        "active": True,
        "roles": [{"role": "residents_committee", "org_unit": "qiaoyi"}],
        "created_at": wang["created_at"],
    }
    # a district admin sees the users all of whose roles are in the district, and no one else
    theirs = {u["username"] for u in api.get("/users", district_admin, query_string={"limit": 500}).json["items"]}
    assert theirs == {"wang", "chen", "zhang", "liu", "wu", "hp_admin"}
    assert api.get("/users/shen", district_admin).status_code == 403  # 奉贤区
    assert api.get("/users", district_admin, query_string={"org_unit": "fx"}).status_code == 403
    assert api.get("/users/nobody", "admin").status_code == 404
    assert api.get("/users", "admin", query_string={"role": "king"}).status_code == 422


def test_officials_designers_and_auditors_do_not_manage_people(api: ApiClient) -> None:
    for caller in ("wang", "zhang", "designer", "auditor"):
        for method, path, body in [
            ("GET", "/users", None),
            ("GET", "/users/wang", None),
            ("PATCH", "/users/wang", {"display_name": "王"}),
            ("POST", "/users/wang/disable", None),
            ("POST", "/users/wang/password", {"password": NEW_PASSWORD}),
            ("POST", "/users/wang/roles", {"role": "auditor", "org_unit": "qiaoyi"}),
            ("DELETE", "/users/wang/roles/residents_committee/qiaoyi", None),
            ("PATCH", "/org-units/qiaoyi", {"name": "桥一"}),
        ]:
            answer = api.call(method, path, caller, json=body)
            assert answer.status_code == 403, (caller, method, path, answer.json)
            assert "admin" in problem_of(answer)["detail"]
    assert api.get("/users/wang", "admin").json["display_name"] == "wang"


def test_an_admin_renames_a_user_and_an_org_unit_and_both_are_audited(api: ApiClient, district_admin: str) -> None:
    renamed = api.call("PATCH", "/users/wang", district_admin, json={"display_name": "王建国"})
    assert renamed.status_code == 200 and renamed.json["display_name"] == "王建国"
    assert api.get("/me", "wang").json["display_name"] == "王建国"
    unit = api.call("PATCH", "/org-units/qiaoyi", district_admin, json={"name": "桥一社区居委会"})
    assert unit.status_code == 200 and unit.json["name"] == "桥一社区居委会"
    names = {u["code"]: u["name"] for u in api.get("/org-units", "wang", query_string={"limit": 500}).json["items"]}
    assert names["qiaoyi"] == "桥一社区居委会"
    assert api.call("PATCH", "/org-units/zh", district_admin, json={"name": "庄行"}).status_code == 403  # 奉贤区
    assert api.call("PATCH", "/org-units/qiaoyi", "admin", json={"name": ""}).status_code == 422
    [user_event] = system_events(api, "user_renamed")
    assert user_event["data"] == {"display_name": "王建国", "was": "wang"}
    assert user_event["actor"] == {"username": "hp_admin", "role": "admin", "org_unit": "hp"}
    [unit_event] = system_events(api, "org_unit_renamed")
    assert (unit_event["element_id"], unit_event["data"]["was"]) == ("qiaoyi", "桥一居委会")
    assert api.get("/audit/verify", "auditor").json["ok"] is True


def test_a_disabled_users_tokens_and_sessions_stop_working_at_once(api: ApiClient) -> None:
    token = {"Authorization": f"Bearer {api.token('wang')}"}
    browser = api.app.test_client()
    assert browser.post("/api/v1/auth/session", json={"username": "wang", "password": PASSWORD}).status_code == 200
    assert api.get("/me", headers=dict(token)).status_code == 200

    disabled = api.post("/users/wang/disable", "admin")
    assert disabled.status_code == 200 and disabled.json["active"] is False
    assert api.get("/me", headers=dict(token)).status_code == 401
    assert browser.get("/api/v1/me").status_code == 401
    refused = api.post("/auth/token", json={"username": "wang", "password": PASSWORD})
    assert refused.status_code == 401
    assert [u["username"] for u in api.get("/users", "admin", query_string={"active": "false"}).json["items"]] == [
        "wang"
    ]
    [event] = system_events(api, "user_disabled")
    assert event["element_id"] == "wang" and event["data"] == {"tokens_revoked": 2}

    assert api.post("/users/wang/enable", "admin").json["active"] is True
    assert api.get("/me", headers=dict(token)).status_code == 401  # the old token stays revoked
    assert api.post("/auth/token", json={"username": "wang", "password": PASSWORD}).status_code == 200
    assert len(system_events(api, "user_enabled")) == 1
    refused_self = api.post("/users/admin/disable", "admin")
    assert refused_self.status_code == 422 and "yourself" in problem_of(refused_self)["detail"]


def test_a_reset_password_is_argon2id_and_ends_the_old_sessions(api: ApiClient, petition: Engine) -> None:
    token = {"Authorization": f"Bearer {api.token('wang')}"}
    assert api.post("/users/wang/password", "admin", json={"password": "short"}).status_code == 422
    assert api.post("/users/wang/password", "admin", json={"password": NEW_PASSWORD}).status_code == 200
    assert stored_hash(petition, "wang").startswith("$argon2id$")
    assert api.get("/me", headers=token).status_code == 401
    assert api.post("/auth/token", json={"username": "wang", "password": PASSWORD}).status_code == 401
    assert api.post("/auth/token", json={"username": "wang", "password": NEW_PASSWORD}).status_code == 200
    [event] = system_events(api, "password_reset")
    assert event["element_id"] == "wang" and NEW_PASSWORD not in json.dumps(event)


def test_stored_password_hashes_are_argon2id_whatever_the_cost_profile(petition: Engine) -> None:
    for username in ("wang", "zhang", "admin"):
        assert stored_hash(petition, username).startswith("$argon2id$v=19$")
    assert hash_password(PASSWORD, "strong").startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert hash_password(PASSWORD, "fast").startswith("$argon2id$v=19$m=1024,t=1,p=1$")


def test_an_admin_grants_and_revokes_roles_within_reach(api: ApiClient, district_admin: str) -> None:
    granted = api.post("/users/liu/roles", district_admin, json={"role": "subdistrict_office", "org_unit": "njdl"})
    assert granted.status_code == 200
    assert granted.json["roles"] == [
        {"role": "subdistrict_office", "org_unit": "njdl"},
        {"role": "subdistrict_office", "org_unit": "wlq"},
    ]
    again = api.post("/users/liu/roles", district_admin, json={"role": "subdistrict_office", "org_unit": "njdl"})
    assert again.status_code == 200 and again.json == granted.json  # a double click changes nothing
    assert api.get("/users", "admin", query_string={"org_unit": "njdl"}).json["items"][0]["username"] == "liu"
    outside = api.post("/users/liu/roles", district_admin, json={"role": "township_government", "org_unit": "zh"})
    assert outside.status_code == 403
    assert api.post("/users/liu/roles", "admin", json={"role": "king", "org_unit": "wlq"}).status_code == 422
    assert api.post("/users/liu/roles", "admin", json={"role": "auditor", "org_unit": "nowhere"}).status_code == 404

    revoked = api.call("DELETE", "/users/liu/roles/subdistrict_office/wlq", district_admin)
    assert revoked.status_code == 200
    assert revoked.json["roles"] == [{"role": "subdistrict_office", "org_unit": "njdl"}]
    last = api.call("DELETE", "/users/liu/roles/subdistrict_office/njdl", district_admin)
    assert last.status_code == 422 and "disable the user instead" in problem_of(last)["detail"]
    assert api.call("DELETE", "/users/liu/roles/auditor/sh", district_admin).status_code == 404
    own = api.call("DELETE", "/users/admin/roles/admin/sh", "admin")
    assert own.status_code == 422
    assert [(e["data"]["role"], e["data"]["org_unit"]) for e in system_events(api, "role_granted")] == [
        ("subdistrict_office", "njdl")
    ]
    assert [(e["data"]["role"], e["data"]["org_unit"]) for e in system_events(api, "role_revoked")] == [
        ("subdistrict_office", "wlq")
    ]
    # the new role works at once: liu now sees 南京东路's tasks, no longer 五里桥's
    assert {h["org_unit"] for h in api.get("/me", "liu").json["holdings"]} == {"njdl"}


def test_an_operator_manages_users_and_units_from_the_shell(db_url: str, petition: Engine) -> None:
    runner = CliRunner()
    env = {"GOVFLOW_DATABASE_URL": db_url, "GOVFLOW_PASSWORD_PROFILE": "fast"}

    def govflow(*args: str) -> dict:
        result = runner.invoke(main, ["--json", *args], env=env)
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    assert govflow("user", "disable", "wang")["active"] is False
    assert petition.authenticate("wang", PASSWORD) is None
    assert [u["username"] for u in govflow("user", "list", "--status", "disabled")["items"]] == ["wang"]
    assert govflow("user", "enable", "wang")["active"] is True
    roles = govflow("user", "roles", "wang", "--add", "rc_party_org@qiaoyi", "--remove", "residents_committee@qiaoyi")
    assert roles["roles"] == [{"role": "rc_party_org", "org_unit": "qiaoyi"}]
    assert govflow("user", "rename", "wang", "--name", "王建国")["display_name"] == "王建国"
    assert govflow("user", "password", "wang", "--password", NEW_PASSWORD)["username"] == "wang"
    assert petition.authenticate("wang", NEW_PASSWORD) is not None
    assert govflow("org", "rename", "qiaoyi", "--name", "桥一社区")["name"] == "桥一社区"
    assert [u["username"] for u in govflow("user", "list", "--org", "qiaoyi")["items"]] == ["wang"]
    human = runner.invoke(main, ["user", "show", "wang"], env=env)
    assert human.exit_code == 0 and "rc_party_org@qiaoyi" in human.output
    wrong = runner.invoke(main, ["user", "roles", "wang", "--add", "rc_party_org"], env=env)
    assert wrong.exit_code == 1 and "ROLE@ORG" in wrong.output and "Traceback" not in wrong.output
    actions = [e["action"] for e in petition.audit_events(petition.principal("auditor"), limit=500)["items"]]
    assert {"user_disabled", "user_enabled", "role_granted", "role_revoked", "password_reset"} <= set(actions)
