"""Signing in and out of the workspace: the same browser sessions as `POST /api/v1/auth/session`."""

from __future__ import annotations

from flask import Response, redirect, request

from api import auth
from engine.commands.access import SESSION
from engine.errors import GovflowError
from web import i18n
from web.messages import error_sentence
from web.workspace import bp, local_path, page, signed_in


@bp.get("/login")
def sign_in():  # noqa: ANN201
    return page("login.html", next=local_path(request.args.get("next")))


@bp.post("/login")
def sign_in_post():  # noqa: ANN201
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    target = local_path(request.form.get("next"))
    if not username or not password:
        return page("login.html", 422, next=target, username=username, notice=i18n.t("signin.missing"), tone="error")
    try:
        grant = auth.engine().sign_in(username, password, auth.client_address(), SESSION)
    except GovflowError as exc:
        return page("login.html", exc.status, next=target, username=username, notice=error_sentence(exc), tone="error")
    response = redirect(target, code=303)
    auth.start_session(response, grant)
    return response


@bp.post("/logout")
@signed_in
def sign_out() -> Response:
    response = redirect("/login", code=303)
    auth.end_session(response)
    return response
