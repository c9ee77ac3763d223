"""Walking the shipped procedures through the REST API as the demo officials would."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from engine import Engine
from engine.config import Settings
from engine.db import make_sql_engine, normalize_url
from engine.demo import DEMO_PASSWORD, load_demo
from engine.migrate import upgrade

PG_URL = os.environ.get("GOVFLOW_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


class Desk:
    """The REST API signed in as demo officials; steps are found by element id, as an official sees them."""

    def __init__(self, app) -> None:  # noqa: ANN001
        self.http = app.test_client()
        self.tokens: dict[str, str] = {}

    def call(self, method: str, path: str, as_user: str | None = None, **kwargs):  # noqa: ANN201
        headers = kwargs.pop("headers", {})
        if as_user:
            headers["Authorization"] = f"Bearer {self.token(as_user)}"
        return self.http.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)

    def get(self, path: str, as_user: str | None = None, **kwargs):  # noqa: ANN201
        return self.call("GET", path, as_user, **kwargs)

    def post(self, path: str, as_user: str | None = None, **kwargs):  # noqa: ANN201
        return self.call("POST", path, as_user, **kwargs)

    def token(self, username: str) -> str:
        if username not in self.tokens:
            response = self.http.post("/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD})
            assert response.status_code == 200, response.json
            self.tokens[username] = response.json["access_token"]
        return self.tokens[username]

    def start(self, user: str, key: str, org_unit: str, **variables) -> dict:
        response = self.post(
            "/process-instances", user, json={"process_key": key, "org_unit": org_unit, "variables": variables}
        )
        assert response.status_code == 201, response.json
        return response.json

    def open_tasks(self, instance_id: str) -> list[dict]:
        response = self.get(f"/process-instances/{instance_id}", "admin")
        assert response.status_code == 200, response.json
        return response.json["tasks"]

    def task(self, instance_id: str, element_id: str, org_unit: str | None = None) -> dict:
        found = [
            t
            for t in self.open_tasks(instance_id)
            if t["element_id"] == element_id and (org_unit is None or t["candidate"]["org_unit"] == org_unit)
        ]
        if not found:
            shown = self.instance(instance_id)
            waiting = [t["element_id"] for t in shown["tasks"]]
            raise AssertionError(f"no open {element_id} in {waiting}; the instance is {shown['status']}")
        return found[0]

    def work(self, user: str, instance_id: str, element_id: str, data: dict, org_unit: str | None = None) -> dict:
        task = self.task(instance_id, element_id, org_unit)
        response = self.post(f"/tasks/{task['id']}/complete", user, json={"data": data})
        assert response.status_code == 200, (element_id, response.json)
        assert response.json["instance"]["status"] != "failed", response.json["instance"]
        return response.json

    def fire(self, instance_id: str, element_id: str) -> dict:
        jobs = self.get(f"/process-instances/{instance_id}/jobs", "admin").json["items"]
        job = next((j for j in jobs if j["element_id"] == element_id), None)
        assert job is not None, f"no timer {element_id} waits: {[j['element_id'] for j in jobs]}"
        response = self.post(f"/process-instances/{instance_id}/jobs/{job['id']}/execute", "admin")
        assert response.status_code == 200, response.json
        return response.json

    def instance(self, instance_id: str) -> dict:
        return self.get(f"/process-instances/{instance_id}", "admin").json

    def ended_at(self, instance_id: str) -> list[str]:
        """The end events the instance reached, from its history."""
        history = self.get(f"/process-instances/{instance_id}/history?limit=500", "admin").json
        assert history["next_cursor"] is None, "more than 500 events: follow next_cursor"
        return [e["element_id"] for e in history["items"] if e["action"] == "end_event_reached"]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def demo_desk(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    """The demo on a database of the module's own, loaded once: for scenario tests that each work their
    own cases and read back only what those cases wrote (by instance id), so sharing it keeps them
    independent and saves loading the demo for every test."""
    from api import create_app

    if request.param == "sqlite":
        url, drop = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'govflow.db'}", None
        sql = make_sql_engine(url)
        upgrade(sql)
        sql.dispose()
    else:
        url, drop = private_pg_database()
    engine = Engine(Settings(database_url=url, script_time_limit=1.0, password_profile="fast"))
    try:
        load_demo(engine)
        yield Desk(create_app({"GOVFLOW_ENGINE": engine, "TESTING": True}))
    finally:
        engine.close()
        if drop is not None:
            drop()


def private_pg_database() -> tuple[str, Callable[[], None]]:
    """A migrated PostgreSQL database for one module, and the function that drops it."""
    admin = create_engine(normalize_url(PG_URL), isolation_level="AUTOCOMMIT")
    name = f"govflow_demo_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalize_url(PG_URL)).set(database=name).render_as_string(hide_password=False)
    sql = make_sql_engine(url)
    upgrade(sql)
    sql.dispose()

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


@pytest.fixture
def desk(engine: Engine) -> Desk:
    from api import create_app

    load_demo(engine)
    return Desk(create_app({"GOVFLOW_ENGINE": engine, "TESTING": True}))
