"""The Flask app factory: the engine and the database come from config; no globals."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from flask import Flask, Request, Response, jsonify, request, send_from_directory
from flask.views import MethodView
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from sqlalchemy import text
from swagger_ui_bundle import swagger_ui_path
from werkzeug.exceptions import RequestEntityTooLarge

import web
from api import auth, errors, metrics
from api.parsing import Blueprint
from api.routes import access, audit, calendar, deployments, events, instances, people, procedures, studio, tasks
from api.schemas import HealthSchema, ProblemSchema
from engine import Engine
from engine.config import Settings

# Uploads (deployment bundles) may be large; every other body is JSON and small.
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_JSON_BYTES = 1024 * 1024
# Saving a draft sends its files' text as JSON: as large as an upload may be.
LARGE_JSON_ENDPOINTS = {"studio.OneDraft"}

health = Blueprint("health", __name__, url_prefix="/api/v1", description="Health")


def health_report() -> dict:
    """{status, database} once the database has answered; 503 (DatabaseUnavailable) when it does not."""
    engine = auth.engine()
    with engine.reading() as session:
        session.execute(text("SELECT 1"))
    return {"status": "ok", "database": engine.dialect}


@health.route("/healthz")
class Health(MethodView):
    @health.doc(security=[])
    @health.response(200, HealthSchema)
    def get(self) -> dict:
        """Whether the API can reach its database (also at /healthz, outside /api/v1, for load balancers)."""
        return health_report()


@health.route("/metrics")
class Metrics(MethodView):
    @health.doc(security=[])
    @health.response(
        200,
        {"type": "string"},
        content_type="text/plain",
        description="Prometheus text format: requests and latency per endpoint, tasks completed, instances by status",
    )
    def get(self) -> Response:
        """Prometheus metrics; no sign-in (also at /metrics, outside /api/v1, where Prometheus looks by default)."""
        return metrics.exposition()


class GovflowApi(Api):
    """flask-smorest's Api, with errors rendered and documented as problem+json like every other error."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error):  # noqa: ANN001, ANN201 - flask-smorest's hook
        return errors.handle_http_exception(error)

    def _register_responses(self) -> None:  # flask-smorest's hook
        """The error responses the operations refer to, as api/errors.py sends them: problem+json.

        flask-smorest would document them as application/json with its own {code, status, message} schema.
        """
        for status in HTTPStatus:
            response: dict = {"description": status.phrase}
            if status >= 400:
                response["schema"] = ProblemSchema
            prepare_response(response, self.spec, errors.PROBLEM)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Any error, as problem+json", "schema": ProblemSchema}
        prepare_response(response, self.spec, errors.PROBLEM)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


def nul_fields(req: Request) -> list[str]:
    """Where the request carries a NUL character or a lone UTF-16 surrogate (text no database or XML file
    can hold): "(path)", query argument names, JSON field paths."""
    found = ["(path)"] if "\x00" in req.path else []
    found += sorted({key for key, value in req.args.items(multi=True) if "\x00" in key + value})
    data = req.get_data() if req.is_json else b""
    if b"\\u0000" in data or b"\\ud" in data.lower():
        found += _nul_paths(req.get_json(silent=True), "")
    return found


def _unstorable(text: str) -> bool:
    return "\x00" in text or any("\ud800" <= char <= "\udfff" for char in text)


def _nul_paths(value: object, path: str) -> list[str]:
    if isinstance(value, str):
        return [path or "(body)"] if _unstorable(value) else []
    if isinstance(value, dict):
        items = [(f"{path}.{key}" if path else str(key), key, item) for key, item in value.items()]
        return [p for label, key, item in items for p in ([label] if _unstorable(key) else _nul_paths(item, label))]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in _nul_paths(item, f"{path}[{index}]")]
    return []


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        API_TITLE="govflow",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/api/v1/docs/assets/",
        MAX_CONTENT_LENGTH=MAX_UPLOAD_BYTES,
        JSON_AS_ASCII=False,
    )
    app.config.update(config or {})
    app.json.ensure_ascii = False
    engine = app.config.get("GOVFLOW_ENGINE") or Engine(
        Settings.from_env(database_url=app.config.get("GOVFLOW_DATABASE_URL"))
    )
    app.extensions["govflow"] = engine

    api = GovflowApi(
        app,
        spec_kwargs={
            "info": {"description": "govflow REST API: deploy procedures, run instances, work tasks, audit."},
        },
    )
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    api.spec.components.security_scheme(
        "sessionCookie", {"type": "apiKey", "in": "cookie", "name": auth.SESSION_COOKIE}
    )
    api.spec.options["security"] = [{"bearerAuth": []}, {"sessionCookie": []}]
    blueprints = (health, access.blp, people.blp, calendar.blp, deployments.blp, instances.blp, tasks.blp, audit.blp)
    blueprints += (procedures.blp,)
    blueprints += (events.blp,)  # time and events: POST /messages, GET /jobs
    blueprints += (studio.blp,)  # the designer studio: library, drafts, diffs, migrations
    for blueprint in blueprints:
        api.register_blueprint(blueprint)

    errors.register(app)
    auth.register(app)
    metrics.register(app)

    @app.before_request
    def _limit_json_bodies() -> None:
        if request.mimetype == "multipart/form-data":
            return
        limit = MAX_UPLOAD_BYTES if request.endpoint in LARGE_JSON_ENDPOINTS else MAX_JSON_BYTES
        # A declared Content-Length over the limit is answered 413 before anything is read. A chunked body
        # declares none: read it here, one byte past the limit at most, and count what was read (werkzeug
        # would quietly cut it at the limit). The body stays cached for the handler.
        request.max_content_length = limit
        if request.content_length is None:
            request.max_content_length = limit + 1
            if len(request.get_data(cache=True)) > limit:
                raise RequestEntityTooLarge()

    @app.before_request
    def _refuse_nul_characters():  # noqa: ANN202
        # PostgreSQL cannot store U+0000 in text and its driver fails the whole statement; refuse it up front
        # so both databases answer the same 422 instead of a 500.
        fields = nul_fields(request)
        if fields:
            message = "Text may not contain the NUL character (U+0000) or a lone surrogate (U+D800 to U+DFFF)."
            return errors.problem(422, message, [{"field": f, "message": message} for f in fields])
        return None

    @app.get("/healthz")
    def root_health():  # noqa: ANN202 - load balancers probe the root; the same answer as /api/v1/healthz
        return jsonify(health_report())

    @app.get("/api/v1/docs/assets/<path:filename>")
    def swagger_assets(filename: str):  # noqa: ANN202
        return send_from_directory(swagger_ui_path, filename)

    # --- the browser workspace (web/): its pages, sign-in and static files ---------------------------
    web.register(app)

    return app
