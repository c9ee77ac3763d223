"""Who is calling: a bearer token, or a browser session cookie plus its CSRF header on writes."""

from __future__ import annotations

from flask import Flask, Response, current_app, g, request

from engine import Engine, Principal
from engine.commands.access import BEARER, SESSION, Grant
from engine.errors import GovflowError
from engine.models import utcnow

SESSION_COOKIE = "govflow_session"
CSRF_HEADER = "X-CSRF-Token"
# The workspace's pages post HTML forms: there the CSRF token travels as this field instead of the header.
CSRF_FIELD = "csrf_token"
# The session's CSRF token, kept for the workspace's pages to put in their forms (the server stores only its hash).
CSRF_COOKIE = "govflow_csrf"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
FORM_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}


class NotSignedIn(GovflowError):
    status = 401


def engine() -> Engine:
    return current_app.extensions["govflow"]


def client_address() -> str:
    # Behind a proxy, configure it to set X-Forwarded-For and wrap the app with ProxyFix.
    return request.remote_addr or "unknown"


def _resolve() -> Principal | None:
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            raise NotSignedIn("Send the token as 'Authorization: Bearer <token>'.")
        person = engine().resolve_token(raw.strip(), BEARER)
        if person is None:
            raise NotSignedIn("The token is unknown, expired or revoked; sign in again.")
        return Principal(person)
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        csrf = None if request.method in SAFE_METHODS else _sent_csrf()
        person = engine().resolve_token(raw, SESSION, csrf=csrf)
        if person is None:
            raise NotSignedIn("Your session has ended; sign in again.")
        return Principal(person)
    return None


def _sent_csrf() -> str:
    sent = request.headers.get(CSRF_HEADER)
    if not sent and request.mimetype in FORM_TYPES:
        sent = request.form.get(CSRF_FIELD)
    return sent or ""


def current_or_none() -> Principal | None:
    """The signed-in caller, or None when the request carries no credentials at all."""
    if "principal" not in g:
        g.principal = _resolve()
    return g.principal


def current() -> Principal:
    """The signed-in caller; 401 with a sentence when there is none."""
    if "principal" not in g:
        g.principal = _resolve()
    if g.principal is None:
        raise NotSignedIn("Sign in first: POST /api/v1/auth/token, then send 'Authorization: Bearer <token>'.")
    return g.principal


def seconds_left(grant: Grant) -> int:
    return int((grant.expires_at - utcnow()).total_seconds())


def start_session(response: Response, grant: Grant) -> None:
    """Hand a browser its session: the HttpOnly session cookie and the CSRF token for the pages' forms."""
    expires_in = seconds_left(grant)
    for name, value in ((SESSION_COOKIE, grant.token), (CSRF_COOKIE, grant.csrf_token or "")):
        response.set_cookie(
            name, value, max_age=expires_in, httponly=True, samesite="Lax", secure=request.is_secure, path="/"
        )


def end_session(response: Response) -> None:
    """Revoke the browser's session, if it has one, and clear its cookies."""
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        engine().revoke_token(raw)
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path="/")


def register(app: Flask) -> None:
    @app.before_request
    def _forget() -> None:
        g.pop("principal", None)
