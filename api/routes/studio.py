"""The designer studio's REST endpoints (designers and admins): the process library, drafts, version diffs
and downloads, imports, the timer check, and migrating running instances to a newer version."""

from __future__ import annotations

from flask import Response, request
from flask.views import MethodView
from flask_smorest.fields import Upload
from marshmallow import Schema

from api import auth
from api.parsing import Blueprint
from api.schemas import (
    DeploymentSchema,
    DiffArgsSchema,
    DiffSchema,
    DraftChangeSchema,
    DraftListSchema,
    DraftSchema,
    FilesArgsSchema,
    LibrarySchema,
    MigrationInSchema,
    MigrationReportSchema,
    NewDraftSchema,
    StudioChoicesSchema,
    TimerCheckInSchema,
    TimerCheckSchema,
    ValidationReportSchema,
)
from engine import drafts
from engine.errors import RuleBroken

blp = Blueprint("studio", __name__, url_prefix="/api/v1", description="The designer studio (designers and admins)")

MIMETYPES = {"bpmn": "application/xml", "dmn": "application/xml", "form": "application/json"}
TEXT = {"schema": {"type": "string"}}
BINARY = {"schema": {"type": "string", "format": "binary"}}


def attachment(body: bytes, filename: str, mimetype: str) -> Response:
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@blp.route("/process-library")
class Library(MethodView):
    @blp.response(200, LibrarySchema)
    def get(self) -> dict:
        """Every process key with its versions (who deployed, when, instances running on each) and drafts."""
        return {"items": auth.engine().process_library(auth.current())}


@blp.route("/process-definitions/<string:key>/diff")
class Diff(MethodView):
    @blp.arguments(DiffArgsSchema, location="query")
    @blp.response(200, DiffSchema)
    def get(self, args: dict, key: str) -> dict:
        """Elements added, removed and changed (name, type, lane, form, timer, condition...) between two versions."""
        return auth.engine().diff_versions(key, args["from_"], args["to"], auth.current())


@blp.route("/process-definitions/<string:key>/files")
class VersionFiles(MethodView):
    @blp.arguments(FilesArgsSchema, location="query")
    @blp.response(200, content_type="application/zip")
    @blp.doc(
        responses={
            "200": {
                "description": "the zip or the .bpmn",
                "content": {"application/zip": BINARY, "application/xml": TEXT},
            }
        }
    )
    def get(self, args: dict, key: str) -> Response:
        """Download a version: the bundle as a zip (BPMN, forms, DMN files), or `format=bpmn` its BPMN alone."""
        files = auth.engine().version_files(key, args["version"], auth.current())
        bpmn = next(name for name in files if name.endswith(".bpmn"))
        version = args["version"]
        suffix = f"-v{version}" if version else ""
        if args["format"] == "bpmn":
            return attachment(files[bpmn], f"{key}{suffix}.bpmn", "application/xml")
        return attachment(drafts.zipped(files), f"{key}{suffix}.zip", "application/zip")


@blp.route("/process-definitions/<string:key>/migrations")
class Migrations(MethodView):
    @blp.arguments(MigrationInSchema)
    @blp.response(200, MigrationReportSchema)
    def post(self, args: dict, key: str) -> dict:
        """Move unfinished instances to a newer version (default: the latest). With `dry_run` (the default)
        nothing moves: each instance is answered ok or blocked, with the reasons. Each move is audited."""
        return auth.engine().migrate_instances(
            key,
            auth.current(),
            to_version=args["to_version"],
            from_version=args["from_version"],
            instance_ids=args["instance_ids"],
            dry_run=args["dry_run"],
        )


