"""What officials read when the engine refuses something, on SQLite and PostgreSQL: every refusal on a
Chinese page is a Chinese sentence naming people and units as officials know them, never the engine's
English; and every error code the engine raises has a text in both catalogues."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from engine import Engine
from engine.errors import GovflowError
from tests.conftest import ROOT, who
from tests.test_web import Browser, app, deliberation, started, to_review  # noqa: F401 (fixtures)
from web import i18n

ENGLISH = re.compile(r"\b(is|not|may|the|cannot|must|there|already|empty)\b", re.I)


def said(response) -> str:  # noqa: ANN001
    """The sentence the page shows as an alert (a notice on the page, or the error page's message)."""
    html = response.get_data(as_text=True)
    found = re.search(r'role="alert"[^>]*>(.*?)</(?:div|p)>', html, re.S)
    assert found, html[:500]
    return re.sub(r"\s+", " ", found.group(1)).strip()


def chinese(response, status: int, sentence: str) -> None:  # noqa: ANN001
    text = said(response)
    assert response.status_code == status, (response.status_code, text)
    assert text == sentence
    assert not ENGLISH.search(text), text


def test_the_refusals_officials_meet_on_a_chinese_page_are_chinese_sentences(app, deliberation: Engine) -> None:  # noqa: ANN001, F811
    review_id = to_review(deliberation, "YT-7")
    zhang, liu, wang, auditor = (Browser(app, u) for u in ("zhang", "liu", "wang", "auditor"))

    # not a candidate: the auditor reads the case but does not work it
    chinese(
        auditor.post(f"/tasks/{review_id}/claim"),
        403,
        "auditor 不是「街道审核」的办理人：该步骤由五里桥街道的街道办事处办理。",
    )
    chinese(auditor.post(f"/tasks/{review_id}/comment", {"text": "看过"}), 403, "审计人员可以查看意见，但不发表意见。")
    # may not start a procedure for a unit out of reach
    chinese(
        wang.post("/start", {"process_key": "workspace_deliberation", "org_unit": "ruinan"}),
        403,
        "wang 在瑞南居委会及其上级单位没有办理职务，不能为瑞南居委会发起事项。",
    )
    # empty, missing and wrong inputs
    write_it = "：请写明需要其他工作人员了解的情况。"
    chinese(zhang.post(f"/tasks/{review_id}/return", {"reason": " "}), 422, f"理由不能为空{write_it}")
    chinese(zhang.post(f"/tasks/{review_id}/comment", {"text": ""}), 422, f"意见不能为空{write_it}")
    chinese(
        zhang.post(f"/tasks/{review_id}/comment", {"text": "长" * 2001}), 422, "意见有 2001 个字，最多保留 2000 个字。"
    )
    chinese(zhang.post(f"/tasks/{review_id}/transfer", {"to": ""}), 422, "请选择「街道审核」要转办的工作人员。")
    chinese(
        zhang.post(f"/tasks/{review_id}/transfer", {"to": "nobody"}), 422, "没有在职用户 nobody，无法转办「街道审核」。"
    )
    chinese(
        zhang.post(f"/tasks/{review_id}/transfer", {"to": "wang"}),
        422,
        "不能转办给 wang：「街道审核」由五里桥街道的街道办事处办理，wang 不在其中。",
    )
    chinese(zhang.post(f"/tasks/{review_id}/delegate", {"to": "zhang"}), 422, "不能把「街道审核」委派给自己。")
    chinese(
        zhang.post(f"/tasks/{review_id}/delegate", {"to": "wu"}),
        422,
        "wu 在五里桥街道没有职务，不能将「街道审核」委派给其办理。",
    )
    chinese(zhang.post(f"/tasks/{review_id}/copy", {"to": "zhang"}), 422, "不能把「街道审核」抄送给自己。")
    # conflicts: someone else holds the task, it is delegated, it was urged a moment ago
    assert zhang.post(f"/tasks/{review_id}/claim").status_code == 303
    chinese(liu.post(f"/tasks/{review_id}/claim"), 409, "「街道审核」已被 zhang 认领。")
    chinese(zhang.post(f"/tasks/{review_id}/urge"), 403, "zhang 正在办理「街道审核」，不能催办；请办结或转交他人。")
    assert zhang.post(f"/tasks/{review_id}/delegate", {"to": "liu"}).status_code == 303
    chinese(zhang.post(f"/tasks/{review_id}/unclaim"), 409, "「街道审核」已由 zhang 委派给 liu 办理。")
    [register] = deliberation.start(
        "workspace_deliberation", "qiaoyi", by=who(deliberation, "wang"), business_key="YT-8"
    )["tasks"]
    assert zhang.post(f"/tasks/{register['id']}/urge").status_code == 303
    again = said(zhang.post(f"/tasks/{register['id']}/urge"))
    assert re.fullmatch(r"「登记议题」已于 \d\d:\d\d 催办过，\d\d:\d\d 之后才能再次催办。", again), again
    # a page of the inbox that no longer exists, and a task that never did
    bad_page = zhang.get("/inbox?tab=candidate&cursor=forged")
    assert bad_page.status_code == 200 and "翻页链接已失效，请回到第一页重新查看。" in said(bad_page)
    chinese(zhang.get("/tasks/no-such-task"), 404, "没有找到这个任务。")

    # the same refusal on the English page names the same people and units, in English
    english = zhang.post(f"/tasks/{review_id}/copy?lang=en", {"to": "zhang"})
    assert said(english) == "“街道审核” cannot be copied to yourself."
    named = auditor.post(f"/tasks/{review_id}/claim?lang=en")
    assert said(named) == "auditor is not a candidate for “街道审核”: it is for the subdistrict office of 五里桥街道."


def test_a_task_completed_meanwhile_reads_as_who_and_when_even_without_its_page(app, deliberation: Engine) -> None:  # noqa: ANN001, F811
    review_id = to_review(deliberation, "YT-9")
    deliberation.complete(review_id, who(deliberation, "zhang"), {"decision": "approve", "opinion": "同意"})
    answer = Browser(app, "liu").post("/inbox/claim", {"ids": [review_id]})
    assert re.search(r"「街道审核」已由 zhang 于 \d\d:\d\d 办结。", answer.get_data(as_text=True))


# --- every code the engine raises has a text in each catalogue ----------------------------------------

ENGINE = ROOT / "engine"
# The command modules behind the workspace's pages: every error they raise carries a code.
PAGE_MODULES = [
    ENGINE / "commands" / name
    for name in (
        "tasks.py",
        "operations.py",
        "remarks.py",
        "copies.py",
        "instances.py",
        "queries.py",
        "directory.py",
        "base.py",
        "auditing.py",
        "access.py",
        "statistics.py",
    )
]
CODED_BY_CLASS = {"FormInvalid", "BundleInvalid"}  # their __init__ gives the code


def error_classes() -> set[str]:
    import engine.core  # noqa: F401 - every command module, so every error class is defined

    found, todo = set(), [GovflowError]
    while todo:
        cls = todo.pop()
        found.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return found


def _constants_assigned(function: ast.AST) -> dict[str, set[str]]:
    """Each local name -> the strings assigned to it (`why, code = "...", "matter_not_listed"`)."""
    assigned: dict[str, set[str]] = {}
    for node in ast.walk(function):
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            pairs = [(target, node.value)]
            if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                pairs = list(zip(target.elts, node.value.elts, strict=False))
            for name, value in pairs:
                if isinstance(name, ast.Name) and isinstance(value, ast.Constant) and isinstance(value.value, str):
                    assigned.setdefault(name.id, set()).add(value.value)
    return assigned


def raised_errors(path: Path, classes: set[str]) -> list[tuple[int, str, set[str], set[str]]]:
    """(line, class, codes, parameter names) of every error constructed in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        assigned = _constants_assigned(function)
        for call in ast.walk(function):
            if not isinstance(call, ast.Call):
                continue
            callee = call.func
            if isinstance(callee, ast.Name) and callee.id in classes:
                name = callee.id
            elif isinstance(callee, ast.Attribute) and callee.attr == "__init__" and isinstance(callee.value, ast.Call):
                name = "super"
            else:
                continue
            keywords = {k.arg: k.value for k in call.keywords if k.arg}
            code = keywords.pop("code", None)
            codes: set[str] = set()
            if isinstance(code, ast.Constant) and isinstance(code.value, str):
                codes = {code.value}
            elif isinstance(code, ast.Name):
                codes = assigned.get(code.id, set())
            if name == "super" and not codes:
                continue
            found.append((call.lineno, name, codes, set(keywords)))
    return found


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def test_every_error_code_the_engine_raises_has_a_text_in_both_catalogues() -> None:
    classes = error_classes()
    catalogues = {lang: i18n.catalogue(lang) for lang in i18n.LANGUAGES}
    codes: dict[str, list[str]] = {}
    for path in sorted(ENGINE.rglob("*.py")):
        for line, _name, found, params in raised_errors(path, classes):
            for code in found:
                codes.setdefault(code, [])
                for lang, texts in catalogues.items():
                    text = texts.get(f"error.{code}")
                    if text is None:
                        codes[code].append(f"{path.relative_to(ROOT)}:{line}: no error.{code} in {lang}")
                    elif not placeholders(text) <= params:
                        missing = sorted(placeholders(text) - params)
                        codes[code].append(f"{path.relative_to(ROOT)}:{line}: {lang} names {missing}, not given")
    assert len(codes) > 60  # the scan found the engine's codes
    assert [problem for problems in codes.values() for problem in problems] == []
    unused = sorted(
        k
        for k in catalogues["zh-CN"]
        if k.startswith("error.") and k.count(".") == 1 and k[6:] not in codes and k[6:] not in PAGE_ONLY_ERRORS
    )
    assert unused == []  # no text for a code nothing raises any more


PAGE_ONLY_ERRORS = {"title", "back", "not_found", "unexpected"}  # the pages' own, not the engine's


def test_every_error_the_pages_commands_raise_carries_a_code() -> None:
    classes = error_classes()
    uncoded = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in PAGE_MODULES
        for line, name, codes, _ in raised_errors(path, classes)
        if not codes and name not in CODED_BY_CLASS
    ]
    assert uncoded == []


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_the_words_an_error_sentence_borrows_are_in_each_catalogue(lang: str) -> None:
    texts = i18n.catalogue(lang)
    for word in ("field.reason", "field.comment", "field.note", "verb.transfer", "verb.delegate"):
        assert texts.get(f"error.{word}"), word
    for status in ("running", "completed", "cancelled", "suspended", "failed"):
        assert texts.get(f"audit.status.{status}"), status
