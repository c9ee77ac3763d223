"""Org units and users: everyone reads the org tree; admins add to it and manage the people in their reach."""

from __future__ import annotations

from flask.views import MethodView

from api import auth
from api.parsing import Blueprint
from api.schemas import (
    CreatedUserSchema,
    NewHoldingSchema,
    NewOrgUnitSchema,
    NewUserSchema,
    OrgUnitChangeSchema,
    OrgUnitListSchema,
    OrgUnitSchema,
    PageArgsSchema,
    PasswordResetSchema,
    UserAccountSchema,
    UserChangeSchema,
    UserPageSchema,
    UserQuerySchema,
)

blp = Blueprint("people", __name__, url_prefix="/api/v1", description="Org units and users")


@blp.route("/org-units")
class OrgUnits(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, OrgUnitListSchema)
    def get(self, args: dict) -> dict:
        """The org tree: city, districts, subdistricts and townships, committees; by code, paged."""
        auth.current()
        return auth.engine().org_units_page(args["cursor"], args["limit"])

    @blp.arguments(NewOrgUnitSchema)
    @blp.response(201, OrgUnitSchema)
    def post(self, unit: dict) -> dict:
        """Add an org unit (admins of the parent unit)."""
        return auth.engine().add_org_unit(
            unit["code"], unit["name"], unit["level"], unit["parent"], unit["kind"], by=auth.current()
        )


@blp.route("/org-units/<string:code>")
class OrgUnit(MethodView):
    @blp.arguments(OrgUnitChangeSchema)
    @blp.response(200, OrgUnitSchema)
    def patch(self, change: dict, code: str) -> dict:
        """Rename an org unit (admins of the unit or above it); audited."""
        return auth.engine().rename_org_unit(code, change["name"], by=auth.current())


@blp.route("/users")
class Users(MethodView):
    @blp.arguments(UserQuerySchema, location="query")
    @blp.response(200, UserPageSchema)
    def get(self, args: dict) -> dict:
        """The users the admin manages (every role within the admin's reach), by username, paged; filtered
        by an org unit (a role there or below), a role, and whether they are enabled."""
        return auth.engine().list_users(auth.current(), **args)

    @blp.arguments(NewUserSchema)
    @blp.response(201, CreatedUserSchema)
    def post(self, user: dict) -> dict:
        """Add a user holding roles at org units (admins of those units)."""
        return auth.engine().add_user(
            user["username"],
            user["password"],
            [(h["role"], h["org_unit"]) for h in user["roles"]],
            user["display_name"],
            by=auth.current(),
        )


@blp.route("/users/<string:username>")
class User(MethodView):
    @blp.response(200, UserAccountSchema)
    def get(self, username: str) -> dict:
        """One user: whether enabled, and every role held with its org unit (their admins)."""
        return auth.engine().get_user(username, auth.current())

    @blp.arguments(UserChangeSchema)
    @blp.response(200, UserAccountSchema)
    def patch(self, change: dict, username: str) -> dict:
        """Change a user's display name (their admins); audited."""
        return auth.engine().rename_user(username, change["display_name"], auth.current())


@blp.route("/users/<string:username>/disable")
class DisableUser(MethodView):
    @blp.response(200, UserAccountSchema)
    def post(self, username: str) -> dict:
        """Disable a user: no sign-in, and their tokens and sessions stop working at once; audited."""
        return auth.engine().disable_user(username, auth.current())


@blp.route("/users/<string:username>/enable")
class EnableUser(MethodView):
    @blp.response(200, UserAccountSchema)
    def post(self, username: str) -> dict:
        """Enable a disabled user; they sign in again (old tokens stay revoked); audited."""
        return auth.engine().enable_user(username, auth.current())


@blp.route("/users/<string:username>/password")
class UserPassword(MethodView):
    @blp.arguments(PasswordResetSchema)
    @blp.response(200, UserAccountSchema)
    def post(self, body: dict, username: str) -> dict:
        """Reset a user's password (their admins): their tokens and sessions end; audited, the password not."""
        return auth.engine().reset_password(username, body["password"], auth.current())


@blp.route("/users/<string:username>/roles")
class UserRoles(MethodView):
    @blp.arguments(NewHoldingSchema)
    @blp.response(200, UserAccountSchema)
    def post(self, holding: dict, username: str) -> dict:
        """The user holds one more role at an org unit (admins of the user and of that unit); audited."""
        return auth.engine().grant_role(username, holding["role"], holding["org_unit"], auth.current())


@blp.route("/users/<string:username>/roles/<string:role>/<string:org_unit>")
class UserRole(MethodView):
    @blp.response(200, UserAccountSchema)
    def delete(self, username: str, role: str, org_unit: str) -> dict:
        """The user no longer holds that role at that org unit (a user keeps at least one); audited."""
        return auth.engine().revoke_role(username, role, org_unit, auth.current())
