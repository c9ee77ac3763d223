"""Every error as application/problem+json, mapped once; never a traceback in a response."""

from __future__ import annotations

import logging
from http import HTTPStatus

from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException

from engine.errors import BundleInvalid, FormInvalid, GovflowError

log = logging.getLogger("govflow.api")
PROBLEM = "application/problem+json"


def problem(status: int, detail: str, errors: list[dict] | None = None, **extra: object) -> Response:
    body: dict = {
        "type": f"https://govflow.example/problems/{status}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM)
    return response


def _field_errors(messages: object, prefix: str = "") -> list[dict]:
    """Flatten webargs' nested {"json": {"field": ["message"]}} into [{field, message}]."""
    errors: list[dict] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if prefix == "" and key in {"json", "query", "form", "files", "headers", "view_args"}:
                errors.extend(_field_errors(value, ""))
            else:
                errors.extend(_field_errors(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(messages, list):
        for message in messages:
            if isinstance(message, dict | list):
                errors.extend(_field_errors(message, prefix))
            else:
                errors.append({"field": prefix or "(body)", "message": str(message)})
    else:
        errors.append({"field": prefix or "(body)", "message": str(messages)})
    return errors


def handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    if messages is not None:
        if status == 400 and "Invalid JSON body." in str(messages):
            return problem(400, "The request body is not valid JSON.")
        return problem(422, "The request does not match what this endpoint expects.", _field_errors(messages))
    detail = {
        404: "There is nothing at this address.",
        405: "This address does not accept that method.",
        413: "The request body is too large.",
        415: "The request body must be JSON (Content-Type: application/json).",
    }.get(status) or (error.description or HTTPStatus(status).phrase)
    response = problem(status, detail)
    if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def handle_govflow_error(error: GovflowError) -> Response:
    if isinstance(error, BundleInvalid):
        return problem(422, str(error), [p.as_dict() for p in error.problems])
    if isinstance(error, FormInvalid):
        return problem(
            422, "The form has errors; see the message next to each field.", [e.as_dict() for e in error.errors]
        )
    response = problem(error.status, str(error), **({"code": error.code} if error.code else {}))
    retry_after = getattr(error, "retry_after", None)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="govflow"'
    return response


def handle_unexpected(error: Exception) -> Response:
    log.exception("unexpected error", exc_info=error)
    return problem(500, "Something went wrong on our side; the request changed nothing. It has been logged.")


def register(app: Flask) -> None:
    app.register_error_handler(GovflowError, handle_govflow_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
