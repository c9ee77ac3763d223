"""Schemathesis fuzzes every operation of the OpenAPI document against `govflow serve`, signed in as each role.

An admin and a subdistrict official on SQLite and PostgreSQL; a residents' committee official, a designer and
an auditor (refused most writes: each answer must still be a documented 4xx) on SQLite with fewer cases each,
to keep the suite's time in bounds.

Whatever it sends, the running server answers without a 5xx and with a body that matches the schema documented
for that status. The petition bundle and a timer process are deployed and instances started first, so about
half of the generated path ids name things that exist.

GOVFLOW_FUZZ_SEED picks another seed (the default one makes a run repeatable); GOVFLOW_FUZZ_EXAMPLES more cases.
"""

from __future__ import annotations

import os

import hypothesis
import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

from engine import Engine
from tests.conftest import ApiClient, read_bundle
from tests.serving import Server

pytestmark = pytest.mark.slow

ISSUE = {"title": "加装电梯", "proposer_count": 30, "eligible_count": 100}
SEED = int(os.environ.get("GOVFLOW_FUZZ_SEED", "20250601"))
MAX_EXAMPLES = int(os.environ.get("GOVFLOW_FUZZ_EXAMPLES", "5"))
# content_type_conformance keeps response_schema_conformance honest: schemathesis validates a body only when
# its media type is documented, so an error sent as problem+json but documented as JSON would go unchecked.
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


# Cases per operation and mode, per caller; the last three run on SQLite only.
CALLERS = {"admin": MAX_EXAMPLES, "zhang": MAX_EXAMPLES, "wang": 2, "designer": 2, "auditor": 2}
SQLITE_ONLY = {"wang", "designer", "auditor"}


@pytest.fixture(params=list(CALLERS))
def caller(request: pytest.FixtureRequest) -> str:
    """An admin (may do everything), officials of a subdistrict and of a committee, a designer, an auditor."""
    return request.param


@pytest.fixture(autouse=True)
def _other_roles_on_sqlite_only(request: pytest.FixtureRequest) -> None:
    """Skipped before the server starts: the role's answers do not depend on the database."""
    params = getattr(request.node, "callspec", None)
    params = params.params if params else {}
    if params.get("caller") in SQLITE_ONLY and params.get("db_url") == "postgresql":
        pytest.skip("the committee official, designer and auditor are fuzzed on SQLite only")


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
def fuzz_world(api: ApiClient, petition: Engine, server: Server) -> tuple[Server, dict[str, list[str]]]:
    """The seeded database (written in-process, on the server's database) and the server answering on it."""
    return server, seeded_ids(api, petition)


@pytest.fixture
def fuzz_schema(fuzz_world: tuple[Server, dict[str, list[str]]], caller: str) -> schemathesis.BaseSchema:
    """The document as the running server serves it; the test runs once per caller (the fixture parametrizes it)."""
    server, ids = fuzz_world
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
    return schemathesis.openapi.from_url(f"{server.url}/api/v1/openapi.json", config=config)


# One test per caller with a subtest per operation and mode, each a bounded Hypothesis run (no shrinking, no
# deadline, no example database). schemathesis' own pytest loader (`from_fixture(...).parametrize()`) would
# be the shorter spelling, but 4.32 sets `request.node._nodeid`, which pytest 9.2 no longer has.
def test_no_operation_answers_5xx_or_breaks_its_documented_schema(
    fuzz_schema: schemathesis.BaseSchema,
    fuzz_world: tuple[Server, dict[str, list[str]]],
    caller: str,
    subtests: pytest.Subtests,
) -> None:
    server, _ids = fuzz_world
    operations = [result.ok() for result in fuzz_schema.get_all_operations()]  # .ok() raises on an unreadable one
    assert len(operations) >= 40
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if mode is GenerationMode.NEGATIVE and not takes_input(operation):
                continue  # nothing a request could get wrong (GET /healthz, /metrics): no negative case exists
            with subtests.test(operation=operation.label, mode=mode.value):
                fuzz(server, operation, mode, caller)


def takes_input(operation: schemathesis.APIOperation) -> bool:
    """Whether the operation reads anything a request sends: parameters, a body, or credentials."""
    parameters = (operation.path_parameters, operation.query, operation.headers, operation.cookies, operation.body)
    return any(len(p) for p in parameters) or operation.definition.raw.get("security") != []


def fuzz(server: Server, operation: schemathesis.APIOperation, mode: GenerationMode, caller: str) -> None:
    token = server.token(caller)

    @hypothesis.seed(SEED)
    @hypothesis.settings(
        max_examples=CALLERS[caller],
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        deadline=None,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
        verbosity=hypothesis.Verbosity.quiet,
    )
    @hypothesis.given(case=operation.as_strategy(mode))
    def run(case: schemathesis.Case) -> None:
        # revoking must not sign the shared token out of later cases
        revoking = case.method == "DELETE" and case.path.endswith("/auth/token")
        bearer = server.token(caller) if revoking else token
        case.call_and_validate(headers={"Authorization": f"Bearer {bearer}"}, checks=CHECKS, timeout=30)

    run()
