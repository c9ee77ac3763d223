"""Rule tables and the registries the procedures write: officials read them, city admins change them."""

from __future__ import annotations

from flask.views import MethodView

from api import auth
from api.parsing import Blueprint
from api.schemas import (
    AssistMatterArgsSchema,
    AssistMatterListSchema,
    BenefitArgsSchema,
    BenefitListSchema,
    ConventionFilingArgsSchema,
    ConventionFilingListSchema,
    LegalPersonArgsSchema,
    LegalPersonListSchema,
    LegalPersonSchema,
    MonitoringArgsSchema,
    MonitoringReportListSchema,
    RuleArgsSchema,
    RuleChangeSchema,
    RuleListSchema,
    RuleSchema,
    RuleVersionsSchema,
    ServiceItemChangeSchema,
    ServiceItemListSchema,
    ServiceItemSchema,
)

blp = Blueprint("procedures", __name__, url_prefix="/api/v1", description="Rule tables and registries")


@blp.route("/rules")
class Rules(MethodView):
    @blp.arguments(RuleArgsSchema, location="query")
    @blp.response(200, RuleListSchema)
    def get(self, args: dict) -> dict:
        """Every rule as valid on a day (today by default): value, law, article, legal basis version."""
        auth.current()
        return {"items": auth.engine().list_rules(args["prefix"], args["on"])}


@blp.route("/rules/<string:key>")
class RuleVersions(MethodView):
    @blp.response(200, RuleVersionsSchema)
    def get(self, key: str) -> dict:
        """A rule's versions, and the one valid today."""
        auth.current()
        return auth.engine().rule_versions(key)

    @blp.arguments(RuleChangeSchema)
    @blp.response(200, RuleSchema)
    def put(self, body: dict, key: str) -> dict:
        """A new version of a rule (admins at city level); statutory rules only with a new legal basis version."""
        return auth.engine().set_rule(key, by=auth.current(), **body)


@blp.route("/registries/committee-legal-persons")
class LegalPersons(MethodView):
    @blp.arguments(LegalPersonArgsSchema, location="query")
    @blp.response(200, LegalPersonListSchema)
    def get(self, args: dict) -> dict:
        """The committee legal-person registry (USCC codes) within the caller's reach."""
        return {"items": auth.engine().legal_persons(auth.current(), args["org_unit"], args["status"])}


@blp.route("/registries/committee-legal-persons/<string:uscc>")
class LegalPerson(MethodView):
    @blp.response(200, LegalPersonSchema)
    def get(self, uscc: str) -> dict:
        """One committee's registry entry, with its history."""
        return auth.engine().legal_person(uscc, auth.current())


@blp.route("/registries/service-items")
class ServiceItems(MethodView):
    @blp.response(200, ServiceItemListSchema)
    def get(self) -> dict:
        """The delegation catalogue: which level decides each item, and whether the centre receives it directly."""
        auth.current()
        return {"items": auth.engine().service_items()}


@blp.route("/registries/service-items/<string:code>")
class ServiceItem(MethodView):
    @blp.arguments(ServiceItemChangeSchema)
    @blp.response(200, ServiceItemSchema)
    def put(self, body: dict, code: str) -> dict:
        """A new version of a catalogue entry (admins at city level); audited."""
        valid_from = body.pop("valid_from", None)
        return auth.engine().set_service_item(code, auth.current(), body, valid_from)


@blp.route("/registries/assist-matters")
class AssistMatters(MethodView):
    @blp.arguments(AssistMatterArgsSchema, location="query")
    @blp.response(200, AssistMatterListSchema)
    def get(self, args: dict) -> dict:
        """A list of assisted matters as one of its versions published it (default: the latest)."""
        return auth.engine().assist_matter_list(auth.current(), args["scope"], args["version"])


@blp.route("/registries/monitoring-reports")
class MonitoringReports(MethodView):
    @blp.arguments(MonitoringArgsSchema, location="query")
    @blp.response(200, MonitoringReportListSchema)
    def get(self, args: dict) -> dict:
        """Monitoring points' quarterly reports of unlisted tasks, within the caller's reach."""
        return {"items": auth.engine().monitoring_reports(auth.current(), args["matter_code"])}


@blp.route("/registries/convention-filings")
class ConventionFilings(MethodView):
    @blp.arguments(ConventionFilingArgsSchema, location="query")
    @blp.response(200, ConventionFilingListSchema)
    def get(self, args: dict) -> dict:
        """Residents' conventions, charters and village codes filed with subdistricts, within the caller's reach."""
        items = auth.engine().convention_filings(auth.current(), args["org_unit"], args["status"], args["instance_id"])
        return {"items": items}


@blp.route("/registries/benefits")
class Benefits(MethodView):
    @blp.arguments(BenefitArgsSchema, location="query")
    @blp.response(200, BenefitListSchema)
    def get(self, args: dict) -> dict:
        """Benefits granted through delegated or entrusted service items, by where the applicant lives."""
        items = auth.engine().benefits(auth.current(), args["item_code"], args["org_unit"], args["instance_id"])
        return {"items": items}
