"""The workspace's pages through Flask's test client, on SQLite and PostgreSQL: sign-in and CSRF, what the
inbox and the task page show (escaped, in Chinese or English), field errors, conflicts as sentences,
bulk actions reported per task, 抄送, and the browser libraries served from npm's folder."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from api import auth, create_app
from engine import Engine
from engine.models import HumanTask, utcnow
from tests.conftest import DATA, PASSWORD, ROOT, read_bundle, who
from web import i18n

WEB_BUNDLE = ("workspace_deliberation.bpmn", "ws_issue.form.json", "ws_review.form.json", "ws_publish.form.json")
ISSUE = {"title": "加装电梯", "description": "3号楼", "households": 24}


@pytest.fixture
def deliberation(org: Engine) -> Engine:
    org.deploy(read_bundle(*WEB_BUNDLE, folder=DATA / "web"), by=who(org, "designer"))
    return org


@pytest.fixture
def app(deliberation: Engine):  # noqa: ANN201
    return create_app({"GOVFLOW_ENGINE": deliberation, "TESTING": True})


class Browser:
    """A test client that signs in through the sign-in page and posts forms with the page's CSRF token."""

    def __init__(self, app, username: str | None = None) -> None:  # noqa: ANN001
        self.http = app.test_client()
        if username:
            answer = self.http.post("/login", data={"username": username, "password": PASSWORD, "next": "/inbox"})
            assert answer.status_code == 303, answer.text

    @property
    def csrf(self) -> str:
        cookie = self.http.get_cookie(auth.CSRF_COOKIE)
        return cookie.value if cookie else ""

    def get(self, path: str, **kwargs):  # noqa: ANN201
        return self.http.get(path, **kwargs)

    def post(self, path: str, data: dict | None = None, **kwargs):  # noqa: ANN201
        return self.http.post(path, data={auth.CSRF_FIELD: self.csrf} | (data or {}), **kwargs)

    def post_json(self, path: str, body: dict):  # noqa: ANN201
        return self.http.post(path, json=body, headers={"X-CSRF-Token": self.csrf, "Accept": "application/json"})


def started(engine: Engine, business_key: str = "YT-1", by: str = "wang") -> dict:
    return engine.start("workspace_deliberation", "qiaoyi", by=who(engine, by), business_key=business_key)


def to_review(engine: Engine, business_key: str = "YT-1") -> str:
    instance = started(engine, business_key)
    [review] = engine.complete(instance["tasks"][0]["id"], who(engine, "wang"), ISSUE)["next_tasks"]
    return review["id"]


def text_of(response) -> str:  # noqa: ANN001
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


# --- signing in ---------------------------------------------------------------------------------


def test_pages_send_strangers_to_the_sign_in_page_and_back_after_signing_in(app) -> None:  # noqa: ANN001
    browser = Browser(app)
    answer = browser.get("/tasks/x?y=1")
    assert answer.status_code == 302 and answer.location == "/login?next=/tasks/x?y%3D1"
    wrong = browser.http.post("/login", data={"username": "wang", "password": "wrong-password", "next": "/inbox"})
    assert wrong.status_code == 401 and "用户名或密码错误。" in text_of(wrong)
    away = browser.http.post("/login", data={"username": "wang", "password": PASSWORD, "next": "https://evil.example/"})
    assert away.status_code == 303 and away.location == "/inbox"  # never off the site
    page = text_of(browser.get("/inbox"))
    assert "wang" in page and "居民委员会 · 桥一居委会" in page  # name, role and unit always in view


def test_signing_out_ends_the_session_for_the_pages_and_the_api(app) -> None:  # noqa: ANN001
    browser = Browser(app, "wang")
    assert browser.get("/api/v1/me").json["username"] == "wang"  # one session for pages and REST
    assert browser.post("/logout").status_code == 303
    assert browser.get("/inbox").status_code == 302
    assert browser.get("/api/v1/me").status_code == 401


