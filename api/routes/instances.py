"""Process instances: start, read, lifecycle, messages, history, jobs, path and case export."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView

from api import auth
from api.parsing import Blueprint
from api.schemas import (
    AuditEventPageSchema,
    CancelSchema,
    ExportArgsSchema,
    InstancePageSchema,
    InstanceQuerySchema,
    InstanceSchema,
    JobListSchema,
    JobSchema,
    MessageSchema,
    PageArgsSchema,
    PathSchema,
    RetrySchema,
    StartSchema,
)

blp = Blueprint("instances", __name__, url_prefix="/api/v1", description="Process instances")


@blp.route("/process-instances")
class Instances(MethodView):
    @blp.arguments(StartSchema)
    @blp.response(201, InstanceSchema)
    def post(self, start: dict) -> dict:
        """Start an instance of a process for an org unit; it runs to its first wait state."""
        return auth.engine().start(
            start["process_key"],
            start["org_unit"],
            by=auth.current(),
            business_key=start["business_key"],
            variables=start["variables"],
            version=start["version"],
        )

    @blp.arguments(InstanceQuerySchema, location="query")
    @blp.response(200, InstancePageSchema)
    def get(self, args: dict) -> dict:
        """Instances within the caller's reach, newest first, filtered and paged by cursor."""
        return auth.engine().list_instances(auth.current(), **args)


@blp.route("/process-instances/<string:instance_id>")
class Instance(MethodView):
    @blp.response(200, InstanceSchema)
    def get(self, instance_id: str) -> dict:
        """One instance with its variables and open tasks."""
        return auth.engine().get_instance(instance_id, by=auth.current())


@blp.route("/process-instances/<string:instance_id>/cancel")
class Cancel(MethodView):
    @blp.arguments(CancelSchema)
    @blp.response(200, InstanceSchema)
    def post(self, args: dict, instance_id: str) -> dict:
        """Cancel an instance (admins): its open tasks are withdrawn."""
        return auth.engine().cancel(instance_id, args["reason"], by=auth.current())


@blp.route("/process-instances/<string:instance_id>/suspend")
class Suspend(MethodView):
    @blp.response(200, InstanceSchema)
    def post(self, instance_id: str) -> dict:
        """Suspend an instance (admins): its tasks cannot be worked until it is resumed."""
        return auth.engine().suspend(instance_id, by=auth.current())


@blp.route("/process-instances/<string:instance_id>/resume")
class Resume(MethodView):
    @blp.response(200, InstanceSchema)
    def post(self, instance_id: str) -> dict:
        """Resume a suspended instance (admins)."""
        return auth.engine().resume(instance_id, by=auth.current())


@blp.route("/process-instances/<string:instance_id>/retry")
class Retry(MethodView):
    @blp.arguments(RetrySchema)
    @blp.response(200, InstanceSchema)
    def post(self, args: dict, instance_id: str) -> dict:
        """Retry the failed step of an instance, or its incidents (admins), optionally fixing variables first."""
        return auth.engine().retry(instance_id, by=auth.current(), variables=args["variables"])


@blp.route("/process-instances/<string:instance_id>/messages/<string:name>")
class Message(MethodView):
    @blp.arguments(MessageSchema)
    @blp.response(200, InstanceSchema)
    def post(self, args: dict, instance_id: str, name: str) -> dict:
        """Deliver a message the instance waits for; 409 when nothing waits for it."""
        return auth.engine().deliver_message(instance_id, name, args["payload"], by=auth.current())


@blp.route("/process-instances/<string:instance_id>/history")
class History(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, AuditEventPageSchema)
    def get(self, args: dict, instance_id: str) -> dict:
        """Every audit event of the instance, in order, paged."""
        return auth.engine().history_page(instance_id, auth.current(), args["cursor"], args["limit"])


@blp.route("/process-instances/<string:instance_id>/jobs")
class Jobs(MethodView):
    @blp.response(200, JobListSchema)
    def get(self, instance_id: str) -> dict:
        """Timers, retries and incidents of the instance, and messages it threw that are on their way."""
        return {"items": auth.engine().waiting_jobs(instance_id, by=auth.current())}


@blp.route("/process-instances/<string:instance_id>/jobs/<string:job_id>/execute")
class ExecuteJob(MethodView):
    @blp.response(200, JobSchema)
    def post(self, instance_id: str, job_id: str) -> dict:
        """Run a job now (admins), whatever its due time: a timer fires, a message goes; audited as the admin's.
        `status` says how it went: done, or retrying / incident with `last_error`."""
        return auth.engine().execute_job(instance_id, job_id, by=auth.current())


@blp.route("/process-instances/<string:instance_id>/path")
class Path(MethodView):
    @blp.response(200, PathSchema)
    def get(self, instance_id: str) -> dict:
        """The elements completed and active, and the sequence flows taken, for the diagram."""
        return auth.engine().path(instance_id, by=auth.current())


@blp.route("/process-instances/<string:instance_id>/export")
class Export(MethodView):
    @blp.arguments(ExportArgsSchema, location="query")
    @blp.response(200, content_type="application/json")
    def get(self, args: dict, instance_id: str) -> Response:
        """The whole case (instance, tasks, events, comments, the BPMN it ran on) as JSON or CSV, signed
        with the server's Ed25519 key and carrying its chain head (`govflow audit verify-export` checks it)."""
        case = auth.engine().signed_export(instance_id, by=auth.current(), format=args["format"])
        disposition = f'attachment; filename="case-{instance_id}.{args["format"]}"'
        mimetype = "text/csv" if args["format"] == "csv" else "application/json"
        return Response(case, mimetype=mimetype, headers={"Content-Disposition": disposition})
