"""Lists follow API.md's convention: `?limit=` (default 50, max 500) and `?cursor=`, answering
`{items, next_cursor}`; following the cursors gives every item once, in the same order as one big page."""

from __future__ import annotations

import pytest

from engine import Engine
from tests.conftest import ApiClient, problem_of, read_bundle

ISSUE = {"title": "加装电梯", "proposer_count": 30, "eligible_count": 100}


def every_page(api: ApiClient, path: str, user: str, limit: int) -> tuple[list[dict], int]:
    """All items of a list, `limit` at a time, following next_cursor; and how many pages it took."""
    items: list[dict] = []
    cursor, pages = None, 0
    while True:
        query = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        response = api.get(path, user, query_string=query)
        assert response.status_code == 200, response.json
        assert set(response.json) == {"items", "next_cursor"}
        assert len(response.json["items"]) <= limit
        items += response.json["items"]
        pages += 1
        cursor = response.json["next_cursor"]
        if cursor is None:
            return items, pages


@pytest.fixture
def lists(api: ApiClient, petition: Engine) -> dict[str, str]:
    """Three versions of two processes, a task with five comments, an instance with a long history."""
    for _ in range(2):
        bundle = read_bundle("queries_loop.bpmn")
        bundle["queries_loop.bpmn"] = bundle["queries_loop.bpmn"].replace(b"\xe4\xbf\xae\xe6\x94\xb9", b"\xe6\x94\xb9")
        petition.deploy(bundle, by=petition.principal("designer"))
        petition.deploy(read_bundle("queries_loop.bpmn"), by=petition.principal("designer"))
    instance = api.post("/process-instances", "wang", json={"process_key": "petition_review", "org_unit": "qiaoyi"})
    task_id = instance.json["tasks"][0]["id"]
    for n in range(5):
        assert api.post(f"/tasks/{task_id}/comments", "wang", json={"text": f"意见 {n}"}).status_code == 201
    assert api.post(f"/tasks/{task_id}/complete", "wang", json={"data": ISSUE}).status_code == 200
    return {
        "/process-definitions": "wang",
        "/org-units": "wang",
        f"/tasks/{task_id}/comments": "wang",
        f"/process-instances/{instance.json['id']}/history": "wang",
    }


def test_definitions_org_units_comments_and_history_come_in_pages(api: ApiClient, lists: dict[str, str]) -> None:
    for path, user in lists.items():
        whole = api.get(path, user, query_string={"limit": 500}).json
        assert whole["next_cursor"] is None and len(whole["items"]) >= 5, path
        paged, pages = every_page(api, path, user, limit=2)
        assert paged == whole["items"], path
        assert pages == -(-len(whole["items"]) // 2), path  # no empty last page
        first = api.get(path, user).json  # the default page is 50
        assert first["items"] == whole["items"][:50]


def test_the_contracts_example_asks_for_ten_definitions(api: ApiClient, lists: dict[str, str]) -> None:
    page = api.get("/process-definitions?limit=10", "wang")
    assert page.status_code == 200
    assert [(d["key"], d["version"]) for d in page.json["items"]] == [
        ("petition_review", 1),
        ("revise_until_done", 1),
        ("revise_until_done", 2),
        ("revise_until_done", 3),
        ("revise_until_done", 4),
    ]
    latest = api.get("/process-definitions?latest=true&limit=1", "wang").json
    assert [(d["key"], d["version"]) for d in latest["items"]] == [("petition_review", 1)]
    rest = api.get("/process-definitions", "wang", query_string={"latest": "true", "cursor": latest["next_cursor"]})
    assert [(d["key"], d["version"]) for d in rest.json["items"]] == [("revise_until_done", 4)]


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 501}, {"limit": "ten"}, {"cursor": "not-a-cursor"}])
def test_a_bad_limit_or_a_made_up_cursor_is_a_422_sentence(api: ApiClient, lists: dict[str, str], query: dict) -> None:
    for path, user in lists.items():
        answer = api.get(path, user, query_string=query)
        assert answer.status_code == 422, (path, answer.json)
        assert problem_of(answer)["detail"]


def test_a_cursor_of_one_list_is_refused_by_another(api: ApiClient, lists: dict[str, str]) -> None:
    history = next(p for p in lists if p.endswith("/history"))
    comments = next(p for p in lists if p.endswith("/comments"))
    cursor = api.get(history, "wang", query_string={"limit": 1}).json["next_cursor"]
    assert api.get(comments, "wang", query_string={"cursor": cursor}).status_code == 422
