"""The Flask app factory: the engine and the database come from config; no globals."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify
from sqlalchemy import text

from engine import Engine
from engine.config import Settings


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(config or {})
    engine = app.config.get("GOVFLOW_ENGINE") or Engine(
        Settings.from_env(database_url=app.config.get("GOVFLOW_DATABASE_URL"))
    )
    app.extensions["govflow"] = engine

    @app.get("/api/v1/healthz")
    def healthz():  # noqa: ANN202
        with engine.reading() as session:
            session.execute(text("SELECT 1"))
        return jsonify(status="ok", database=engine.dialect)

    @app.get("/")
    def home():  # noqa: ANN202
        return (
            "<!doctype html><html lang='zh-CN'><meta charset='utf-8'><title>govflow</title>"
            "<h1>govflow 基层治理流程引擎</h1><p>REST API: <a href='/api/v1/healthz'>/api/v1/healthz</a></p></html>"
        )

    return app
