"""Signing in and out: bearer tokens for systems and scripts, session cookies for the browser."""

from __future__ import annotations

from flask import Response, jsonify, request
from flask.views import MethodView

from api import auth
from api.parsing import Blueprint
from api.schemas import CredentialsSchema, SessionSchema, TokenSchema, UserSchema
from engine.commands.access import BEARER, SESSION
from engine.errors import RuleBroken
from engine.models import utcnow
from engine.people import Person

blp = Blueprint("auth", __name__, url_prefix="/api/v1", description="Sign in, who am I, sign out")


def user_shape(person: Person) -> dict:
    return {
        "username": person.username,
        "display_name": person.display_name,
        "org_unit": person.holdings[0].org_code if person.holdings else None,
        "roles": sorted({h.role for h in person.holdings}),
        "holdings": [{"role": h.role, "org_unit": h.org_code} for h in person.holdings],
    }


@blp.route("/auth/token")
class Token(MethodView):
    @blp.arguments(CredentialsSchema)
    @blp.response(200, TokenSchema)
    def post(self, creds: dict) -> dict:
        """Exchange a username and password for an expiring bearer token (rate-limited on failures)."""
        grant = auth.engine().sign_in(creds["username"], creds["password"], auth.client_address(), BEARER)
        return {
            "access_token": grant.token,
            "token_type": "Bearer",
            "expires_in": int((grant.expires_at - utcnow()).total_seconds()),
            "user": user_shape(grant.person),
        }

    @blp.response(204)
    def delete(self) -> None:
        """Revoke the bearer token this request carries (a browser signs out with DELETE /auth/session)."""
        auth.current()
        raw = request.headers.get("Authorization", "").partition(" ")[2].strip()
        if not raw:  # signed in by a session cookie: a 204 here would claim a sign-out that did not happen
            raise RuleBroken(
                "This request carries no bearer token to revoke; a browser signs out with DELETE /api/v1/auth/session."
            )
        auth.engine().revoke_token(raw)


@blp.route("/auth/session")
class BrowserSession(MethodView):
    @blp.arguments(CredentialsSchema)
    @blp.response(200, SessionSchema)
    def post(self, creds: dict) -> Response:
        """Sign in a browser: sets an HttpOnly session cookie; send csrf_token as X-CSRF-Token on writes."""
        grant = auth.engine().sign_in(creds["username"], creds["password"], auth.client_address(), SESSION)
        expires_in = auth.seconds_left(grant)
        response = jsonify(csrf_token=grant.csrf_token, expires_in=expires_in, user=user_shape(grant.person))
        auth.start_session(response, grant)
        return response

    @blp.response(204)
    def delete(self) -> Response:
        """Sign the browser out: the session is revoked and the cookie cleared."""
        response = Response(status=204)
        auth.end_session(response)
        return response


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, UserSchema)
    def get(self) -> dict:
        """The signed-in user with the roles they hold and where."""
        return user_shape(auth.current().person)
