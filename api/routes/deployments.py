"""Deploying bundles and reading process definitions."""

from __future__ import annotations

from flask import Response, request
from flask.views import MethodView
from flask_smorest.fields import Upload
from marshmallow import Schema

from api import auth
from api.parsing import Blueprint
from api.schemas import (
    DefinitionArgsSchema,
    DefinitionListSchema,
    DeploymentSchema,
    ValidationReportSchema,
    VersionArgsSchema,
)
from engine.errors import RuleBroken

blp = Blueprint("deployments", __name__, url_prefix="/api/v1", description="Deployments and process definitions")


class BundleSchema(Schema):
    files = Upload(required=True, metadata={"description": "one or more .bpmn, .dmn and .form.json files"})


def uploaded_files() -> dict[str, bytes]:
    uploads = request.files.getlist("files")
    if not uploads:
        raise RuleBroken("Send the bundle as multipart form data with one or more 'files' parts.")
    files: dict[str, bytes] = {}
    for upload in uploads:
        name = (upload.filename or "").replace("\\", "/").rsplit("/", 1)[-1]
        if not name:
            raise RuleBroken("Every uploaded file needs a file name.")
        if name in files:
            raise RuleBroken(f"The file name {name} appears twice in the bundle.")
        files[name] = upload.read()
    return files


@blp.route("/deployments")
class Deployments(MethodView):
    @blp.arguments(BundleSchema, location="files")
    @blp.response(201, DeploymentSchema)
    def post(self, _files: dict) -> dict:
        """Deploy a bundle: every file is checked; a bundle with any problem deploys nothing (422)."""
        return auth.engine().deploy(uploaded_files(), by=auth.current())


@blp.route("/deployments/validate")
class ValidateDeployment(MethodView):
    @blp.arguments(BundleSchema, location="files")
    @blp.response(200, ValidationReportSchema)
    def post(self, _files: dict) -> dict:
        """Run every deploy check on a bundle without deploying it."""
        return auth.engine().validate_bundle(uploaded_files(), by=auth.current())


@blp.route("/process-definitions")
class Definitions(MethodView):
    @blp.arguments(DefinitionArgsSchema, location="query")
    @blp.response(200, DefinitionListSchema)
    def get(self, args: dict) -> dict:
        """Deployed process definitions, every version or only the latest of each key, paged."""
        auth.current()
        return auth.engine().definitions_page(args["key"], args["latest"], args["cursor"], args["limit"])


@blp.route("/process-definitions/<string:key>/xml")
class DefinitionXml(MethodView):
    @blp.arguments(VersionArgsSchema, location="query")
    @blp.response(200, content_type="application/xml")
    def get(self, args: dict, key: str) -> Response:
        """The BPMN XML of a version (default: the latest)."""
        auth.current()
        xml = auth.engine().definition_xml(key, args["version"])
        return Response(xml, mimetype="application/xml")