@blp.route("/drafts")
class Drafts(MethodView):
    @blp.response(200, DraftListSchema)
    def get(self) -> dict:
        """The caller's drafts (an admin's: everyone's), the latest saved first."""
        return {"items": auth.engine().list_drafts(auth.current())}

    @blp.arguments(NewDraftSchema)
    @blp.response(201, DraftSchema)
    def post(self, args: dict) -> dict:
        """A draft opened from a deployed version (`process_key`, `version`), or a new process (`new_process`)."""
        if bool(args["process_key"]) == bool(args["new_process"]):
            raise RuleBroken("Name either process_key (to open a version) or new_process (to start a new process).")
        return auth.engine().create_draft(
            auth.current(),
            title=args["title"],
            process_key=args["process_key"],
            version=args["version"],
            new_process=args["new_process"],
        )


class ImportSchema(Schema):
    file = Upload(required=True, metadata={"description": "a .bpmn file from Camunda Modeler or another tool"})


@blp.route("/drafts/import")
class ImportDraft(MethodView):
    @blp.arguments(ImportSchema, location="files")
    @blp.response(201, DraftSchema)
    def post(self, files: dict) -> dict:
        """Import a .bpmn as a new draft (or, with the form field `draft_id`, into that draft); what was
        converted or dropped comes back as warnings."""
        upload = files["file"]
        draft_id = (request.form.get("draft_id") or "").strip()[:36] or None
        return auth.engine().import_draft(auth.current(), upload.filename or "", upload.read(), draft_id)


@blp.route("/drafts/<string:draft_id>")
class OneDraft(MethodView):
    @blp.response(200, DraftSchema)
    def get(self, draft_id: str) -> dict:
        """The draft and its files."""
        return auth.engine().get_draft(draft_id, auth.current())

    @blp.arguments(DraftChangeSchema)
    @blp.response(200, DraftSchema)
    def patch(self, args: dict, draft_id: str) -> dict:
        """Save: add or replace files (their text), remove files, rename the draft."""
        files = {name: text.encode("utf-8") for name, text in args["files"].items()}
        return auth.engine().save_draft(draft_id, auth.current(), files, args["remove"], args["title"])

    @blp.response(204)
    def delete(self, draft_id: str) -> None:
        """Throw the draft away (deployed versions stay)."""
        auth.engine().delete_draft(draft_id, auth.current())


@blp.route("/drafts/<string:draft_id>/files/<string:filename>")
class DraftFile(MethodView):
    @blp.response(200, content_type="application/xml")
    @blp.doc(
        responses={"200": {"description": "the file", "content": {"application/xml": TEXT, "application/json": TEXT}}}
    )
    def get(self, draft_id: str, filename: str) -> Response:
        """One file of the draft as it was last saved."""
        body = auth.engine().draft_file(draft_id, filename, auth.current())
        return Response(body, mimetype=MIMETYPES[drafts.kind_of(filename)])


@blp.route("/drafts/<string:draft_id>/validate")
class ValidateDraft(MethodView):
    @blp.response(200, ValidationReportSchema)
    def post(self, draft_id: str) -> dict:
        """The deploy checks and the lint rules on the draft's files, deploying nothing."""
        return auth.engine().validate_draft(draft_id, auth.current())


@blp.route("/drafts/<string:draft_id>/deploy")
class DeployDraft(MethodView):
    @blp.response(201, DeploymentSchema)
    def post(self, draft_id: str) -> dict:
        """Deploy the draft's files as one bundle: the next version of its process (422 with the problems)."""
        return auth.engine().deploy_draft(draft_id, auth.current())


@blp.route("/studio/timer-check")
class TimerCheck(MethodView):
    @blp.arguments(TimerCheckInSchema)
    @blp.response(200, TimerCheckSchema)
    def post(self, args: dict) -> dict:
        """The deploy checks of one timer value, and what a rule it names gives today (the editor asks as
        the designer types)."""
        return auth.engine().check_timer_text(args["kind"], args["text"], auth.current())


@blp.route("/studio/choices")
class Choices(MethodView):
    @blp.response(200, StudioChoicesSchema)
    def get(self) -> dict:
        """What the editor's panel offers: the lane roles and the deployed forms."""
        return auth.engine().studio_choices(auth.current())
