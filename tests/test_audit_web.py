"""The auditor workspace's pages through Flask's test client, on SQLite and PostgreSQL: who may open
them, the search and saved searches, the case page (timeline with roles, data, durations, late steps),
verification that names the broken row, the signed printable case file, statistics and retention."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from api import create_app
from engine import Engine
from engine.case_file import verify_export
from engine.models import HumanTask
from tests.conftest import DATA, read_bundle, who
from tests.test_audit_workspace import tamper
from tests.test_web import WEB_BUNDLE, Browser

ISSUE = {"title": "加装电梯 <b>3号楼</b>", "description": "3号楼", "households": 24}


@pytest.fixture
def deliberation(org: Engine) -> Engine:
    org.deploy(read_bundle(*WEB_BUNDLE, folder=DATA / "web"), by=who(org, "designer"))
    return org


@pytest.fixture
def app(deliberation: Engine):  # noqa: ANN201
    return create_app({"GOVFLOW_ENGINE": deliberation, "TESTING": True})


def finished(engine: Engine, business_key: str = "YT-2026-101") -> dict:
    """A deliberation wang registered, zhang reviewed (late) and wang published: completed."""
    instance = engine.start("workspace_deliberation", "qiaoyi", by=who(engine, "wang"), business_key=business_key)
    [review] = engine.complete(instance["tasks"][0]["id"], who(engine, "wang"), ISSUE)["next_tasks"]
    with engine.transaction() as session:
        session.execute(
            update(HumanTask).where(HumanTask.id == review["id"]).values(due_at=datetime.now(UTC) - timedelta(hours=1))
        )
    [publish] = engine.complete(review["id"], who(engine, "zhang"), {"decision": "approve", "opinion": "同意"})[
        "next_tasks"
    ]
    engine.complete(publish["id"], who(engine, "wang"), {"published": True})
    return instance


def text_of(response) -> str:  # noqa: ANN001
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def test_only_auditors_and_admins_open_the_audit_area(app) -> None:  # noqa: ANN001
    official = Browser(app, "wang")
    assert official.get("/audit").status_code == 403
    assert "审计工作区只向审计人员和系统管理员开放" in text_of(official.get("/audit/statistics"))
    assert 'href="/audit"' not in text_of(official.get("/inbox"))
    for username in ("auditor", "admin"):
        page = Browser(app, username).get("/audit")
        assert page.status_code == 200 and 'href="/audit" aria-current="page"' in text_of(page)
    assert Browser(app).get("/audit").status_code == 302  # not signed in: to the sign-in page


def test_an_auditor_searches_saves_the_search_and_opens_the_case(app, deliberation: Engine) -> None:  # noqa: ANN001
    done = finished(deliberation)
    running = deliberation.start("workspace_deliberation", "qiaoyi", by=who(deliberation, "wang"), business_key="YT-9")
    auditor = Browser(app, "auditor")
    found = text_of(auditor.get("/audit?status=completed&missed_deadline=yes&actor=zhang"))
    assert f'href="/audit/instances/{done["id"]}"' in found and running["id"] not in found
    assert text_of(auditor.get("/audit?missed_deadline=no")).count("/audit/instances/") == 1
    assert "不是有效日期" in text_of(auditor.get("/audit?started_from=2026-13-01"))

    saved = auditor.post("/audit/searches", {"name": "超期办结", "status": "completed", "missed_deadline": "yes"})
    assert saved.status_code == 303
    page = text_of(auditor.get(saved.location))
    assert "已保存查找条件「超期办结」" in page and "missed_deadline=yes" in page
    assert "超期办结" not in text_of(Browser(app, "admin").get("/audit"))  # saved searches are per user

    case = text_of(auditor.get(f"/audit/instances/{done['id']}"))
    assert "案卷 YT-2026-101" in case
    assert "加装电梯 &lt;b&gt;3号楼&lt;/b&gt;" in case and "<b>3号楼</b>" not in case  # submitted data, escaped
    assert "办结了「街道审核」" in case and "街道办事处 · 五里桥街道" in case  # the actor's role and unit
    assert "已超期" in case and "用时" in case
    assert 'id="replay"' in case and 'data-path="' in case


def test_a_step_still_open_or_withdrawn_past_its_due_time_is_marked_late_on_the_timeline(
    app,  # noqa: ANN001
    deliberation: Engine,
) -> None:
    cases = {}
    for key in ("YT-OPEN", "YT-CANCELLED", "YT-ON-TIME"):
        instance = deliberation.start(
            "workspace_deliberation", "qiaoyi", by=who(deliberation, "wang"), business_key=key
        )
        [review] = deliberation.complete(instance["tasks"][0]["id"], who(deliberation, "wang"), ISSUE)["next_tasks"]
        due = datetime.now(UTC) + (timedelta(days=3) if key == "YT-ON-TIME" else -timedelta(hours=1))
        with deliberation.transaction() as session:
            session.execute(update(HumanTask).where(HumanTask.id == review["id"]).values(due_at=due))
        cases[key] = instance["id"]
    deliberation.cancel(cases["YT-CANCELLED"], "重复登记", by=who(deliberation, "admin"))
    auditor = Browser(app, "auditor")

    def review_created(key: str) -> str:
        page = auditor.get(f"/audit/instances/{cases[key]}").get_data(as_text=True)
        entries = re.findall(r'<li id="event-\d+" class="(late)?">(.*?)</li>', page, re.S)
        [(late, entry)] = [(late, entry) for late, entry in entries if "「街道审核」开始办理" in entry]
        return late + " " + re.sub(r"\s+", " ", entry)

    assert review_created("YT-OPEN").startswith("late ") and "已超期，至今未办结（期限" in review_created("YT-OPEN")
    assert "已超期，未办结即撤销（期限" in review_created("YT-CANCELLED")
    assert "已超期" not in review_created("YT-ON-TIME")
    assert "超期步骤" in text_of(auditor.get(f"/audit/instances/{cases['YT-OPEN']}"))


def test_an_auditor_on_a_task_page_is_offered_nothing_the_engine_would_refuse(app, deliberation: Engine) -> None:  # noqa: ANN001
    instance = deliberation.start("workspace_deliberation", "qiaoyi", by=who(deliberation, "wang"), business_key="YT-1")
    register = instance["tasks"][0]["id"]
    forms = re.compile(r'<form method="post" action="/tasks/[^/]+/(\w+)"')
    assert forms.findall(Browser(app, "auditor").get(f"/tasks/{register}").get_data(as_text=True)) == []
    # an official above the committee is offered what the engine lets them do: urge it, comment on it
    offered = forms.findall(Browser(app, "zhang").get(f"/tasks/{register}").get_data(as_text=True))
    assert offered == ["urge", "comment"]
    assert Browser(app, "zhang").post(f"/tasks/{register}/urge", {"comment": "请尽快"}).status_code == 303


def test_verification_on_the_case_page_names_the_changed_row(app, deliberation: Engine) -> None:  # noqa: ANN001
    done = finished(deliberation)
    auditor = Browser(app, "auditor")
    ok = text_of(auditor.get(f"/audit/instances/{done['id']}/verify", headers={"HX-Request": "true"}))
    assert "核验通过" in ok
    assert "核验通过" in text_of(auditor.get("/audit/verify", headers={"HX-Request": "true"}))
    changed = next(e for e in deliberation.history(done["id"]) if e["action"] == "task_completed")
    tamper(
        deliberation,
        "UPDATE audit_event SET actor = 'chen' WHERE stream = :s AND seq = :q",
        s=done["id"],
        q=changed["seq"],
    )
    broken = text_of(auditor.get(f"/audit/instances/{done['id']}/verify", headers={"HX-Request": "true"}))
    assert "核验未通过" in broken and f"第 {changed['seq']} 条" in broken and "记录被改动过" in broken
    everything = text_of(auditor.get("/audit/verify", headers={"HX-Request": "true"}))
    assert f'href="/audit/instances/{done["id"]}"' in everything


def test_a_case_whose_audit_rows_were_all_deleted_shows_as_broken_on_the_page_and_in_the_api(
    app,  # noqa: ANN001
    deliberation: Engine,
) -> None:
    done = finished(deliberation)
    tamper(deliberation, "DELETE FROM audit_event WHERE stream = :s", s=done["id"])
    auditor = Browser(app, "auditor")
    page = text_of(auditor.get(f"/audit/instances/{done['id']}/verify", headers={"HX-Request": "true"}))
    assert "核验未通过" in page and "整条记录链" in page and "记录链的每一行都已被删除" in page
    everything = text_of(auditor.get("/audit/verify", headers={"HX-Request": "true"}))
    assert "核验未通过" in everything and f'href="/audit/instances/{done["id"]}"' in everything
    answer = auditor.get(f"/api/v1/audit/verify?instance_id={done['id']}").json
    assert answer["ok"] is False and [(b["instance_id"], b["code"]) for b in answer["broken"]] == [
        (done["id"], "emptied")
    ]


def test_the_printable_case_file_is_signed_and_verifies_offline(app, deliberation: Engine) -> None:  # noqa: ANN001
    done = finished(deliberation)
    auditor = Browser(app, "auditor")
    answer = auditor.get(f"/audit/instances/{done['id']}/case-file?download=1")
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    assert answer.headers["Content-Disposition"] == f'attachment; filename="case-{done["id"]}.html"'
    body = answer.get_data()
    page = body.decode()
    assert "<svg" in page and "街道审核" in page and "&lt;b&gt;3号楼" in page
    assert page.rstrip().splitlines()[-1].startswith("<!-- govflow-signature ")
    trusted = deliberation.export_public_key()["public_key"]
    check = verify_export(body, trusted)
    assert check.ok, check.problems
    assert (
        check.kind == "html"
        and check.instance_id == done["id"]
        and check.events == len(deliberation.history(done["id"]))
    )
    edited = body.replace("同意".encode(), "驳回".encode(), 1)
    assert edited != body and not verify_export(edited, trusted).ok


def test_the_statistics_page_draws_its_charts(app, deliberation: Engine) -> None:  # noqa: ANN001
    finished(deliberation)
    page = text_of(Browser(app, "auditor").get("/audit/statistics"))
    assert page.count("<svg") >= 3 and "街道审核" in page and "100%" in page  # the one review was late
    assert "数据截至" in page  # when the figures were computed (kept ones may be minutes old)
    # the test deliberation is the residents' own affairs: its two committee steps count apart
    assert '<th scope="row">桥一居委会</th> <td><div>居村自治事项: 2</div></td>' in page
    english = text_of(Browser(app, "auditor").get("/audit/statistics?lang=en"))
    assert "Task load per committee" in english and "Self-governance: 2" in english


def test_the_statistics_table_lists_the_most_burdened_committees_and_says_how_many_more(
    app, deliberation: Engine
) -> None:  # noqa: ANN001
    """A city's 6,000 committees made the page several megabytes: the table lists the most burdened ones
    and says how many there are in all; a unit filter shows the others."""
    from web.audit import statistics

    finished(deliberation)
    deliberation.start("workspace_deliberation", "ruinan", by=who(deliberation, "chen"), business_key="RN-1")
    auditor = Browser(app, "auditor")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(statistics, "TABLE_COMMITTEES", 1)
        page = text_of(auditor.get("/audit/statistics"))
        assert '<th scope="row">桥一居委会</th>' in page and '<th scope="row">瑞南居委会</th>' not in page
        assert "列出任务量最多的 1 个居村委会（共 2 个）" in page
        ruinan = text_of(auditor.get("/audit/statistics?org_unit=ruinan"))
        assert '<th scope="row">瑞南居委会</th>' in ruinan and "列出任务量最多的" not in ruinan
        english = text_of(auditor.get("/audit/statistics?lang=en"))
        assert "Listed: the 1 committees with the most tasks, of 2" in english
    assert "列出任务量最多的" not in text_of(auditor.get("/audit/statistics"))


def test_the_unit_filter_lists_the_streets_and_the_committees_of_the_chosen_one(app, deliberation: Engine) -> None:  # noqa: ANN001
    auditor = Browser(app, "auditor")
    for path in ("/audit", "/audit/statistics"):
        page = auditor.get(path).get_data(as_text=True)  # not text_of: the indent is whitespace too
        assert '<option value="wlq" >\u3000\u3000五里桥街道</option>' in page
        assert 'value="qiaoyi"' not in page and "选定街道或乡镇并查询后" in page
        chosen = auditor.get(f"{path}?org_unit=qiaoyi").get_data(as_text=True)
        assert '<option value="qiaoyi" selected>\u3000\u3000\u3000桥一居委会</option>' in chosen
        assert 'value="ruinan"' in chosen and 'value="yunnan"' not in chosen


def test_auditors_read_the_retention_and_only_admins_change_it_or_purge(app, deliberation: Engine) -> None:  # noqa: ANN001
    auditor, admin = Browser(app, "auditor"), Browser(app, "admin")
    page = text_of(auditor.get("/audit/retention"))
    assert "永久保存" in page and 'action="/audit/purge"' not in page
    assert auditor.post("/audit/retention", {"keep": "days", "days": "30"}).status_code == 403
    assert auditor.post("/audit/purge").status_code == 403
    assert admin.post("/audit/retention", {"keep": "days", "days": "0"}).status_code == 422
    saved = admin.post("/audit/retention", {"keep": "days", "days": "30"})
    assert saved.status_code == 303 and "保存 30 天" in text_of(admin.get(saved.location))
    purged = admin.post("/audit/purge")
    assert purged.status_code == 303 and "已清理 0 个案卷" in text_of(admin.get(purged.location))
    assert deliberation.retention()["days"] == 30
