"""Schemathesis fuzzes every operation of the OpenAPI document, as an admin and as a plain official.

Whatever it sends, the API answers without a 5xx and with a body that matches the schema documented for
that status. The petition bundle and a timer process are deployed and instances started first, so about
half of the generated path ids name things that exist. SQLite only: the point is the API, not the database.

GOVFLOW_FUZZ_SEED picks another seed (the default one makes a run repeatable); GOVFLOW_FUZZ_EXAMPLES more cases.
"""

from __future__ import annotations

import os
from pathlib import Path

import hypothesis
import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

from engine import Engine
from engine.db import make_sql_engine
from engine.migrate import upgrade
from tests.conftest import PASSWORD, ApiClient, read_bundle

pytestmark = pytest.mark.slow

ISSUE = {"title": "加装电梯", "proposer_count": 30, "eligible_count": 100}
SEED = int(os.environ.get("GOVFLOW_FUZZ_SEED", "20250601"))
MAX_EXAMPLES = int(os.environ.get("GOVFLOW_FUZZ_EXAMPLES", "5"))
# content_type_conformance keeps response_schema_conformance honest: schemathesis validates a body only when
# its media type is documented, so an error sent as problem+json but documented as JSON would go unchecked.
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only (overrides the conftest fixture that also runs on PostgreSQL)."""
    url = f"sqlite:///{tmp_path / 'govflow.db'}"
    sql = make_sql_engine(url)
    upgrade(sql)
    sql.dispose()
    return url


@pytest.fixture(params=["admin", "zhang"])
def caller(request: pytest.FixtureRequest) -> str:
    """An admin (may do everything) and a plain subdistrict official (is refused much)."""
    return request.param


def seeded_ids(api: ApiClient, petition: Engine) -> dict[str, list[str]]:
    """Instances at each stage and their tasks and jobs, so generated requests can hit real ones."""

    def post(path: str, user: str, body: dict) -> dict:
        response = api.post(path, user, json=body)
        assert response.status_code in (200, 201), response.json
        return response.json

    petition.deploy(read_bundle("timer_wait.bpmn"), by=petition.principal("designer"))
    start = {"process_key": "petition_review", "org_unit": "qiaoyi", "business_key": "YT-1"}
    registering = post("/process-instances", "wang", start)
    reviewing = post("/process-instances", "wang", start | {"business_key": "YT-2"})
    done = post(f"/tasks/{reviewing['tasks'][0]['id']}/complete", "wang", {"data": ISSUE})
    finished = post("/process-instances", "wang", start | {"business_key": "YT-3"})
    finished_review = post(f"/tasks/{finished['tasks'][0]['id']}/complete", "wang", {"data": ISSUE})
    post(f"/tasks/{finished_review['next_tasks'][0]['id']}/complete", "zhang", {"data": {"decision": "approve"}})
    waiting = post("/process-instances", "wang", {"process_key": "publicity_wait", "org_unit": "qiaoyi"})
    jobs = petition.waiting_jobs(waiting["id"], by=petition.principal("admin"))
    return {
        "instances": [registering["id"], reviewing["id"], finished["id"], waiting["id"]],
        "tasks": [
            registering["tasks"][0]["id"],
            done["next_tasks"][0]["id"],
            finished["tasks"][0]["id"],
            finished_review["next_tasks"][0]["id"],
        ],
        "jobs": [job["id"] for job in jobs],
        "keys": ["petition_review", "publicity_wait"],
        "users": ["wang", "zhang", "liu", "wu"],
    }


@pytest.fixture
def fuzz_world(api: ApiClient, petition: Engine) -> tuple[ApiClient, dict[str, list[str]]]:
    return api, seeded_ids(api, petition)


@pytest.fixture
def fuzz_schema(fuzz_world: tuple[ApiClient, dict[str, list[str]]], caller: str) -> schemathesis.BaseSchema:
    """The document as the app serves it; the test runs once per caller (the fixture parametrizes it)."""
    api, ids = fuzz_world
    dictionaries = {name: {"values": values} for name, values in ids.items() if values}
    bindings = {
        "path.instance_id": "instances",
        "query.instance_id": "instances",
        "path.task_id": "tasks",
        "path.job_id": "jobs",
        "path.key": "keys",
        "query.process_key": "keys",
        "body.process_key": "keys",
        "body.to": "users",
    }
    config = schemathesis.Config.from_dict(
        {
            "dictionaries": dictionaries,
            "parameters": {
                key: {"dictionary": name, "probability": 0.5} for key, name in bindings.items() if name in dictionaries
            },
        }
    )
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api.app, config=config)


# One test per caller with a subtest per operation and mode, each a bounded Hypothesis run (no shrinking, no
# deadline, no example database). schemathesis' own pytest loader (`from_fixture(...).parametrize()`) would
# be the shorter spelling, but 4.32 sets `request.node._nodeid`, which pytest 9.2 no longer has.
def test_no_operation_answers_5xx_or_breaks_its_documented_schema(
    fuzz_schema: schemathesis.BaseSchema,
    fuzz_world: tuple[ApiClient, dict[str, list[str]]],
    caller: str,
    subtests: pytest.Subtests,
) -> None:
    api, _ids = fuzz_world
    operations = [result.ok() for result in fuzz_schema.get_all_operations()]  # .ok() raises on an unreadable one
    assert len(operations) >= 40
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            with subtests.test(operation=operation.label, mode=mode.value):
                fuzz(api, operation, mode, caller)


def fuzz(api: ApiClient, operation: schemathesis.APIOperation, mode: GenerationMode, caller: str) -> None:
    @hypothesis.seed(SEED)
    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        deadline=None,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
        verbosity=hypothesis.Verbosity.quiet,
    )
    @hypothesis.given(case=operation.as_strategy(mode))
    def run(case: schemathesis.Case) -> None:
        if case.method == "DELETE" and case.path.endswith("/auth/token"):
            token = fresh_token(api, caller)  # revoking must not sign the shared token out of later cases
        else:
            token = api.token(caller)
        case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

    run()


def fresh_token(api: ApiClient, username: str) -> str:
    response = api.http.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.json
    return response.json["access_token"]
