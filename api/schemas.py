"""Request and response schemas: they validate input, shape output and generate the OpenAPI document."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate


class StrictSchema(Schema):
    """Unknown fields in a request are an error, not silently dropped."""

    class Meta:
        unknown = RAISE


# --- common ------------------------------------------------------------------------------------


# Process versions are 32-bit INTEGER columns; a larger number is a 422 here, not an overflow in the driver.
VERSION_RANGE = validate.Range(min=1, max=2**31 - 1)


class PageArgsSchema(StrictSchema):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    cursor = fields.String(load_default=None, validate=validate.Length(max=500))


class ProblemSchema(Schema):
    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    code = fields.String(metadata={"description": "a stable name of the error (engine/errors.py), when it has one"})
    errors = fields.List(fields.Dict())


class CandidateSchema(Schema):
    role = fields.String(allow_none=True)
    org_unit = fields.String(allow_none=True)


class ActorSchema(Schema):
    username = fields.String()
    role = fields.String(allow_none=True)
    org_unit = fields.String(allow_none=True)


# --- auth and people --------------------------------------------------------------------------------


class CredentialsSchema(StrictSchema):
    username = fields.String(required=True, validate=validate.Length(1, 64))
    password = fields.String(required=True, validate=validate.Length(1, 200), load_only=True)


class HoldingSchema(Schema):
    role = fields.String()
    org_unit = fields.String()


class UserSchema(Schema):
    username = fields.String()
    display_name = fields.String()
    org_unit = fields.String(allow_none=True, metadata={"description": "the unit of the first role held"})
    roles = fields.List(fields.String())
    holdings = fields.List(fields.Nested(HoldingSchema))


class TokenSchema(Schema):
    access_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()
    user = fields.Nested(UserSchema)


class SessionSchema(Schema):
    csrf_token = fields.String()
    expires_in = fields.Integer()
    user = fields.Nested(UserSchema)


class OrgUnitSchema(Schema):
    code = fields.String()
    name = fields.String()
    level = fields.String()
    parent = fields.String(allow_none=True)
    kind = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "active, or dissolved after a committee change"})
    successor = fields.String(allow_none=True, metadata={"description": "the unit that took over its area"})


class OrgUnitListSchema(Schema):
    items = fields.List(fields.Nested(OrgUnitSchema))
    next_cursor = fields.String(allow_none=True)


class NewOrgUnitSchema(StrictSchema):
    code = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9_\-]{1,64}$"))
    name = fields.String(required=True, validate=validate.Length(1, 200))
    level = fields.String(
        required=True, validate=validate.OneOf(["city", "district", "subdistrict", "township", "committee"])
    )
    parent = fields.String(load_default=None, validate=validate.Length(max=64))
    kind = fields.String(load_default=None, validate=validate.OneOf(["residents", "villagers"]))


class NewHoldingSchema(StrictSchema):
    role = fields.String(required=True, validate=validate.Length(1, 64))
    org_unit = fields.String(required=True, validate=validate.Length(1, 64))


class NewUserSchema(StrictSchema):
    username = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.\-]{1,64}$"))
    password = fields.String(required=True, validate=validate.Length(8, 200), load_only=True)
    display_name = fields.String(load_default=None, validate=validate.Length(max=200))
    roles = fields.List(fields.Nested(NewHoldingSchema), required=True, validate=validate.Length(min=1))


class CreatedUserSchema(Schema):
    username = fields.String()
    display_name = fields.String()
    roles = fields.List(fields.Nested(HoldingSchema))


class UserAccountSchema(CreatedUserSchema):
    """A user as an admin manages them."""

    active = fields.Boolean(metadata={"description": "false: disabled; cannot sign in, tokens refused"})
    created_at = fields.String()


class UserPageSchema(Schema):
    items = fields.List(fields.Nested(UserAccountSchema))
    next_cursor = fields.String(allow_none=True)


class UserQuerySchema(PageArgsSchema):
    org_unit = fields.String(load_default=None, validate=validate.Length(max=64))
    role = fields.String(load_default=None, validate=validate.Length(max=64))
    active = fields.Boolean(load_default=None)


class UserChangeSchema(StrictSchema):
    display_name = fields.String(required=True, validate=validate.Length(1, 200))


class PasswordResetSchema(StrictSchema):
    password = fields.String(required=True, validate=validate.Length(8, 200), load_only=True)


class OrgUnitChangeSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(1, 200))


# --- deployments --------------------------------------------------------------------------------


class UploadProblemSchema(Schema):
    file = fields.String()
    element_id = fields.String(allow_none=True)
    line = fields.Integer(allow_none=True)
    message = fields.String()
    code = fields.String(
        allow_none=True, metadata={"description": "the check or lint rule that found it, e.g. gateway-default"}
    )
    params = fields.Dict(
        keys=fields.String(), values=fields.String(), metadata={"description": "the values its sentence names"}
    )


class DeployedProcessSchema(Schema):
    key = fields.String()
    version = fields.Integer()
    name = fields.String()
    unchanged = fields.Boolean()


class DeploymentSchema(Schema):
    id = fields.String()
    processes = fields.List(fields.Nested(DeployedProcessSchema))
    forms = fields.List(fields.Dict())
    warnings = fields.List(fields.Nested(UploadProblemSchema))


class ValidationReportSchema(Schema):
    ok = fields.Boolean()
    errors = fields.List(fields.Nested(UploadProblemSchema))
    warnings = fields.List(fields.Nested(UploadProblemSchema))


class DefinitionArgsSchema(PageArgsSchema):
    key = fields.String(load_default=None, validate=validate.Length(max=100))
    latest = fields.Boolean(load_default=False)


class DefinitionSchema(Schema):
    key = fields.String()
    version = fields.Integer()
    name = fields.String()
    deployment_id = fields.String()
    deployed_at = fields.String()
    deployed_by = fields.String()


class DefinitionListSchema(Schema):
    items = fields.List(fields.Nested(DefinitionSchema))
    next_cursor = fields.String(allow_none=True)


class VersionArgsSchema(StrictSchema):
    version = fields.Integer(load_default=None, validate=VERSION_RANGE)


# --- tasks --------------------------------------------------------------------------------------


class TaskSummarySchema(Schema):
    id = fields.String()
    name = fields.String()
    element_id = fields.String()
    instance_id = fields.String()
    process_key = fields.String()
    business_key = fields.String(allow_none=True)
    status = fields.String()
    assignee = fields.String(allow_none=True)
    owner = fields.String(allow_none=True)
    delegation = fields.String(allow_none=True)
    priority = fields.Integer()
    urged_count = fields.Integer()
    candidate = fields.Nested(CandidateSchema)
    due_at = fields.String(allow_none=True)
    overdue = fields.Boolean(metadata={"description": "open and past its due date"})
    created_at = fields.String(allow_none=True)


class TaskFormSchema(Schema):
    key = fields.String()
    schema = fields.Dict(allow_none=True)


class TaskDetailSchema(TaskSummarySchema):
    why = fields.String()
    form = fields.Nested(TaskFormSchema, allow_none=True)
    data = fields.Dict()
    completed_at = fields.String(allow_none=True)
    completed_by = fields.String(allow_none=True)


class TaskPageSchema(Schema):
    items = fields.List(fields.Nested(TaskSummarySchema))
    next_cursor = fields.String(allow_none=True)


class TaskQuerySchema(PageArgsSchema):
    scope = fields.String(load_default="mine", validate=validate.OneOf(["mine", "candidate", "all"]))
    status = fields.String(load_default="open", validate=validate.OneOf(["open", "completed"]))
    process_key = fields.String(load_default=None, validate=validate.Length(max=100))
    org_unit = fields.String(load_default=None, validate=validate.Length(max=64))
    due_before = fields.AwareDateTime(load_default=None, default_timezone=None)
    q = fields.String(load_default=None, validate=validate.Length(max=200))
    sort = fields.String(load_default="created", validate=validate.OneOf(["created", "-created", "due", "priority"]))


class CompleteSchema(StrictSchema):
    data = fields.Dict(load_default=dict)


class InstanceRefSchema(Schema):
    id = fields.String()
    status = fields.String()
    error = fields.Dict(allow_none=True)


class CompletedSchema(Schema):
    instance = fields.Nested(InstanceRefSchema)
    next_tasks = fields.List(fields.Nested(TaskSummarySchema))


class HandOnSchema(StrictSchema):
    to = fields.String(required=True, validate=validate.Length(1, 64))
    comment = fields.String(load_default="", validate=validate.Length(max=2000))


class ReturnSchema(StrictSchema):
    to_element = fields.String(load_default=None, validate=validate.Length(max=200))
    reason = fields.String(required=True, validate=validate.Length(1, 2000))


class ReasonSchema(StrictSchema):
    reason = fields.String(load_default="", validate=validate.Length(max=2000))


class CommentInSchema(StrictSchema):
    text = fields.String(required=True, validate=validate.Length(1, 2000))


class UrgeSchema(StrictSchema):
    comment = fields.String(load_default="", validate=validate.Length(max=2000))


class CommentSchema(Schema):
    id = fields.Integer()
    task_id = fields.String(allow_none=True)
    element_id = fields.String(allow_none=True)
    kind = fields.String()
    text = fields.String()
    at = fields.String()
    author = fields.Nested(ActorSchema)


class CommentListSchema(Schema):
    items = fields.List(fields.Nested(CommentSchema))
    next_cursor = fields.String(allow_none=True)


class TaskCountsSchema(Schema):
    mine = fields.Integer()
    candidate = fields.Integer()
    completed = fields.Integer()


# --- instances ------------------------------------------------------------------------------------


class StartSchema(StrictSchema):
    process_key = fields.String(required=True, validate=validate.Length(1, 100))
    version = fields.Integer(load_default=None, validate=VERSION_RANGE)
    org_unit = fields.String(required=True, validate=validate.Length(1, 64))
    business_key = fields.String(load_default=None, validate=validate.Length(max=200))
    variables = fields.Dict(load_default=dict)


class InstanceSummarySchema(Schema):
    id = fields.String()
    status = fields.String()
    process_key = fields.String()
    version = fields.Integer()
    org_unit = fields.String()
    business_key = fields.String(allow_none=True)
    started_by = fields.String()
    started_at = fields.String()
    ended_at = fields.String(allow_none=True)


class IncidentSchema(Schema):
    job_id = fields.String()
    element_id = fields.String()
    kind = fields.String()
    error = fields.String(allow_none=True)
    attempts = fields.Integer()


class InstanceSchema(InstanceSummarySchema):
    variables = fields.Dict()
    error = fields.Dict(allow_none=True)
    tasks = fields.List(fields.Nested(TaskSummarySchema))
    incidents = fields.List(
        fields.Nested(IncidentSchema), metadata={"description": "jobs that failed every attempt; retry or cancel"}
    )


class InstancePageSchema(Schema):
    items = fields.List(fields.Nested(InstanceSummarySchema))
    next_cursor = fields.String(allow_none=True)


class InstanceQuerySchema(PageArgsSchema):
    process_key = fields.String(load_default=None, validate=validate.Length(max=100))
    status = fields.String(
        load_default=None, validate=validate.OneOf(["running", "completed", "cancelled", "suspended", "failed"])
    )
    org_unit = fields.String(load_default=None, validate=validate.Length(max=64))
    q = fields.String(load_default=None, validate=validate.Length(max=200))
    started_from = fields.AwareDateTime(load_default=None)
    started_to = fields.AwareDateTime(load_default=None)
    actor = fields.String(load_default=None, validate=validate.Length(max=64))  # the auditor workspace
    missed_deadline = fields.Boolean(load_default=None)


class CancelSchema(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(1, 2000))


class RetrySchema(StrictSchema):
    variables = fields.Dict(load_default=dict)


class MessageSchema(StrictSchema):
    payload = fields.Dict(load_default=dict)


class JobSchema(Schema):
    id = fields.String()
    instance_id = fields.String(allow_none=True)
    process = fields.String(allow_none=True, metadata={"description": "process version of a timer start event"})
    element_id = fields.String()
    name = fields.String(allow_none=True)
    kind = fields.String(metadata={"description": "timer, message (thrown, on its way) or start_timer"})
    status = fields.String(metadata={"description": "waiting, retrying, incident; after a run by hand: done"})
    due_at = fields.String(allow_none=True)
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    locked_by = fields.String(allow_none=True, metadata={"description": "the worker running it now"})


class JobListSchema(Schema):
    items = fields.List(fields.Nested(JobSchema))


class PathSchema(Schema):
    completed = fields.List(fields.String())
    active = fields.List(fields.String())
    flows = fields.List(fields.String())
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())


class ExportArgsSchema(StrictSchema):
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv"]))


# --- audit --------------------------------------------------------------------------------------


class AuditEventSchema(Schema):
    instance_id = fields.String(allow_none=True)
    seq = fields.Integer()
    at = fields.String()
    actor = fields.Nested(ActorSchema)
    action = fields.String()
    element_id = fields.String(allow_none=True)
    data = fields.Dict()
    hash = fields.String()
    prev_hash = fields.String()


class AuditEventListSchema(Schema):
    items = fields.List(fields.Nested(AuditEventSchema))


class AuditEventPageSchema(AuditEventListSchema):
    next_cursor = fields.String(allow_none=True)


class AuditQuerySchema(PageArgsSchema):
    instance_id = fields.String(load_default=None, validate=validate.Length(max=36))
    actor = fields.String(load_default=None, validate=validate.Length(max=64))
    action = fields.String(load_default=None, validate=validate.Length(max=40))
    from_ = fields.AwareDateTime(data_key="from", load_default=None)
    to = fields.AwareDateTime(load_default=None)


class VerifyArgsSchema(StrictSchema):
    instance_id = fields.String(load_default=None, validate=validate.Length(max=36))


class BrokenLinkSchema(Schema):
    instance_id = fields.String(allow_none=True)
    seq = fields.Integer()
    reason = fields.String()
    stream = fields.String()
    at = fields.String()  # when the broken row was written ("" when rows were cut off the end or all removed)
    code = fields.String(
        metadata={"description": "the kind of break: changed, relinked, missing, cut, emptied or tombstone"}
    )


class VerificationSchema(Schema):
    ok = fields.Boolean()
    checked = fields.Integer()
    broken = fields.List(fields.Nested(BrokenLinkSchema))


class VerificationRequestSchema(StrictSchema):
    instance_id = fields.String(load_default=None, validate=validate.Length(max=36))


class VerificationRunSchema(Schema):
    id = fields.String()
    status = fields.String(metadata={"description": "queued, running, done or failed"})
    scope = fields.String(
        metadata={"description": "instance, reach (the org units the requester reached) or everything"}
    )
    instance_id = fields.String(allow_none=True)
    requested_by = fields.String()
    requested_at = fields.String()
    started_at = fields.String(allow_none=True)
    finished_at = fields.String(allow_none=True)
    checked = fields.Integer(metadata={"description": "audit rows replayed so far"})
    ok = fields.Boolean(allow_none=True, metadata={"description": "null until done"})
    broken = fields.List(fields.Nested(BrokenLinkSchema), metadata={"description": "the first 1,000 breaks"})
    broken_total = fields.Integer()
    error = fields.String(allow_none=True)


class VerificationRunListSchema(Schema):
    items = fields.List(fields.Nested(VerificationRunSchema))


class HealthSchema(Schema):
    status = fields.String()
    database = fields.String()


# --- the working-day calendar ----------------------------------------------------------------------


class CalendarDaySchema(StrictSchema):
    day = fields.Date(required=True, metadata={"description": "YYYY-MM-DD"})
    kind = fields.String(
        required=True,
        validate=validate.OneOf(["holiday", "workday"]),
        metadata={"description": "holiday: a day off; workday: a Saturday or Sunday worked to make up (调休)"},
    )
    name = fields.String(load_default="", validate=validate.Length(max=100))


class CalendarDayOutSchema(Schema):
    day = fields.String(metadata={"description": "YYYY-MM-DD"})
    kind = fields.String(metadata={"description": "holiday or workday"})
    name = fields.String()


class CalendarYearSchema(Schema):
    year = fields.Integer()
    known = fields.Boolean(metadata={"description": "false: no schedule yet, only weekends are days off"})
    source = fields.String(allow_none=True, metadata={"description": "seed (the published schedule) or admin"})
    changed_by = fields.String(allow_none=True)
    days = fields.List(fields.Nested(CalendarDayOutSchema))
    note = fields.String(allow_none=True)


class CalendarYearInSchema(StrictSchema):
    days = fields.List(fields.Nested(CalendarDaySchema), required=True, validate=validate.Length(max=366))


class WorkingDaysArgsSchema(StrictSchema):
    start = fields.Date(required=True)
    days = fields.Integer(required=True, validate=validate.Range(0, 3660))


class WorkingDaysSchema(Schema):
    start = fields.Date()
    working_days = fields.Integer()
    due = fields.Date()
    assumed_years = fields.List(fields.Integer(), metadata={"description": "years counted with weekends only"})


# --- rule tables and the registries of the procedures ------------------------------------------------


class RuleSchema(Schema):
    key = fields.String()
    version = fields.Integer()
    value = fields.Raw(metadata={"description": "a share ('> 1/2'), a number, a flag, a list or a range"})
    unit = fields.String()
    description = fields.String()
    law = fields.String()
    article = fields.String()
    legal_basis_version = fields.String(metadata={"description": "e.g. UROL_2018, UROL_2025"})
    valid_from = fields.String()
    valid_to = fields.String(allow_none=True)
    assumed = fields.Boolean(metadata={"description": "an [A] default an admin may change"})
    changed_by = fields.String(allow_none=True)


class RuleListSchema(Schema):
    items = fields.List(fields.Nested(RuleSchema))


class RuleArgsSchema(StrictSchema):
    prefix = fields.String(load_default=None, validate=validate.Length(max=120))
    on = fields.Date(load_default=None)


class RuleVersionsSchema(Schema):
    key = fields.String()
    current = fields.Nested(RuleSchema, allow_none=True)
    versions = fields.List(fields.Nested(RuleSchema))


class RuleChangeSchema(StrictSchema):
    value = fields.Raw(required=True)
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(load_default=None)
    law = fields.String(load_default=None, validate=validate.Length(max=200))
    article = fields.String(load_default=None, validate=validate.Length(max=100))
    legal_basis_version = fields.String(load_default=None, validate=validate.Length(min=1, max=40))
    description = fields.String(load_default=None, validate=validate.Length(max=500))


class LegalPersonSchema(Schema):
    uscc = fields.String()
    org_unit = fields.String()
    name = fields.String()
    legal_representative = fields.String(allow_none=True)
    status = fields.String()
    registered_at = fields.String()
    changed_at = fields.String()
    cancelled_at = fields.String(allow_none=True)
    history = fields.List(fields.Dict())


class LegalPersonListSchema(Schema):
    items = fields.List(fields.Nested(LegalPersonSchema))


class LegalPersonArgsSchema(StrictSchema):
    org_unit = fields.String(load_default=None, validate=validate.Length(max=64))
    status = fields.String(load_default=None, validate=validate.OneOf(["active", "cancelled"]))


class ServiceItemSchema(Schema):
    code = fields.String()
    version = fields.Integer()
    name = fields.String()
    competent_level = fields.String()
    mode = fields.String()
    decision_rule = fields.String()
    documents = fields.List(fields.Dict())
    catalogue_version = fields.String()
    legal_basis = fields.String()
    assumed = fields.Boolean()
    valid_from = fields.String()
    valid_to = fields.String(allow_none=True)


class ServiceItemListSchema(Schema):
    items = fields.List(fields.Nested(ServiceItemSchema))


class ServiceItemChangeSchema(StrictSchema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    competent_level = fields.String(validate=validate.OneOf(["subdistrict", "district", "municipal"]))
    mode = fields.String(validate=validate.OneOf(["direct", "entrusted_intake"]))
    catalogue_version = fields.String(validate=validate.Length(min=1, max=40))
    legal_basis = fields.String(validate=validate.Length(max=2000))
    valid_from = fields.Date(load_default=None)


class AssistMatterSchema(Schema):
    scope = fields.String()
    code = fields.String()
    name = fields.String()
    requesting_dept = fields.String()
    status = fields.String(metadata={"description": "admitted or temporary"})
    legal_basis = fields.String()
    target = fields.String()
    funding_amount = fields.Integer()
    funding_source = fields.String()
    effective_from = fields.String()
    expires_on = fields.String(allow_none=True)
    next_review_on = fields.String(allow_none=True)
    since_version = fields.Integer()
    until_version = fields.Integer(allow_none=True)
    exit_reason = fields.String(allow_none=True)
    assumed = fields.Boolean()


class AssistListVersionSchema(Schema):
    scope = fields.String()
    version = fields.Integer()
    published_at = fields.String()
    published_by = fields.String()
    instance_id = fields.String(allow_none=True)
    note = fields.String()


class AssistMatterListSchema(Schema):
    scope = fields.String(metadata={"description": "'' for the city-wide list, else a district's code"})
    version = fields.Integer()
    latest_version = fields.Integer()
    matters = fields.List(fields.Nested(AssistMatterSchema))
    versions = fields.List(fields.Nested(AssistListVersionSchema))


class AssistMatterArgsSchema(StrictSchema):
    scope = fields.String(load_default="", validate=validate.Length(max=64))
    version = fields.Integer(load_default=None, validate=VERSION_RANGE)


class MonitoringReportSchema(Schema):
    id = fields.Integer()
    monitoring_point = fields.String()
    matter_code = fields.String()
    period = fields.String()
    unlisted_tasks = fields.List(fields.Raw())
    hours = fields.Integer()
    instance_id = fields.String(allow_none=True)
    reported_by = fields.String()
    reported_at = fields.String()


class MonitoringReportListSchema(Schema):
    items = fields.List(fields.Nested(MonitoringReportSchema))


class MonitoringArgsSchema(StrictSchema):
    matter_code = fields.String(load_default=None, validate=validate.Length(max=100))


# --- the deliberation's convention filings and granted benefits --------------------------------------


class ConventionFilingSchema(Schema):
    id = fields.Integer()
    org_unit = fields.String()
    filed_to = fields.String()
    kind = fields.String()
    kind_name = fields.String()
    title = fields.String()
    text = fields.String()
    resolution = fields.Dict()
    status = fields.String()
    review_opinion = fields.String(allow_none=True)
    correction_items = fields.String(allow_none=True)
    instance_id = fields.String()
    filed_at = fields.String()
    reviewed_at = fields.String(allow_none=True)


class ConventionFilingListSchema(Schema):
    items = fields.List(fields.Nested(ConventionFilingSchema))


class ConventionFilingArgsSchema(StrictSchema):
    org_unit = fields.String(load_default=None, validate=validate.Length(max=64))
    status = fields.String(load_default=None, validate=validate.OneOf(["under_review", "filed", "correction_ordered"]))
    instance_id = fields.String(load_default=None, validate=validate.Length(max=36))


class BenefitSchema(Schema):
    id = fields.Integer()
    item_code = fields.String()
    item_name = fields.String()
    applicant_name = fields.String()
    applicant_id_no = fields.String()
    org_unit = fields.String()
    decided_level = fields.String()
    monthly_amount = fields.Integer(allow_none=True)
    subsidy_share = fields.String(allow_none=True)
    start_month = fields.String()
    review_due_on = fields.String()
    decision_doc_no = fields.String()
    basis = fields.Dict()
    status = fields.String()
    instance_id = fields.String()
    granted_at = fields.String()


class BenefitListSchema(Schema):
    items = fields.List(fields.Nested(BenefitSchema))


class BenefitArgsSchema(StrictSchema):
    item_code = fields.String(load_default=None, validate=validate.Length(max=100))
    org_unit = fields.String(load_default=None, validate=validate.Length(max=64))
    instance_id = fields.String(load_default=None, validate=validate.Length(max=36))


# --- time and events: messages by correlation, every job ---------------------------------------------


class CorrelateSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(1, 200))
    correlation = fields.Dict(
        load_default=dict,
        metadata={"description": "business_key, instance_id, or process variables the receiving case has"},
    )
    payload = fields.Dict(load_default=dict)
    org_unit = fields.String(
        load_default=None, validate=validate.Length(max=64), metadata={"description": "for a case the message starts"}
    )
    business_key = fields.String(load_default=None, validate=validate.Length(max=200))


class CorrelatedSchema(Schema):
    started = fields.Boolean(metadata={"description": "true when the message started a new case"})
    instance = fields.Nested(InstanceSchema)


class JobQuerySchema(StrictSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(["waiting", "retrying", "incident"]))
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))


# --- the auditor workspace ----------------------------------------------------------------------------


class SavedSearchInSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(1, 100))
    filters = fields.Dict(keys=fields.String(), load_default=dict)


class SavedSearchSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    filters = fields.Dict()
    created_at = fields.String()


class SavedSearchListSchema(Schema):
    items = fields.List(fields.Nested(SavedSearchSchema))


class StatisticsArgsSchema(StrictSchema):
    process_key = fields.String(load_default=None, validate=validate.Length(max=100))
    org_unit = fields.String(load_default=None, validate=validate.Length(max=64))
    started_from = fields.AwareDateTime(load_default=None)
    started_to = fields.AwareDateTime(load_default=None)


class StepStatisticsSchema(Schema):
    process_key = fields.String()
    element_id = fields.String()
    name = fields.String()
    tasks = fields.Integer()
    completed = fields.Integer()
    median_seconds = fields.Float(allow_none=True)
    p90_seconds = fields.Float(allow_none=True)
    with_due = fields.Integer()
    overdue = fields.Integer()
    overdue_rate = fields.Float(allow_none=True)


class CommitteeLoadSchema(Schema):
    org_unit = fields.String()
    name = fields.String()
    total = fields.Integer()
    months = fields.Dict(keys=fields.String(), values=fields.Dict(keys=fields.String(), values=fields.Integer()))


class TaskLoadSchema(Schema):
    months = fields.List(fields.String())
    departments = fields.List(fields.String())
    committees = fields.List(fields.Nested(CommitteeLoadSchema))


class StatisticsSchema(Schema):
    instances = fields.Dict(keys=fields.String(), values=fields.Integer())
    steps = fields.List(fields.Nested(StepStatisticsSchema))
    committee_load = fields.Nested(TaskLoadSchema)
    as_of = fields.String(
        metadata={
            "description": "when the figures were computed: now, or up to 10 minutes ago for figures that took "
            "more than 2 s (kept, and refreshed by govflow worker while read)"
        }
    )


class RetentionSchema(Schema):
    days = fields.Integer(allow_none=True)
    changed_by = fields.String(allow_none=True)
    changed_at = fields.String(allow_none=True)


class RetentionInSchema(StrictSchema):
    days = fields.Integer(required=True, allow_none=True, validate=validate.Range(1, 36500))


class PurgedCaseSchema(Schema):
    """What is kept of a purged case: which it was and the head of its audit chain."""

    instance_id = fields.String()
    process_key = fields.String()
    business_key = fields.String(allow_none=True)
    org_unit = fields.String()
    status = fields.String()
    ended_at = fields.String(allow_none=True)
    events = fields.Integer()
    head_hash = fields.String()


class TombstoneSchema(PurgedCaseSchema):
    purged_at = fields.String()
    purged_by = fields.String()


class TombstoneListSchema(Schema):
    items = fields.List(fields.Nested(TombstoneSchema))


class PurgedInstanceSchema(PurgedCaseSchema):
    hashes_sha256 = fields.String()


class PurgeSchema(Schema):
    retention_days = fields.Integer(allow_none=True)
    cutoff = fields.String(allow_none=True)
    purged = fields.Integer()
    instances = fields.List(fields.Nested(PurgedInstanceSchema))


class ExportKeySchema(Schema):
    algorithm = fields.String()
    key_id = fields.String()
    public_key = fields.String()


# --- the designer studio -------------------------------------------------------------------------


class LibraryVersionSchema(Schema):
    version = fields.Integer()
    name = fields.String()
    deployed_by = fields.String()
    deployed_at = fields.String()
    running = fields.Integer(metadata={"description": "instances on this version not yet completed or cancelled"})
    finished = fields.Integer()


class DraftFileSchema(Schema):
    filename = fields.String()
    size = fields.Integer()
    kind = fields.String(metadata={"description": "bpmn, dmn or form"})
    updated_at = fields.String()


class DraftSchema(Schema):
    id = fields.String()
    title = fields.String()
    owner = fields.String()
    process_key = fields.String(allow_none=True)
    base_version = fields.Integer(allow_none=True, metadata={"description": "the version it was opened from"})
    created_at = fields.String()
    updated_at = fields.String()
    files = fields.List(fields.Nested(DraftFileSchema))
    warnings = fields.List(fields.Nested(UploadProblemSchema), metadata={"description": "of an import"})


class DraftListSchema(Schema):
    items = fields.List(fields.Nested(DraftSchema))


class LibraryEntrySchema(Schema):
    key = fields.String()
    name = fields.String()
    versions = fields.List(fields.Nested(LibraryVersionSchema))
    drafts = fields.List(fields.Nested(DraftSchema))


class LibrarySchema(Schema):
    items = fields.List(fields.Nested(LibraryEntrySchema))


class NewDraftSchema(StrictSchema):
    process_key = fields.String(
        load_default=None, validate=validate.Length(min=1, max=100), metadata={"description": "open this process"}
    )
    version = fields.Integer(load_default=None, validate=VERSION_RANGE, metadata={"description": "default: latest"})
    new_process = fields.String(
        load_default=None, validate=validate.Length(min=1, max=100), metadata={"description": "id of a new process"}
    )
    title = fields.String(load_default=None, validate=validate.Length(min=1, max=200))


class DraftChangeSchema(StrictSchema):
    title = fields.String(load_default=None, validate=validate.Length(min=1, max=200))
    files = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=255)),
        values=fields.String(),
        load_default=dict,
        metadata={"description": "file name -> its text (BPMN/DMN XML or form JSON), added or replaced"},
    )
    remove = fields.List(fields.String(validate=validate.Length(min=1, max=255)), load_default=list)


class DiffArgsSchema(StrictSchema):
    from_ = fields.Integer(data_key="from", required=True, validate=VERSION_RANGE)
    to = fields.Integer(required=True, validate=VERSION_RANGE)


class DiffElementSchema(Schema):
    id = fields.String()
    type = fields.String()
    name = fields.String()
    changes = fields.List(fields.Dict(), metadata={"description": "[{field, before, after}]"})


class DiffSchema(Schema):
    key = fields.String()
    from_ = fields.Integer(data_key="from", attribute="from")
    to = fields.Integer()
    added = fields.List(fields.Nested(DiffElementSchema))
    removed = fields.List(fields.Nested(DiffElementSchema))
    changed = fields.List(fields.Nested(DiffElementSchema))
    forms_changed = fields.List(fields.String())


class FilesArgsSchema(StrictSchema):
    version = fields.Integer(load_default=None, validate=VERSION_RANGE)
    format = fields.String(load_default="zip", validate=validate.OneOf(["zip", "bpmn"]))


class MigrationInSchema(StrictSchema):
    to_version = fields.Integer(load_default=None, validate=VERSION_RANGE, metadata={"description": "default: latest"})
    from_version = fields.Integer(load_default=None, validate=VERSION_RANGE)
    instance_ids = fields.List(fields.String(validate=validate.Length(min=1, max=36)), load_default=None)
    dry_run = fields.Boolean(load_default=True, metadata={"description": "only say what would happen (default)"})


class MigrationObstacleSchema(Schema):
    code = fields.String()
    element_id = fields.String()
    name = fields.String()
    message = fields.String()


class MigrationOutcomeSchema(Schema):
    instance_id = fields.String()
    business_key = fields.String(allow_none=True)
    org_unit = fields.String()
    status = fields.String()
    from_version = fields.Integer()
    to_version = fields.Integer()
    outcome = fields.String(metadata={"description": "ok (dry run), migrated or blocked"})
    active = fields.List(fields.String(), metadata={"description": "elements the case is at"})
    changed = fields.List(fields.String(), metadata={"description": "of those, the ones the new version changes"})
    reasons = fields.List(fields.Nested(MigrationObstacleSchema))


class MigrationReportSchema(Schema):
    process_key = fields.String()
    to_version = fields.Integer()
    dry_run = fields.Boolean()
    instances = fields.List(fields.Nested(MigrationOutcomeSchema))
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())


class TimerCheckInSchema(StrictSchema):
    kind = fields.String(required=True, validate=validate.OneOf(["timeDate", "timeDuration", "timeCycle"]))
    text = fields.String(required=True, validate=validate.Length(max=500))


class TimerCheckSchema(Schema):
    ok = fields.Boolean()
    problems = fields.List(fields.Nested(UploadProblemSchema))
    warnings = fields.List(fields.Nested(UploadProblemSchema))
    value = fields.String(allow_none=True, metadata={"description": "what a rule it names gives today"})


class StudioChoicesSchema(Schema):
    roles = fields.List(fields.String())
    forms = fields.List(fields.String())
    decisions = fields.List(fields.String())
