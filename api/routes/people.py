"""Org units and users: everyone reads the org tree; admins add to it."""

from __future__ import annotations

from flask.views import MethodView

from api import auth
from api.parsing import Blueprint
from api.schemas import (
    CreatedUserSchema,
    NewOrgUnitSchema,
    NewUserSchema,
    OrgUnitListSchema,
    OrgUnitSchema,
    PageArgsSchema,
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


@blp.route("/users")
class Users(MethodView):
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
