"""The one blueprint of the browser workspace and what every page shares: who is signed in, the
layout's context, HTML (not problem+json) for errors, and the CSRF token the pages' forms carry.

The inbox, and later the designer studio and the auditor workspace, add their routes to `bp` in
modules of their own (web/inbox.py, web/tasks.py ...) and render with `page()`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, g, jsonify, redirect, render_template, request, url_for

from api import auth
from engine import Engine, Principal
from engine.errors import GovflowError
from web import i18n

log = logging.getLogger("govflow.web")

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/static/web")


def engine() -> Engine:
    return auth.engine()


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def wants_json() -> bool:
    return request.is_json or request.accept_mimetypes.best == "application/json"


def me() -> Principal:
    """The signed-in official (pages are reached only through `signed_in`)."""
    return g.principal


def signed_in(view: Callable[..., Any]) -> Callable[..., Any]:
    """Pages for signed-in users only: others go to the sign-in page and come back afterwards."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            principal = auth.current_or_none()
        except auth.NotSignedIn:
            principal = None
        if principal is None or principal.person is None:
            return to_sign_in()
        return view(*args, **kwargs)

    return guarded


def holders_of(roles: tuple[str, ...], refusal_key: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A decorator for the pages of an area: signed in, and holding one of `roles`; others get a 403 page
    saying the catalogue's `refusal_key` sentence."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @signed_in
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            person = me().person
            if not any(person.has_role(role) for role in roles):
                return error_response(i18n.t(refusal_key), 403)
            return view(*args, **kwargs)

        return guarded

    return decorator


def to_sign_in() -> Response:
    back = request.full_path if request.method == "GET" and not is_htmx() else (request.referrer or "/")
    target = url_for("web.sign_in", next=local_path(back))
    if is_htmx():
        response = Response(status=204)
        response.headers["HX-Redirect"] = target
        return response
    if wants_json():
        response = jsonify(ok=False, message=i18n.t("signin.ended"), redirect=target)
        response.status_code = 401
        return response
    return redirect(target)


def local_path(target: str | None, default: str = "/inbox") -> str:
    """Only paths on this site, never another host (an open redirect)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or target.startswith("//"):
        return default
    return target.rstrip("?") or default


def csrf_token() -> str:
    return request.cookies.get(auth.CSRF_COOKIE, "")


def page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(template, **context), status


def query_with(**changes: Any) -> str:
    """The current query string with some arguments changed (None removes one)."""
    args = {k: v for k, v in request.args.items() if k not in changes}
    args.update({k: v for k, v in changes.items() if v not in (None, "")})
    return urlencode(args)


@bp.app_context_processor
def layout_context() -> dict[str, Any]:
    principal = g.get("principal")
    person = principal.person if principal is not None else None
    return {
        "t": i18n.t,
        "lang": i18n.language(),
        "languages": i18n.LANGUAGES,
        "when": i18n.when,
        "role_label": i18n.role_label,
        "person": person,
        "holdings": _holdings(person) if person else [],
        "csrf_token": csrf_token(),
        "csrf_field": auth.CSRF_FIELD,
        "query_with": query_with,
        "vendor": _vendor_url,
    }


def _vendor_url(package: str, path: str) -> str:
    from web import assets

    return assets.url(package, path)


def _holdings(person: Any) -> list[dict[str, str]]:
    """The user's roles and units as the header shows them: "居民委员会 · 桥一居委会"."""
    if "holdings" not in g:
        names = engine().org_unit_names(h.org_code for h in person.holdings)
        g.holdings = [
            {"role": i18n.role_label(h.role), "unit": names.get(h.org_code, h.org_code)} for h in person.holdings
        ]
    return g.holdings


@bp.after_app_request
def remember_language(response: Response) -> Response:
    asked = request.args.get("lang")
    if asked in i18n.LANGUAGES and request.cookies.get(i18n.LANG_COOKIE) != asked:
        response.set_cookie(i18n.LANG_COOKIE, asked, max_age=365 * 24 * 3600, samesite="Lax", path="/")
    if request.blueprint == "web":
        response.headers.setdefault("Content-Language", i18n.language())
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


# --- errors as pages, fragments or JSON (never problem+json, never a traceback) ---------------------


def sentence(error: GovflowError) -> str:
    from web.messages import error_sentence

    return error_sentence(error)


@bp.errorhandler(GovflowError)
def govflow_error(error: GovflowError) -> Any:
    if isinstance(error, auth.NotSignedIn):
        return to_sign_in()
    return error_response(sentence(error), error.status)


@bp.errorhandler(404)
def not_found(_error: Exception) -> Any:
    return error_response(i18n.t("error.not_found"), 404)


@bp.errorhandler(Exception)
def unexpected(error: Exception) -> Any:
    from werkzeug.exceptions import HTTPException

    if isinstance(error, HTTPException):
        return error_response(error.description or i18n.t("error.unexpected"), error.code or 500)
    log.exception("unexpected error in the workspace", exc_info=error)
    return error_response(i18n.t("error.unexpected"), 500)


def error_response(message: str, status: int) -> Any:
    if wants_json():
        response = jsonify(ok=False, message=message)
        response.status_code = status
        return response
    if is_htmx():
        return page("_notice.html", status, notice=message, tone="error")
    return page("error.html", status, message=message)