def test_a_write_without_the_pages_csrf_token_is_refused_and_changes_nothing(app, deliberation: Engine) -> None:  # noqa: ANN001
    review_id = to_review(deliberation)
    browser = Browser(app, "zhang")
    refused = browser.http.post(f"/tasks/{review_id}/claim", data={})
    assert refused.status_code == 403 and "页面已过期" in text_of(refused)
    assert deliberation.get_task(review_id)["assignee"] is None
    assert browser.post(f"/tasks/{review_id}/claim").status_code == 303
    assert deliberation.get_task(review_id)["assignee"] == "zhang"


# --- the inbox ------------------------------------------------------------------------------------


def test_the_inbox_shows_each_tab_with_its_count_and_escapes_what_officials_typed(app, deliberation: Engine) -> None:  # noqa: ANN001
    to_review(deliberation, "<script>alert(1)</script>")
    started(deliberation, "YT-2")
    page = text_of(Browser(app, "zhang").get("/inbox?tab=candidate"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert "街道审核" in page and "居民区议事（工作台测试）" in page and "五里桥街道" in page
    assert re.search(r'id="count-candidate">1<', page) and re.search(r'id="count-mine">0<', page)
    assert "YT-2" not in page  # 登记议题 is the committee's, not the subdistrict's
    wang = Browser(app, "wang")
    assert "登记议题" in text_of(wang.get("/inbox?tab=candidate&q=YT-2"))
    assert "登记议题" not in text_of(wang.get("/inbox?tab=candidate&q=nothing-like-it"))
    rows = text_of(wang.get("/inbox/rows?tab=done"))
    assert 'hx-swap-oob="true"' in rows and re.search(r'id="count-done" hx-swap-oob="true">1<', rows)


def test_overdue_tasks_are_marked_in_red_with_a_word_and_can_be_listed_alone(app, deliberation: Engine) -> None:  # noqa: ANN001
    late, on_time = to_review(deliberation, "LATE-1"), to_review(deliberation, "SOON-1")
    with deliberation.transaction() as session:  # the timers work sets due dates; here they are set by hand
        session.get(HumanTask, late).due_at = utcnow() - timedelta(days=1)
        session.get(HumanTask, on_time).due_at = utcnow() + timedelta(days=3)
    zhang = Browser(app, "zhang")
    page = zhang.get("/inbox?tab=candidate").get_data(as_text=True)
    late_row = re.search(r'<tr data-task="' + late + r'" class="overdue">.*?</tr>', page, re.S).group(0)
    assert 'class="due-overdue"' in late_row and "已逾期" in late_row
    soon_row = re.search(r'<tr data-task="' + on_time + r'" class="">.*?</tr>', page, re.S).group(0)
    assert "已逾期" not in soon_row
    only_late = text_of(zhang.get("/inbox?tab=candidate&overdue=1"))
    assert "LATE-1" in only_late and "SOON-1" not in only_late


def test_the_inbox_pages_through_long_lists(app, deliberation: Engine) -> None:  # noqa: ANN001
    for n in range(22):
        started(deliberation, f"BK-{n:02d}")
    wang = Browser(app, "wang")
    first = text_of(wang.get("/inbox?tab=candidate&sort=created"))
    assert "BK-00" in first and "BK-19" in first and "BK-20" not in first
    cursor = re.search(r'href="/inbox\?([^"]*cursor=[^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = text_of(wang.get(f"/inbox?{cursor}"))
    assert "BK-20" in second and "BK-21" in second and "BK-00" not in second
    bad = wang.get("/inbox?tab=candidate&cursor=forged")
    assert bad.status_code == 200 and "翻页链接已失效" in text_of(bad)  # a sentence, never an error page


def test_english_is_one_click_away_and_remembered(app) -> None:  # noqa: ANN001
    wang = Browser(app, "wang")
    english = wang.get("/inbox?lang=en")
    assert '<html lang="en">' in text_of(english) and "Copied to me" in text_of(english)
    assert "My group&#39;s" in text_of(wang.get("/inbox")) or "My group's" in text_of(wang.get("/inbox"))
    assert "待认领" in text_of(wang.get("/inbox?lang=zh-CN"))


# --- the task page and completing ---------------------------------------------------------------


def test_the_task_page_shows_the_form_pre_filled_why_it_is_mine_and_the_case(app, deliberation: Engine) -> None:  # noqa: ANN001
    review_id = to_review(deliberation)
    page = text_of(Browser(app, "zhang").get(f"/tasks/{review_id}"))
    assert "此步骤由五里桥街道的街道办事处办理，因为案件属于桥一居委会，而你在五里桥街道担任街道办事处。" in page
    schema = json.loads(re.search(r'<script type="application/json" id="form-schema">(.*?)</script>', page).group(1))
    data = json.loads(re.search(r'<script type="application/json" id="form-data">(.*?)</script>', page).group(1))
    assert schema["id"] == "ws_review" and data["title"] == "加装电梯"
    assert "wang 办结了「登记议题」" in text_of_html(page)  # the timeline
    assert 'data-active="[&#34;street_review&#34;]"' in page  # the diagram's current step
    assert 'id="complete"' in page and "认领" in page and "转办给" in page


def test_a_missing_field_comes_back_next_to_its_field_in_chinese(app, deliberation: Engine) -> None:  # noqa: ANN001
    review_id = to_review(deliberation)
    answer = Browser(app, "zhang").post_json(f"/tasks/{review_id}/complete", {"data": {"decision": "approve"}})
    assert answer.status_code == 422
    assert answer.json["message"] == "表单有误，请按字段旁的提示修改后再提交。"
    assert answer.json["errors"] == [{"field": "opinion", "id": "f_opinion", "message": "此项为必填项。"}]
    assert deliberation.get_task(review_id)["status"] == "open"
    too_long = {"decision": "approve", "opinion": "长" * 501}
    answer = Browser(app, "zhang").post_json(f"/tasks/{review_id}/complete", {"data": too_long})
    assert answer.json["errors"][0]["message"] == "最多填写 500 个字。"


def test_completing_a_task_someone_else_completed_says_who_and_when(app, deliberation: Engine) -> None:  # noqa: ANN001
    review_id = to_review(deliberation)
    zhang, liu = Browser(app, "zhang"), Browser(app, "liu")
    done = zhang.post_json(f"/tasks/{review_id}/complete", {"data": {"decision": "approve", "opinion": "同意"}})
    assert done.status_code == 200 and done.json["redirect"] == "/inbox?did=complete"
    late = liu.post_json(f"/tasks/{review_id}/complete", {"data": {"decision": "reject", "opinion": "不同意"}})
    assert late.status_code == 409
    assert re.fullmatch(r"「街道审核」已由 zhang 于 \d\d:\d\d 办结。", late.json["message"])
    claim = liu.post(f"/tasks/{review_id}/claim")
    assert claim.status_code == 409 and "「街道审核」已由 zhang 于" in text_of(claim)  # the page, with the sentence


def test_after_completing_an_official_goes_straight_on_to_the_next_step_that_is_theirs(
    app, deliberation: Engine
) -> None:  # noqa: ANN001
    instance = started(deliberation)
    wang = Browser(app, "wang")
    done = wang.post_json(f"/tasks/{instance['tasks'][0]['id']}/complete", {"data": ISSUE})
    assert done.json == {"ok": True, "message": "已办结「登记议题」。", "redirect": "/inbox?did=complete"}
    assert "已办结。" in text_of(wang.get("/inbox?did=complete"))


def test_officials_transfer_return_comment_and_urge_from_the_task_page(app, deliberation: Engine) -> None:  # noqa: ANN001
    review_id = to_review(deliberation)
    liu = Browser(app, "liu")
    moved = liu.post(f"/tasks/{review_id}/transfer", {"to": "zhang", "comment": "请张同志办理"})
    assert moved.status_code == 303 and moved.location.startswith("/inbox?did=transfer")
    zhang = Browser(app, "zhang")
    assert "liu 将此任务转办给你，现在只有你能办理。" in text_of(zhang.get(f"/tasks/{review_id}"))
    assert zhang.post(f"/tasks/{review_id}/comment", {"text": "已电话联系居委会"}).status_code == 303
    assert "已电话联系居委会" in text_of(zhang.get(f"/tasks/{review_id}"))
    refused = zhang.post(f"/tasks/{review_id}/return", {"reason": ""})
    assert refused.status_code == 422 and "理由不能为空：请写明需要其他工作人员了解的情况。" in text_of(refused)
    back = zhang.post(f"/tasks/{review_id}/return", {"reason": "户数有误", "to_element": "register_issue"})
    assert back.status_code == 303
    [register] = deliberation.inbox(who(deliberation, "wang"), scope="mine")["items"]
    assert register["element_id"] == "register_issue"
    urge = Browser(app, "zhang").post(f"/tasks/{register['id']}/urge", {"comment": "请尽快"})
    assert urge.status_code == 303
    assert deliberation.get_task(register["id"])["urged_count"] == 1


def test_an_official_claims_releases_claims_again_and_delegates_and_confirms_the_colleagues_work(
    app,  # noqa: ANN001
    deliberation: Engine,
) -> None:
    review_id = to_review(deliberation)
    zhang, liu = Browser(app, "zhang"), Browser(app, "liu")

    def why(browser: Browser) -> str:
        return re.search(
            r'<p class="why" id="why">(.*?)</p>', browser.get(f"/tasks/{review_id}").get_data(as_text=True)
        ).group(1)

    assert zhang.post(f"/tasks/{review_id}/claim").location == f"/tasks/{review_id}?did=claim"
    assert "你已认领此任务（五里桥街道的街道办事处），现在由你办理。" in why(zhang)
    assert "此任务已由 zhang 认领" in why(liu)
    assert zhang.post(f"/tasks/{review_id}/unclaim").location == f"/tasks/{review_id}?did=unclaim"
    assert deliberation.get_task(review_id)["assignee"] is None and "此步骤由五里桥街道的街道办事处办理" in why(zhang)
    assert zhang.post(f"/tasks/{review_id}/claim").status_code == 303
    delegated = zhang.post(f"/tasks/{review_id}/delegate", {"to": "liu", "comment": "请刘同志先审"})
    assert delegated.status_code == 303 and delegated.location == f"/inbox?did=delegate&task={review_id}"
    task = deliberation.get_task(review_id)
    assert (task["delegation"], task["assignee"], task["owner"]) == ("pending", "liu", "zhang")
    assert "你已将此任务委派给 liu，liu 办理后回到你这里确认。" in why(zhang)
    assert "zhang 将此任务委派给你，你办完后回到 zhang 确认。" in why(liu)
    page = text_of(liu.get(f"/tasks/{review_id}"))
    assert 'id="complete"' in page and "请刘同志先审" in page  # the delegate works it, the note beside it
    assert 'id="complete"' not in text_of(zhang.get(f"/tasks/{review_id}"))  # the owner waits meanwhile

    worked = liu.post_json(f"/tasks/{review_id}/complete", {"data": {"decision": "approve", "opinion": "可以加装"}})
    assert worked.status_code == 200 and worked.json["ok"], worked.json
    assert deliberation.get_task(review_id)["delegation"] == "resolved"
    assert "你委派出去的任务已办回，请核对后办结。" in why(zhang)
    confirmed = zhang.post_json(f"/tasks/{review_id}/complete", {"data": {"decision": "approve", "opinion": "同意"}})
    assert confirmed.status_code == 200 and confirmed.json["ok"], confirmed.json
    task = deliberation.get_task(review_id)
    assert (task["status"], task["completed_by"]) == ("completed", "zhang")
    [publish] = deliberation.inbox(who(deliberation, "wang"), scope="candidate")["items"]
    assert publish["element_id"] != "street_review"


# --- bulk actions --------------------------------------------------------------------------------


def test_bulk_claim_reports_each_task_on_its_own(app, deliberation: Engine) -> None:  # noqa: ANN001
    first, second = to_review(deliberation, "BK-1"), to_review(deliberation, "BK-2")
    deliberation.claim(second, who(deliberation, "liu"))
    report = text_of_html(Browser(app, "zhang").post("/inbox/claim", {"ids": [first, second]}).get_data(as_text=True))
    assert "成功 街道审核 (BK-1): 已认领" in report
    assert "未完成 街道审核 (BK-2): 「街道审核」已被 liu 认领。" in report
    assert deliberation.get_task(first)["assignee"] == "zhang"


def test_identical_confirmations_are_completed_together_each_reported(app, deliberation: Engine) -> None:  # noqa: ANN001
    wang = Browser(app, "wang")
    publishes = []
    for key in ("BK-1", "BK-2", "BK-3"):
        review_id = to_review(deliberation, key)
        [publish] = deliberation.complete(
            review_id, who(deliberation, "zhang"), {"decision": "approve", "opinion": "同意"}
        )["next_tasks"]
        publishes.append(publish["id"])
    deliberation.complete(publishes[2], who(deliberation, "wang"), {"published": True})  # done meanwhile
    page = wang.get("/inbox/complete?" + "&".join(f"ids={i}" for i in publishes))
    assert page.status_code == 200 and "以下 3 个「公示结果」任务将按同一份表单办结" in text_of(page)
    answer = wang.post_json("/inbox/complete", {"ids": publishes, "data": {"published": True}})
    assert answer.json["message"] == "已办结 2 个，共 3 个。"
    assert "成功 公示结果 (BK-1): 已办结" in text_of_html(answer.json["html"])
    assert re.search(
        r"未完成 公示结果 \(BK-3\): 「公示结果」已由 wang 于 \d\d:\d\d 办结。", text_of_html(answer.json["html"])
    )
    mixed = wang.get(f"/inbox/complete?ids={publishes[0]}&ids={started(deliberation)['tasks'][0]['id']}")
    assert mixed.status_code == 422 and "不是同一个步骤" in text_of(mixed)


def tasks_completed_so_far(app) -> float:  # noqa: ANN001
    text = app.test_client().get("/metrics").get_data(as_text=True)
    [value] = re.findall(r"^govflow_tasks_completed_total (\S+)$", text, re.M)
    return float(value)


def test_steps_completed_in_the_workspace_one_by_one_and_in_bulk_count_in_the_metrics(
    app, deliberation: Engine
) -> None:  # noqa: ANN001
    before = tasks_completed_so_far(app)
    wang = Browser(app, "wang")
    [register] = started(deliberation, "MT-1")["tasks"]
    assert wang.post_json(f"/tasks/{register['id']}/complete", {"data": ISSUE}).json["ok"] is True
    assert tasks_completed_so_far(app) == before + 1
    reviews = [to_review(deliberation, key) for key in ("MT-2", "MT-3")]  # in-process engine calls count too
    assert tasks_completed_so_far(app) == before + 3
    answer = Browser(app, "zhang").post_json(
        "/inbox/complete", {"ids": reviews, "data": {"decision": "approve", "opinion": "同意"}}
    )
    assert answer.json["message"] == "已办结 2 个，共 2 个。"
    assert tasks_completed_so_far(app) == before + 5


def text_of_html(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


# --- 抄送 ------------------------------------------------------------------------------------------


def test_a_step_copied_to_an_official_of_another_subdistrict_shows_in_their_copied_tab_read_only(
    app, deliberation: Engine
) -> None:  # noqa: ANN001
    review_id = to_review(deliberation)
    zhang = Browser(app, "zhang")
    assert zhang.post(f"/tasks/{review_id}/copy", {"to": "wu", "note": "请知悉"}).status_code == 303
    wu = Browser(app, "wu")
    tab = text_of(wu.get("/inbox?tab=copied"))
    assert "街道审核" in tab and "（zhang 抄送）" in tab and re.search(r'id="count-copied">1<', tab)
    page = text_of(wu.get(f"/tasks/{review_id}"))
    assert "zhang 将此步骤抄送给你，供你知悉，你可以查看但不办理。" in page
    assert 'id="complete"' not in page and 'data-readonly="true"' in page
    assert "请知悉" in page  # the note, with the comments


# --- starting and the browser libraries ------------------------------------------------------------


def test_an_official_starts_a_procedure_for_their_unit_and_lands_on_its_first_step(app, deliberation: Engine) -> None:  # noqa: ANN001
    wang = Browser(app, "wang")
    offer = text_of(wang.get("/start"))
    assert "发起「居民区议事（工作台测试）」" in offer and "桥一居委会" in offer and "瑞南居委会" not in offer
    answer = wang.post(
        "/start", {"process_key": "workspace_deliberation", "org_unit": "qiaoyi", "business_key": "YT-9"}
    )
    assert answer.status_code == 303 and re.fullmatch(r"/tasks/[0-9a-f-]+\?did=start", answer.location)
    refused = wang.post("/start", {"process_key": "workspace_deliberation", "org_unit": "ruinan"})
    assert refused.status_code == 403 and "不能为瑞南居委会发起事项。" in text_of(refused)
    assert "你的角色不发起事项。" in text_of(Browser(app, "auditor").get("/start"))


def test_the_browser_libraries_are_served_from_npms_folder_by_version(app) -> None:  # noqa: ANN001
    from web import assets

    if not assets.installed():
        pytest.skip("web/node_modules is not installed (make test runs npm ci)")
    http = app.test_client()
    answer = http.get(assets.url("htmx", "htmx.min.js"))
    assert answer.status_code == 200 and b"htmx" in answer.data[:2000]
    assert "max-age" in answer.headers["Cache-Control"]
    assert http.get("/vendor/leftpad/1.0/index.js").status_code == 404
    assert http.get(f"/vendor/htmx/{assets.version('htmx')}/../package.json").status_code == 404


# --- the catalogues ----------------------------------------------------------------------------------


def test_every_text_the_pages_use_is_in_both_catalogues() -> None:
    assert {p.stem for p in (ROOT / "web" / "i18n").glob("*.json")} == {"zh-CN", "en"}
    catalogues = {lang: i18n.catalogue(lang) for lang in ("zh-CN", "en")}
    for lang in catalogues:  # every area folder has both languages
        assert [p.parent for p in i18n.catalogue_files(lang)] == [p.parent for p in i18n.catalogue_files("zh-CN")]
    assert set(catalogues["zh-CN"]) == set(catalogues["en"])
    sources = [
        *(p for p in (ROOT / "web").rglob("*.py") if "node_modules" not in p.parts),
        *(ROOT / "web" / "templates").rglob("*.html"),
    ]
    used = {
        key for path in sources for key in re.findall(r"""\bt(?:_or)?\(\s*["']([a-z_.\-]+)["']""", path.read_text())
    }
    dynamic_prefixes = ("inbox.tab.", "inbox.sort.", "inbox.empty.", "task.status.", "comment.kind.", "lang.")
    missing = sorted(k for k in used if k not in catalogues["zh-CN"] and not k.endswith("."))
    assert missing == [], missing
    for prefix in dynamic_prefixes:
        assert any(k.startswith(prefix) for k in catalogues["zh-CN"]), prefix
    assert all(Path(ROOT / "web" / "i18n" / f"{lang}.json").exists() for lang in ("zh-CN", "en"))
