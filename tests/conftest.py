"""Fixtures: one suite on a real SQLite file and a real PostgreSQL database (parametrized `db_url`)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from engine import Engine, Principal
from engine.commands.calendar import seed_calendar
from engine.config import Settings
from engine.db import make_sql_engine, normalize_url
from engine.migrate import upgrade
from engine.models import Base
from engine.reference_data import seed_procedure_data

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SHARED = ROOT.parent / "shared"
PG_URL = os.environ.get("GOVFLOW_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "secret-pass-1"

pytest_plugins = [
    "tests.serving",  # the `server` fixture: `govflow serve` on a loopback port
    "tests.procedure_desk",  # `desk`: the demo org and library, worked through the REST API
    "tests.browser",  # `chromium` and `officials`: Playwright on Debian's chromium, signed in
]


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A database of its own on the test server, migrated once, dropped at the end."""
    admin = create_engine(normalize_url(PG_URL), isolation_level="AUTOCOMMIT")
    name = f"govflow_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"PostgreSQL at {PG_URL} is needed for the postgres tests: {exc}")
    url = make_url(normalize_url(PG_URL)).set(database=name).render_as_string(hide_password=False)
    sql = make_sql_engine(url)
    upgrade(sql)
    sql.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate(url: str) -> None:
    sql = make_sql_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with sql.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} CASCADE"))
    with Session(sql) as session, session.begin():
        seed_calendar(session)  # reference data the migration seeded, as a fresh database has it
        seed_procedure_data(session)
    sql.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once; each test gets a copy (the same bytes a fresh `govflow init` writes)."""
    path = tmp_path_factory.mktemp("template") / "govflow.db"
    sql = make_sql_engine(f"sqlite:///{path}")
    upgrade(sql)
    sql.dispose()
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "govflow.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_database")
    _truncate(url)
    return url


@pytest.fixture
def engine(db_url: str, tmp_path: Path) -> Iterator[Engine]:
    settings = Settings(database_url=db_url, script_time_limit=1.0, password_profile="fast", data_dir=str(tmp_path))
    eng = Engine(settings)
    yield eng
    eng.close()


@pytest.fixture
def org(engine: Engine) -> Engine:
    """A small org tree: city, district, subdistrict with two committees, township with a village."""
    return populate(engine)


def populate(engine: Engine) -> Engine:
    """The `org` fixture's units and people, put into any engine's database."""
    for code, name, level, parent, kind in [
        ("sh", "上海市", "city", None, None),
        ("hp", "黄浦区", "district", "sh", None),
        ("wlq", "五里桥街道", "subdistrict", "hp", None),
        ("qiaoyi", "桥一居委会", "committee", "wlq", "residents"),
        ("ruinan", "瑞南居委会", "committee", "wlq", "residents"),
        ("njdl", "南京东路街道", "subdistrict", "hp", None),
        ("yunnan", "云南居委会", "committee", "njdl", "residents"),
        ("fx", "奉贤区", "district", "sh", None),
        ("zh", "庄行镇", "township", "fx", None),
        ("xinye", "新叶村村委会", "committee", "zh", "villagers"),
    ]:
        engine.add_org_unit(code, name, level, parent, kind)
    for username, role, unit in [
        ("wang", "residents_committee", "qiaoyi"),
        ("chen", "residents_committee", "ruinan"),
        ("zhang", "subdistrict_office", "wlq"),
        ("liu", "subdistrict_office", "wlq"),
        ("wu", "subdistrict_office", "njdl"),
        ("shen", "villagers_committee", "xinye"),
        ("qian", "township_government", "zh"),
        ("designer", "designer", "sh"),
        ("auditor", "auditor", "sh"),
        ("admin", "admin", "sh"),
    ]:
        engine.add_user(username, PASSWORD, [(role, unit)])
    return engine


def read_bundle(*names: str, folder: Path = DATA / "engine") -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in names}


PETITION_BUNDLE = (
    "petition_review.bpmn",
    "petition_class.dmn",
    "petition_register.form.json",
    "petition_review_form.form.json",
)


@pytest.fixture
def petition(org: Engine) -> Engine:
    """The org plus the petition-review bundle deployed by a designer."""
    org.deploy(read_bundle(*PETITION_BUNDLE), by=org.principal("designer"))
    return org


def who(engine: Engine, username: str) -> Principal:
    return engine.principal(username)


# --- the REST API -------------------------------------------------------------------------------


class ApiClient:
    """Flask's test client with a bearer token per official."""

    def __init__(self, app) -> None:  # noqa: ANN001
        self.app = app
        self.http = app.test_client()
        self.tokens: dict[str, str] = {}

    def token(self, username: str) -> str:
        if username not in self.tokens:
            response = self.http.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
            assert response.status_code == 200, response.json
            self.tokens[username] = response.json["access_token"]
        return self.tokens[username]

    def call(self, method: str, path: str, as_user: str | None = None, **kwargs):  # noqa: ANN201
        headers = kwargs.pop("headers", {})
        if as_user:
            headers["Authorization"] = f"Bearer {self.token(as_user)}"
        return self.http.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)

    def get(self, path: str, as_user: str | None = None, **kwargs):  # noqa: ANN201
        return self.call("GET", path, as_user, **kwargs)

    def post(self, path: str, as_user: str | None = None, **kwargs):  # noqa: ANN201
        return self.call("POST", path, as_user, **kwargs)


@pytest.fixture
def api(petition: Engine) -> ApiClient:
    from api import create_app

    return ApiClient(create_app({"GOVFLOW_ENGINE": petition, "TESTING": True}))


def problem_of(response) -> dict:  # noqa: ANN001
    """The problem+json body of an error response, after checking it is one."""
    assert response.mimetype == "application/problem+json", (response.status_code, response.data[:300])
    body = response.json
    assert body["status"] == response.status_code
    assert body["detail"] and "Traceback" not in body["detail"]
    return body


# --- the engine's clock (time and events) ---------------------------------------------------------


@pytest.fixture
def clock() -> Iterator[object]:
    """engine.clock, frozen at the real now for the test: `clock.advance(timedelta(days=8))` moves it."""
    from engine import clock as engine_clock

    engine_clock.freeze()
    yield engine_clock
    engine_clock.reset()
