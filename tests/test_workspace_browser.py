"""Officials work a deliberation in the browser: Playwright on Debian's chromium against `govflow serve`.

wang (residents' committee of 桥一) starts a deliberation and registers the issue; zhang (subdistrict office
of 五里桥), already looking at his group's tasks, sees it appear without reloading, submits the review with
a missing field, reads the message next to it, fixes it and completes; liu, his colleague, transfers
another review to zhang; wang publishes the result with the keyboard only. Steps are picked by what the
pages show (names, business keys, labels), so the test bundle in tests/data/web can change its ids.
"""

from __future__ import annotations

import re

import pytest

from engine import Engine
from tests.browser import PHONE, fits_and_is_named, screenshot
from tests.conftest import DATA, read_bundle, who

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROCEDURE = "居民区议事（工作台测试）"
WEB_BUNDLE = ("workspace_deliberation.bpmn", "ws_issue.form.json", "ws_review.form.json", "ws_publish.form.json")


@pytest.fixture
def deliberation(org: Engine) -> Engine:
    org.deploy(read_bundle(*WEB_BUNDLE, folder=DATA / "web"), by=who(org, "designer"))
    return org


def row(page, business_key: str):  # noqa: ANN001, ANN201
    return page.locator("#inbox-results tbody tr", has_text=business_key)


def press_until_focused(page, accessible_name: str, limit: int = 60) -> None:  # noqa: ANN001
    """Tab through the page until the element of that label or name has the focus: keyboard only."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => { const e = document.activeElement;
                       const label = e.labels && e.labels[0] ? e.labels[0].textContent : '';
                       return (label + ' ' + (e.getAttribute('aria-label') || '') + ' ' + e.textContent).trim(); }"""
        )
        if accessible_name in focused:
            return
    raise AssertionError(f"{accessible_name!r} cannot be reached with the Tab key")


def test_officials_start_review_hand_on_and_complete_a_deliberation_in_the_browser(
    deliberation: Engine, officials
) -> None:  # noqa: ANN001
    # A second case already waits for the subdistrict's review: liu will transfer it.
    other = deliberation.start(
        "workspace_deliberation", "qiaoyi", by=who(deliberation, "wang"), business_key="YT-2026-099"
    )
    issue = {"title": "楼道堆物清理", "description": "5号楼楼道堆物", "households": 12}
    deliberation.complete(other["tasks"][0]["id"], who(deliberation, "wang"), issue)

    zhang = officials("zhang")
    zhang.get_by_role("link", name=re.compile("待认领")).click()
    row(zhang, "YT-2026-099").wait_for()
    zhang.evaluate("window.notReloaded = true")

    # wang starts a deliberation and completes its first step.
    wang = officials("wang")
    wang.get_by_role("link", name="发起事项").click()
    card = wang.locator("li", has=wang.get_by_role("heading", name=PROCEDURE))
    card.get_by_label("业务编号（可不填）").fill("YT-2026-101")
    card.get_by_role("button", name=f"发起「{PROCEDURE}」").click()
    wang.get_by_role("heading", name="登记议题").wait_for()
    assert "你在桥一居委会担任居民委员会" in wang.locator("#why").inner_text()
    wang.get_by_label("议题标题").fill("加装电梯 <b>3号楼</b>")
    wang.get_by_label("议题内容").fill("3号楼居民联名申请加装电梯")
    wang.get_by_label("涉及户数").fill("24")
    wang.get_by_role("button", name="办结").click()
    wang.wait_for_url("**/inbox?did=complete")
    assert "已办结" in wang.locator("#notice").inner_text()

    # zhang's list shows the new review without a reload.
    row(zhang, "YT-2026-101").wait_for()
    assert zhang.evaluate("window.notReloaded") is True
    assert "街道审核" in row(zhang, "YT-2026-101").inner_text()
    assert zhang.locator("#count-candidate").inner_text() == "2"
    fits_and_is_named(zhang, "inbox, laptop")
    screenshot(zhang, "inbox_candidate_laptop")

    row(zhang, "YT-2026-101").get_by_role("link", name="街道审核").click()
    zhang.locator("#task-form[data-ready=true]").wait_for()
    assert zhang.get_by_label("议题标题").input_value() == "加装电梯 <b>3号楼</b>"  # shown as text, pre-filled
    zhang.get_by_label("同意", exact=True).check()
    zhang.get_by_role("button", name="办结").click()
    opinion_error = zhang.locator(".fjs-form-field", has=zhang.get_by_label("审核意见")).locator(
        ".fjs-form-field-error"
    )
    opinion_error.wait_for()
    assert "此项为必填项" in opinion_error.inner_text()
    assert "审核意见：此项为必填项。" in zhang.locator("#form-errors").inner_text()
    zhang.locator("#diagram[data-ready=true]").wait_for()
    assert zhang.locator('.djs-element.gf-current[data-element-id="street_review"]').count() == 1
    assert zhang.locator(".djs-element.gf-current").count() == 1
    screenshot(zhang, "task_with_field_error_laptop")
    fits_and_is_named(zhang, "task with a field error, laptop")  # every control has a name a reader can say
    assert zhang.get_by_role("img", name="流程图，当前步骤：街道审核").is_visible()
    zhang.get_by_label("审核意见").fill("同意加装，请做好公示")
    zhang.get_by_role("button", name="办结").click()
    zhang.wait_for_url("**/inbox?did=complete")
    assert row(zhang, "YT-2026-101").count() == 0

    # liu, zhang's colleague, hands the other review to zhang.
    liu = officials("liu", viewport=PHONE)
    liu.get_by_role("link", name=re.compile("待认领")).click()
    screenshot(liu, "inbox_candidate_phone")
    fits_and_is_named(liu, "inbox, phone")
    row(liu, "YT-2026-099").get_by_role("link", name="街道审核").click()
    liu.locator("#task-form[data-ready=true]").wait_for()
    liu.locator("#diagram[data-ready=true]").wait_for()
    fits_and_is_named(liu, "task, phone")
    screenshot(liu, "task_phone")
    liu.get_by_text("转办", exact=True).click()
    liu.get_by_label("转办给").select_option("zhang")
    liu.get_by_label("说明（可不填）").first.fill("请张同志办理")
    liu.get_by_role("button", name="确认转办").click()
    liu.wait_for_url("**/inbox?did=transfer*")
    assert "已转办" in liu.locator("#notice").inner_text()
    zhang.goto(zhang.url.split("/inbox")[0] + "/inbox?tab=mine")
    row(zhang, "YT-2026-099").wait_for()
    row(zhang, "YT-2026-099").get_by_role("link", name="街道审核").click()
    assert "liu 将此任务转办给你" in zhang.locator("#why").inner_text()

    # wang publishes the result with the keyboard only.
    wang.get_by_role("link", name=re.compile("待认领")).click()
    row(wang, "YT-2026-101").get_by_role("link", name="公示结果").click()
    wang.locator("#task-form[data-ready=true]").wait_for()
    press_until_focused(wang, "已在居务公开栏公示")
    wang.keyboard.press("Space")
    press_until_focused(wang, "办结")
    wang.keyboard.press("Enter")
    wang.wait_for_url("**/inbox?did=complete")
    wang.get_by_role("link", name=re.compile("已办")).click()
    assert row(wang, "YT-2026-101").count() == 2  # 登记议题 and 公示结果, both by wang
    instance = next(
        i for i in deliberation.list_instances(who(deliberation, "wang"))["items"] if i["business_key"] == "YT-2026-101"
    )
    assert instance["status"] == "completed"

    for page in (wang, zhang, liu):
        assert page.script_errors == []
