"""SQL-looking strings in every filter of every list endpoint: no 5xx, nothing changed, results still right.

Every GET operation of the OpenAPI document that takes query parameters gets, in each parameter in turn (and
in each path parameter), strings an injection would use: quotes closing a literal, a stacked DROP TABLE, a
comment, a tautology, a sleep, LIKE's wildcards and its escape character. On SQLite and PostgreSQL:

- no answer is a 5xx, and every refusal is problem+json with a sentence;
- nothing in the database changed (every table's row count is as before) and no request sleeps;
- a text filter with such a string finds nothing, since nothing holds it: `%` and `_` are matched as the
  characters they are, not as wildcards (the same searches with a real business key find their case).
"""

from __future__ import annotations

import time
from urllib.parse import quote

from sqlalchemy import func, select

from engine import Engine
from engine.models import Base
from tests.conftest import ApiClient, problem_of
from tests.reliability_report import record

INJECTIONS = [
    "' OR '1'='1",
    "'; DROP TABLE human_task; --",
    '" OR 1=1 --',
    "') OR ('a'='a",
    "admin'--",
    "1; SELECT pg_sleep(3)",
    "' UNION SELECT username, password_hash FROM user_account --",
    "%",
    "_",
    "%' OR '%'='",
    "\\",
    "１' OR '１'='１",
]
ISSUE = {"title": "加装电梯", "proposer_count": 30, "eligible_count": 100}


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.reading() as session:
        return {
            table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
            for table in Base.metadata.sorted_tables
        }


def list_operations(api: ApiClient) -> list[tuple[str, list[dict], list[dict]]]:
    """(path, query parameters, path parameters) of every GET operation that takes a query or path parameter."""
    spec = api.http.get("/api/v1/openapi.json").json
    found = []
    for path, operations in spec["paths"].items():
        get = operations.get("get")
        if get is None:
            continue
        params = get.get("parameters", []) + operations.get("parameters", [])
        query = [p for p in params if p["in"] == "query"]
        in_path = [p for p in params if p["in"] == "path"]
        if query or in_path:
            found.append((path.removeprefix("/api/v1"), query, in_path))
    return found


def is_text_filter(param: dict) -> bool:
    schema = param.get("schema", {})
    return (
        schema.get("type") == "string"
        and not schema.get("enum")
        and not schema.get("format")
        and param["name"] not in ("cursor",)
    )


def test_sql_in_every_filter_of_every_list_endpoint_answers_4xx_or_finds_nothing_and_changes_nothing(
    api: ApiClient, petition: Engine
) -> None:
    wang, admin = petition.principal("wang"), "admin"
    case = petition.start("petition_review", "qiaoyi", by=wang, business_key="SQL-CASE-1")
    petition.complete(case["tasks"][0]["id"], wang, ISSUE)
    real = {
        "instance_id": case["id"],
        "key": "petition_review",
        "task_id": petition.get_instance(case["id"])["tasks"][0]["id"],
        "code": "qiaoyi",
        "username": "wang",
    }
    api.token(admin)  # signing in writes a token: before the row counts are taken
    before = row_counts(petition)
    operations = list_operations(api)
    assert len(operations) >= 20
    tried = 0
    for path, query, in_path in operations:
        concrete = path
        for param in in_path:
            concrete = concrete.replace("{" + param["name"] + "}", quote(real.get(param["name"], "x"), safe=""))
        requests = [(concrete, {param["name"]: text}, param) for param in query for text in INJECTIONS]
        for param in in_path:
            for text in INJECTIONS:
                hostile = path.replace("{" + param["name"] + "}", quote(text, safe=""))
                for other in in_path:
                    hostile = hostile.replace("{" + other["name"] + "}", quote(real.get(other["name"], "x"), safe=""))
                requests.append((hostile, {}, None))
        for url, args, param in requests:
            tried += 1
            started = time.monotonic()
            answer = api.get(url, admin, query_string=args)
            assert time.monotonic() - started < 2.5, (url, args)
            assert answer.status_code < 500, (url, args, answer.data[:300])
            if answer.status_code >= 400:
                problem_of(answer)
                continue
            body = answer.json if answer.is_json else None
            if param is not None and is_text_filter(param) and isinstance(body, dict) and "items" in body:
                assert body["items"] == [], (url, args, body["items"][:2])
    assert row_counts(petition) == before
    assert tried > 500
    record("hostile", f"sql_filters[{petition.dialect}]", {"operations": len(operations), "requests": tried})

    # The controls: a real value finds its case, the same search with a wildcard finds nothing.
    assert [i["id"] for i in api.get("/process-instances", admin, query_string={"q": "SQL-CASE"}).json["items"]] == [
        case["id"]
    ]
    assert api.get("/process-instances", admin, query_string={"q": "SQL%CASE"}).json["items"] == []
    assert api.get("/process-instances", admin, query_string={"q": "SQL_CASE"}).json["items"] == []
    tasks = api.get("/tasks", admin, query_string={"scope": "all", "q": "SQL-CASE"}).json["items"]
    assert [t["instance_id"] for t in tasks] == [case["id"]]
    assert api.get("/tasks", admin, query_string={"scope": "all", "q": "SQL_CASE"}).json["items"] == []
