"""Who is calling: a bearer token, or a browser session cookie plus its CSRF header on writes."""

from __future__ import annotations

from flask import Flask, current_app, g, request

from engine import Engine, Principal
from engine.commands.access import BEARER, SESSION
from engine.errors import GovflowError

SESSION_COOKIE = "govflow_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


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
        csrf = None if request.method in SAFE_METHODS else (request.headers.get(CSRF_HEADER) or "")
        person = engine().resolve_token(raw, SESSION, csrf=csrf)
        if person is None:
            raise NotSignedIn("Your session has ended; sign in again.")
        return Principal(person)
    return None


def current() -> Principal:
    """The signed-in caller; 401 with a sentence when there is none."""
    if "principal" not in g:
        g.principal = _resolve()
    if g.principal is None:
        raise NotSignedIn("Sign in first: POST /api/v1/auth/token, then send 'Authorization: Bearer <token>'.")
    return g.principal


def register(app: Flask) -> None:
    @app.before_request
    def _forget() -> None:
        g.pop("principal", None)
