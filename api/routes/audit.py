"""The audit trail: events across instances, and verification of the hash chains."""

from __future__ import annotations

from flask.views import MethodView

from api import auth
from api.parsing import Blueprint
from api.schemas import AuditEventPageSchema, AuditQuerySchema, VerificationSchema, VerifyArgsSchema

blp = Blueprint("audit", __name__, url_prefix="/api/v1", description="Audit events and verification")


@blp.route("/audit/events")
class Events(MethodView):
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, AuditEventPageSchema)
    def get(self, args: dict) -> dict:
        """Audit events within the caller's reach, oldest first, filtered and paged."""
        return auth.engine().audit_events(
            auth.current(),
            instance_id=args["instance_id"],
            actor=args["actor"],
            action=args["action"],
            at_from=args["from_"],
            at_to=args["to"],
            cursor=args["cursor"],
            limit=args["limit"],
        )


@blp.route("/audit/verify")
class Verify(MethodView):
    @blp.arguments(VerifyArgsSchema, location="query")
    @blp.response(200, VerificationSchema)
    def get(self, args: dict) -> dict:
        """Recompute the hash chains (one instance or everything) and name the broken rows."""
        return auth.engine().verify(auth.current(), args["instance_id"])
