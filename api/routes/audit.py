"""The audit trail: events across instances, and verification of the hash chains."""

from __future__ import annotations

from flask.views import MethodView

from api import auth
from api.parsing import Blueprint
from api.schemas import (
    AuditEventPageSchema,
    AuditQuerySchema,
    ExportKeySchema,
    PurgeSchema,
    RetentionInSchema,
    RetentionSchema,
    SavedSearchInSchema,
    SavedSearchListSchema,
    SavedSearchSchema,
    StatisticsArgsSchema,
    StatisticsSchema,
    TombstoneListSchema,
    VerificationRequestSchema,
    VerificationRunListSchema,
    VerificationRunSchema,
    VerificationSchema,
    VerifyArgsSchema,
)
from engine.errors import NotAllowed
from engine.roles import ADMIN, AUDITOR

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


@blp.route("/audit/verifications")
class Verifications(MethodView):
    @blp.response(200, VerificationRunListSchema)
    def get(self) -> dict:
        """The caller's latest verifications run in the background, newest first."""
        return {"items": auth.engine().verifications(auth.current())}

    @blp.arguments(VerificationRequestSchema)
    @blp.response(202, VerificationRunSchema)
    def post(self, body: dict) -> dict:
        """Ask for the hash chains (one instance, or all within the caller's reach) to be replayed in the
        background by `govflow worker`; read the result at /audit/verifications/{id}."""
        return auth.engine().request_verification(auth.current(), body["instance_id"])


@blp.route("/audit/verifications/<string:verification_id>")
class VerificationRun(MethodView):
    @blp.response(200, VerificationRunSchema)
    def get(self, verification_id: str) -> dict:
        """A verification the caller asked for: its progress (rows checked) and, once done, its result."""
        return auth.engine().verification(auth.current(), verification_id)


# --- the auditor workspace: saved searches, statistics, retention, the purge, the signing key ----------


@blp.route("/audit/saved-searches")
class SavedSearches(MethodView):
    @blp.response(200, SavedSearchListSchema)
    def get(self) -> dict:
        """The caller's saved instance searches (auditors and admins)."""
        return {"items": auth.engine().saved_searches(auth.current())}

    @blp.arguments(SavedSearchInSchema)
    @blp.response(201, SavedSearchSchema)
    def post(self, body: dict) -> dict:
        """Save a search under a name (the same name replaces it); filters are those of GET /process-instances."""
        return auth.engine().save_search(auth.current(), body["name"], body["filters"])


@blp.route("/audit/saved-searches/<int:search_id>")
class SavedSearch(MethodView):
    @blp.response(204)
    def delete(self, search_id: int) -> None:
        """Delete one of the caller's saved searches."""
        auth.engine().delete_saved_search(auth.current(), search_id)


@blp.route("/audit/statistics")
class Statistics(MethodView):
    @blp.arguments(StatisticsArgsSchema, location="query")
    @blp.response(200, StatisticsSchema)
    def get(self, args: dict) -> dict:
        """Instances by status, step durations (median, p90), overdue rates, committee task load."""
        return auth.engine().procedure_statistics(auth.current(), **args)


@blp.route("/audit/retention")
class Retention(MethodView):
    @blp.response(200, RetentionSchema)
    def get(self) -> dict:
        """How long finished instances are kept (days; null: for ever). Auditors and admins."""
        principal = auth.current()
        if not principal.person.has_role(AUDITOR) and not principal.person.has_role(ADMIN):
            raise NotAllowed("Only auditors and admins read the retention setting.")
        return auth.engine().retention()

    @blp.arguments(RetentionInSchema)
    @blp.response(200, RetentionSchema)
    def put(self, body: dict) -> dict:
        """Set how long finished instances are kept (admins at city level); audited."""
        return auth.engine().set_retention(auth.current(), body["days"])


@blp.route("/audit/purge")
class Purge(MethodView):
    @blp.response(200, PurgeSchema)
    def post(self) -> dict:
        """Remove the instances finished longer ago than the retention (admins at city level), leaving
        a tombstone per instance and an `instances_purged` event on the system chain."""
        return auth.engine().purge_finished(auth.current())


@blp.route("/audit/tombstones")
class Tombstones(MethodView):
    @blp.response(200, TombstoneListSchema)
    def get(self) -> dict:
        """The most recently purged instances: what their audit chains were."""
        return {"items": auth.engine().tombstones(auth.current())}


@blp.route("/audit/export-key")
class ExportKey(MethodView):
    @blp.response(200, ExportKeySchema)
    def get(self) -> dict:
        """The public key case exports are signed with: keep it to check exports offline."""
        auth.current()
        return auth.engine().export_public_key()
