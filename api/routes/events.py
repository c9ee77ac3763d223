"""Time and events: messages correlated to the case waiting for them, and every job (admins)."""

from __future__ import annotations

from flask.views import MethodView

from api import auth
from api.parsing import Blueprint
from api.schemas import CorrelatedSchema, CorrelateSchema, JobListSchema, JobQuerySchema

blp = Blueprint("events", __name__, url_prefix="/api/v1", description="Messages and jobs")


@blp.route("/messages")
class Messages(MethodView):
    @blp.arguments(CorrelateSchema)
    @blp.response(200, CorrelatedSchema)
    @blp.alt_response(201, schema=CorrelatedSchema, description="The message started a new case")
    def post(self, body: dict) -> tuple[dict, int]:
        """Deliver a message to the one case waiting for it (by business_key or process variables), or
        start the processes whose start event catches it; 409 when nothing waits for it."""
        instance, started = auth.engine().correlate_message(
            body["name"],
            body["correlation"],
            body["payload"],
            by=auth.current(),
            org_unit=body["org_unit"],
            business_key=body["business_key"],
        )
        return {"started": started, "instance": instance}, 201 if started else 200


@blp.route("/jobs")
class Jobs(MethodView):
    @blp.arguments(JobQuerySchema, location="query")
    @blp.response(200, JobListSchema)
    def get(self, args: dict) -> dict:
        """Every job within the admin's reach, soonest first: timers, retries, incidents, timer start events."""
        return {"items": auth.engine().list_jobs(auth.current(), status=args["status"], limit=args["limit"])}
