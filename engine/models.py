"""The engine's tables (SQLAlchemy 2, typed). Migrations in engine/migrations follow this file."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import JSON, TypeDecorator

from engine import clock


def utcnow() -> datetime:
    """Now, from the engine's one clock (engine/clock.py), so tests can move it."""
    return clock.now()


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both databases (SQLite keeps no zone; we store and read UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict: JSON, list: JSON}


# --- org and people -------------------------------------------------------------------------------


class OrgUnit(Base):
    __tablename__ = "org_unit"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(20))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("org_unit.code"), index=True)
    # For committees: "residents" or "villagers"; decides which counterpart role works its lanes.
    kind: Mapped[str | None] = mapped_column(String(20))
    # "shanghai/huangpu/wuliqiao/": the codes from the root down, for "at or below" range queries.
    path: Mapped[str] = mapped_column(String(600), default="", server_default="", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Committee changes (procedures): a dissolved or merged-away unit takes no new cases or tasks;
    # `successor_code` names the unit that took over its area.
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    ended_at: Mapped[datetime | None]
    successor_code: Mapped[str | None] = mapped_column(String(64))


class UserAccount(Base):
    __tablename__ = "user_account"
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RoleAssignment(Base):
    __tablename__ = "role_assignment"
    __table_args__ = (UniqueConstraint("username", "role", "org_code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(ForeignKey("user_account.username"), index=True)
    role: Mapped[str] = mapped_column(String(64))
    org_code: Mapped[str] = mapped_column(ForeignKey("org_unit.code"), index=True)


# --- deployments --------------------------------------------------------------------------------


class Blob(Base):
    """Content-addressed storage: uploaded files and serialized specs, stored once by sha256."""

    __tablename__ = "blob"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class Deployment(Base):
    __tablename__ = "deployment"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    deployed_by: Mapped[str] = mapped_column(String(64))
    deployed_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeploymentFile(Base):
    __tablename__ = "deployment_file"
    __table_args__ = (UniqueConstraint("deployment_id", "filename"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployment.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(ForeignKey("blob.sha256"))


class ProcessDefinition(Base):
    __tablename__ = "process_definition"
    __table_args__ = (UniqueConstraint("key", "version"),)
    id: Mapped[str] = mapped_column(String(120), primary_key=True)  # "key:version"
    key: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployment.id"), index=True)
    bpmn_sha256: Mapped[str] = mapped_column(ForeignKey("blob.sha256"))
    spec_sha256: Mapped[str] = mapped_column(ForeignKey("blob.sha256"))
    # element id -> {"name", "role", "form_key"} for every user task; read without loading the spec.
    user_tasks: Mapped[dict] = mapped_column(default=dict)
    # form id -> sha256 of the form version this definition was deployed with (pinned like the BPMN).
    forms: Mapped[dict] = mapped_column(default=dict)
    # [[flow id, source element id, target element id], ...] of every sequence flow, for the path view.
    sequence_flows: Mapped[list] = mapped_column(default=list, server_default="[]")
    deployed_at: Mapped[datetime] = mapped_column(default=utcnow)
    deployed_by: Mapped[str] = mapped_column(String(64))


class FormDefinition(Base):
    __tablename__ = "form_definition"
    __table_args__ = (UniqueConstraint("form_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    form_id: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(ForeignKey("blob.sha256"))
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployment.id"))


# --- instances ---------------------------------------------------------------------------------


class ProcessInstance(Base):
    __tablename__ = "process_instance"
    __table_args__ = (
        Index("ix_process_instance_key_status", "process_key", "status"),
        # the instance search's order (newest first, id breaking ties), alone and within a status (0010)
        Index("ix_process_instance_started", "started_at", "id"),
        Index("ix_process_instance_status_started", "status", "started_at", "id"),
        # the search's business-key prefix is LIKE 'prefix%': PostgreSQL needs pattern ops for it (0010)
        Index("ix_process_instance_business_key", "business_key", postgresql_ops={"business_key": "text_pattern_ops"}),
        # the cases under a unit with the list's order key: a search that probes each of them (a missed
        # deadline) reads the rows of only those it keeps (0012); none of these columns changes per command
        Index("ix_process_instance_org_path", "org_path", "started_at", "id"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    definition_id: Mapped[str] = mapped_column(ForeignKey("process_definition.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(100))
    process_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))  # leads ix_process_instance_status_started (0013)
    business_key: Mapped[str | None] = mapped_column(String(200))
    org_code: Mapped[str] = mapped_column(ForeignKey("org_unit.code"), index=True)
    org_path: Mapped[str] = mapped_column(String(600), default="", server_default="")
    started_by: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Optimistic concurrency: every command bumps it; a command that read an older value loses.
    lock_version: Mapped[int] = mapped_column(Integer, default=0)
    # Workflow-level SpiffWorkflow state without the spec and without the task rows.
    state: Mapped[dict] = mapped_column(default=dict)
    # Top-level process variables as of the last command (for reads that should not load the workflow).
    variables: Mapped[dict] = mapped_column(default=dict)
    # {"element_id", "element_name", "line", "message", "at"} when status is failed.
    error: Mapped[dict | None] = mapped_column(JSON)
    next_task_seq: Mapped[int] = mapped_column(Integer, default=0)
    __mapper_args__ = {"version_id_col": lock_version}
    audit_seq: Mapped[int] = mapped_column(Integer, default=0)
    audit_head: Mapped[str] = mapped_column(String(64), default="")


class WorkflowTask(Base):
    """One SpiffWorkflow task: written when it changes, never rewritten once it is finished and unchanged."""

    __tablename__ = "workflow_task"
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instance.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # "" for the top-level workflow, else the id of the task that owns the subprocess.
    workflow_id: Mapped[str] = mapped_column(String(36), default="")
    seq: Mapped[int] = mapped_column(Integer)  # creation order: parents restore before children
    state: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)  # the task serialized as SpiffWorkflow does, data as a delta


# PostgreSQL: a search for any part of a business key (the task list's search text) finds its cases from
# the key's trigrams, where otherwise it read every case (0019). SQLite reads the business key index.
Index(
    "ix_process_instance_business_key_trgm",
    ProcessInstance.business_key,
    postgresql_using="gin",
    postgresql_ops={"business_key": "gin_trgm_ops"},
).ddl_if(dialect="postgresql")


class HumanTask(Base):
    """The work-queue projection of READY user tasks; inbox queries read only this table."""

    __tablename__ = "human_task"
    __table_args__ = (
        Index("ix_human_task_candidate", "status", "role", "org_code", "created_at"),
        # An official's own tasks: read only by `assignee = :me` (`completed_by = :me`), which implies the
        # column is set, so the tasks nobody holds (every new one) are left out (0015).
        Index(
            "ix_human_task_assignee",
            "assignee",
            "status",
            "created_at",
            sqlite_where=text("assignee IS NOT NULL"),
            postgresql_where=text("assignee IS NOT NULL"),
        ),
        Index(
            "ix_human_task_completed_by",
            "completed_by",
            "status",
            "completed_at",
            sqlite_where=text("completed_by IS NOT NULL"),
            postgresql_where=text("completed_by IS NOT NULL"),
        ),
        Index("ix_human_task_org_path", "org_path", "status"),
        # Each list order of a status, rows in that order, id last: a reader of the whole city (an auditor at
        # its root) reads the first page off one index, where otherwise every task of the status was sorted
        # (0.2-3 s a page at city scale, 0016). "priority" is below the class: its DESC needs the column.
        Index("ix_human_task_created", "status", "created_at", "id"),
        Index("ix_human_task_process", "status", "process_key", "created_at"),
        Index("ix_human_task_due", "status", "due_at", "created_at", "id"),
        # An instance's tasks, holding what "missed its deadline" reads: the search probes each case of a
        # unit from the index alone, not from rows scattered over the table.
        Index("ix_human_task_instance_due", "instance_id", "due_at", "completed_at", "status"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the SpiffWorkflow task id
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instance.id"))
    process_key: Mapped[str] = mapped_column(String(100))
    business_key: Mapped[str | None] = mapped_column(String(200))
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    role: Mapped[str | None] = mapped_column(String(64))
    org_code: Mapped[str | None] = mapped_column(String(64))
    org_path: Mapped[str] = mapped_column(String(600), default="", server_default="")
    why: Mapped[str] = mapped_column(Text)
    assignee: Mapped[str | None] = mapped_column(String(64))
    form_key: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))  # open, completed, cancelled
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[str | None] = mapped_column(String(64))
    # 委派: the official who delegated the task and must confirm it when it comes back.
    owner: Mapped[str | None] = mapped_column(String(64))
    # None, "pending" (worked by the delegate) or "resolved" (back with the owner to confirm).
    delegation: Mapped[str | None] = mapped_column(String(20))
    # 催办 raises it; the inbox sorts by it.
    priority: Mapped[int] = mapped_column(Integer, default=50, server_default="50")
    urged_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_urged_at: Mapped[datetime | None]


# The "priority" list's order: the most urgent first, each priority oldest first (0016).
Index("ix_human_task_priority", HumanTask.status, HumanTask.priority.desc(), HumanTask.created_at, HumanTask.id)


# --- audit -------------------------------------------------------------------------------------


class AuditEvent(Base):
    """Append-only, hash-chained history. Database triggers refuse UPDATE and DELETE."""

    __tablename__ = "audit_event"
    __table_args__ = (
        UniqueConstraint("stream", "seq"),
        Index("ix_audit_event_actor", "actor", "at"),
        Index("ix_audit_event_at", "at"),
        Index("ix_audit_event_action", "action", "at"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    stream: Mapped[str] = mapped_column(String(64))  # the instance id, or "system"
    seq: Mapped[int] = mapped_column(Integer)
    # The stream for an instance's events, None for the system's: reads go by the stream, which leads the
    # (stream, seq) key (its own index cost every command a page of the write; 0013).
    instance_id: Mapped[str | None] = mapped_column(String(36))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str | None] = mapped_column(String(64))
    actor_org: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    element_id: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditStream(Base):
    """Head of the chains that do not belong to an instance (deployments, org and people)."""

    __tablename__ = "audit_stream"
    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    head: Mapped[str] = mapped_column(String(64), default="")


class TaskComment(Base):
    """审批意见 and the reasons given for returns, withdrawals and urges, kept with the task."""

    __tablename__ = "task_comment"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36), index=True)
    element_id: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # comment, return, withdraw, urge, transfer, delegate
    username: Mapped[str] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(64))
    org_code: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


# --- access --------------------------------------------------------------------------------------


class ApiToken(Base):
    """Bearer tokens and browser sessions: only their sha256 is stored; they expire and can be revoked."""

    __tablename__ = "api_token"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(ForeignKey("user_account.username"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # bearer or session
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_hash: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class LoginAttempt(Base):
    """Sign-ins being checked and failed ones, counted per user and per address to slow down password guessing.

    `failed_at` is empty while the password is being checked; a right one deletes the row.
    """

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_user", "username", "at"),
        Index("ix_login_attempt_address", "address", "at"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    failed_at: Mapped[datetime | None] = mapped_column(default=None)


# --- the working-day calendar -------------------------------------------------------------------


class CalendarYear(Base):
    """A year whose holiday schedule is known: seeded from the published schedule or set by an admin."""

    __tablename__ = "calendar_year"
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(10))  # seed or admin
    changed_by: Mapped[str | None] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class CalendarDay(Base):
    """An exception to Monday-Friday: a holiday, or a weekend day worked to make up for one (调休)."""

    __tablename__ = "calendar_day"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    year: Mapped[int] = mapped_column(ForeignKey("calendar_year.year"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # holiday or workday
    name: Mapped[str] = mapped_column(String(100))


# --- rule tables and the registries the procedures write --------------------------------------------


class RuleSet(Base):
    """One version of a rule: its value, the law and article it comes from and the dates it is valid."""

    __tablename__ = "rule_set"
    __table_args__ = (UniqueConstraint("key", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(120), index=True)
    version: Mapped[int] = mapped_column(Integer)
    value: Mapped[dict | list | str | int | bool] = mapped_column(JSON)
    unit: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(String(500), default="")
    law: Mapped[str] = mapped_column(String(200))
    article: Mapped[str] = mapped_column(String(100), default="")
    legal_basis_version: Mapped[str] = mapped_column(String(40))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    assumed: Mapped[bool] = mapped_column(default=False)  # an [A] default an admin may change
    changed_by: Mapped[str | None] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class CommitteeLegalPerson(Base):
    """基层群众性自治组织特别法人: a committee's unified social credit code and certificate."""

    __tablename__ = "committee_legal_person"
    uscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    org_code: Mapped[str] = mapped_column(ForeignKey("org_unit.code"), index=True)
    name: Mapped[str] = mapped_column(String(300))  # the standard certificate name
    legal_representative: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))  # active or cancelled
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[datetime | None]
    # [{"at", "action": issued|changed|cancelled, "instance_id", "detail"}], oldest first.
    history: Mapped[list] = mapped_column(default=list)


class ServiceItem(Base):
    """One version of an entry of the delegation catalogue: who decides an item and how it is received."""

    __tablename__ = "service_item"
    __table_args__ = (UniqueConstraint("code", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    competent_level: Mapped[str] = mapped_column(String(20))  # subdistrict, district or municipal
    mode: Mapped[str] = mapped_column(String(20))  # direct or entrusted_intake
    decision_rule: Mapped[str] = mapped_column(String(40))
    # [{"code", "name", "held_by_government"}]: documents the government holds are pulled, not asked for.
    documents: Mapped[list] = mapped_column(default=list)
    catalogue_version: Mapped[str] = mapped_column(String(40))
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    assumed: Mapped[bool] = mapped_column(default=False)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    changed_by: Mapped[str | None] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class AssistMatterList(Base):
    """A published version of a list of assisted matters (scope "" is the city-wide list)."""

    __tablename__ = "assist_matter_list"
    __table_args__ = (UniqueConstraint("scope_code", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope_code: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_by: Mapped[str] = mapped_column(String(64))
    instance_id: Mapped[str | None] = mapped_column(String(36))
    note: Mapped[str] = mapped_column(Text, default="")


class AssistMatter(Base):
    """A matter on a list from list version `since_version` until (not including) `until_version`."""

    __tablename__ = "assist_matter"
    __table_args__ = (Index("ix_assist_matter_scope_code", "scope_code", "code", "until_version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope_code: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    requesting_dept: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))  # admitted or temporary
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    target: Mapped[str] = mapped_column(String(20), default="both")  # urban_rc, village_vc or both
    funding_amount: Mapped[int] = mapped_column(Integer, default=0)  # yuan a year
    funding_source: Mapped[str] = mapped_column(String(200), default="")
    effective_from: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)  # temporary admissions end by themselves
    next_review_on: Mapped[date | None] = mapped_column(Date)
    since_version: Mapped[int] = mapped_column(Integer)
    until_version: Mapped[int | None] = mapped_column(Integer)
    exit_reason: Mapped[str | None] = mapped_column(Text)
    instance_id: Mapped[str | None] = mapped_column(String(36))
    assumed: Mapped[bool] = mapped_column(default=False)


class MonitoringReport(Base):
    """A monitoring point's quarterly report of tasks pushed down without admission (居村减负)."""

    __tablename__ = "monitoring_report"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    monitoring_point: Mapped[str] = mapped_column(ForeignKey("org_unit.code"), index=True)
    matter_code: Mapped[str] = mapped_column(String(100), index=True)
    period: Mapped[str] = mapped_column(String(20))
    unlisted_tasks: Mapped[list] = mapped_column(default=list)
    hours: Mapped[int] = mapped_column(Integer, default=0)
    instance_id: Mapped[str | None] = mapped_column(String(36))
    reported_by: Mapped[str] = mapped_column(String(64))
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- 抄送 (the officials' workspace) ---------------------------------------------------------------


class TaskCopy(Base):
    """抄送: a step of a case copied to an official for their information; it opens the case to them to read."""

    __tablename__ = "task_copy"
    __table_args__ = (
        UniqueConstraint("task_id", "username"),
        Index("ix_task_copy_recipient", "username", "copied_at", "id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("human_task.id"))
    element_id: Mapped[str] = mapped_column(String(200))
    username: Mapped[str] = mapped_column(ForeignKey("user_account.username"))  # who receives the copy
    copied_by: Mapped[str] = mapped_column(String(64))  # an official, or "engine" when the process named them
    note: Mapped[str] = mapped_column(Text, default="")
    copied_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- registries of the deliberation and of delegated service items -------------------------------


class ConventionFiling(Base):
    """备案: a residents' convention, charter or village code filed with the subdistrict (township) and
    its legality review; one row per submission (a correction order is followed by a new filing)."""

    __tablename__ = "convention_filing"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_code: Mapped[str] = mapped_column(ForeignKey("org_unit.code"), index=True)  # the committee
    filed_to: Mapped[str] = mapped_column(ForeignKey("org_unit.code"))  # its subdistrict or township
    kind: Mapped[str] = mapped_column(String(30))  # residents_convention, self_gov_charter or village_code
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text, default="")
    resolution: Mapped[dict] = mapped_column(JSON, default=dict)  # the vote that adopted it and its rules
    status: Mapped[str] = mapped_column(String(20))  # under_review, filed or correction_ordered
    review_opinion: Mapped[str | None] = mapped_column(Text)
    correction_items: Mapped[str | None] = mapped_column(Text)
    instance_id: Mapped[str] = mapped_column(String(36), index=True)
    filed_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewed_at: Mapped[datetime | None]


class ServiceBenefit(Base):
    """A benefit granted through a delegated or entrusted service item: who, what, from when, how much."""

    __tablename__ = "service_benefit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_code: Mapped[str] = mapped_column(String(100), index=True)
    item_name: Mapped[str] = mapped_column(String(200))
    applicant_name: Mapped[str] = mapped_column(String(50))
    applicant_id_no: Mapped[str] = mapped_column(String(18))
    org_code: Mapped[str] = mapped_column(ForeignKey("org_unit.code"), index=True)  # where the applicant lives
    decided_level: Mapped[str] = mapped_column(String(20))  # subdistrict, district or municipal
    monthly_amount: Mapped[int | None] = mapped_column(Integer)  # yuan
    subsidy_share: Mapped[str | None] = mapped_column(String(20))  # of the service package, e.g. "1/2"
    start_month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    review_due_on: Mapped[date] = mapped_column(Date)
    decision_doc_no: Mapped[str] = mapped_column(String(50), default="")
    basis: Mapped[dict] = mapped_column(JSON, default=dict)  # the eligibility result and rules applied
    status: Mapped[str] = mapped_column(String(20))  # active
    instance_id: Mapped[str] = mapped_column(String(36), index=True)
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- jobs and message subscriptions (time and events) ---------------------------------------------


class Job(Base):
    """Work the engine does on its own when it falls due: fire a timer, deliver a thrown message, start
    instances from a timer start event. Written in the transaction of the command that made the wait;
    `govflow worker` claims due rows (FOR UPDATE SKIP LOCKED on PostgreSQL) and runs each as a command."""

    __tablename__ = "job"
    __table_args__ = (
        Index("ix_job_due", "status", "due_at"),
        Index("ix_job_definition", "definition_id"),
    )
    # A timer's job has the id of the SpiffWorkflow task that waits (stable while it waits, and for every
    # round of a cycle); other jobs have a uuid.
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[str | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    # For a timer start event: the process version whose start event it is (no instance yet).
    definition_id: Mapped[str | None] = mapped_column(ForeignKey("process_definition.id"))
    kind: Mapped[str] = mapped_column(String(20))  # timer, message or start_timer
    element_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="waiting")  # waiting, retrying, incident
    due_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_until: Mapped[datetime | None]
    # What the job needs beyond its element: a message's name, payload and correlation; a start timer's
    # expression and remaining rounds.
    payload: Mapped[dict] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MessageSubscription(Base):
    """A message an instance waits for (a catch event, a boundary event, a receive task), kept with the
    instance's business key so `POST /messages` finds the one instance a message is for without loading
    workflows. Replaced whenever the instance's waits change."""

    __tablename__ = "message_subscription"
    __table_args__ = (Index("ix_message_subscription_name", "name", "business_key"),)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instance.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    element_id: Mapped[str] = mapped_column(String(200))
    business_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- the auditor workspace ----------------------------------------------------------------------------


class SavedSearch(Base):
    """An auditor's saved instance search: a name and the filters, kept per user."""

    __tablename__ = "saved_search"
    __table_args__ = (UniqueConstraint("username", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(ForeignKey("user_account.username"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    filters: Mapped[dict] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditVerification(Base):
    """A replay of audit chains that `govflow worker` runs in the background (engine/commands/verifications.py):
    the scope asked for, the claim of the worker running it, its progress and its result."""

    __tablename__ = "audit_verification"
    __table_args__ = (Index("ix_audit_verification_status", "status", "requested_at"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    requested_by: Mapped[str] = mapped_column(ForeignKey("user_account.username"), index=True)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    instance_id: Mapped[str | None] = mapped_column(String(36))
    # The org paths the requester reached when asking; None: every chain, the system chain's and the
    # tombstones too (an auditor or admin at the root).
    paths: Mapped[list | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued, running, done, failed
    checked: Mapped[int] = mapped_column(Integer, default=0)
    ok: Mapped[bool | None]
    broken: Mapped[list] = mapped_column(default=list)  # the first BROKEN_KEPT breaks, in chain order
    broken_total: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_until: Mapped[datetime | None]


class StatisticsSnapshot(Base):
    """Auditors' statistics that took long to compute (a city's: tens of seconds), kept for FRESH_FOR and
    refreshed by `govflow worker` while someone reads them (engine/commands/statistics.py)."""

    __tablename__ = "statistics_snapshot"
    # sha256 of the scope: the org paths read (None: everything), the procedure and the start dates
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    scope: Mapped[dict] = mapped_column(default=dict)
    figures: Mapped[dict] = mapped_column(default=dict)
    computed_at: Mapped[datetime]
    seconds: Mapped[float] = mapped_column(Float)
    read_at: Mapped[datetime]
    refreshing_by: Mapped[str | None] = mapped_column(String(100))
    refreshing_until: Mapped[datetime | None]


class EngineSetting(Base):
    """A setting admins change at run time (e.g. how long finished instances are kept)."""

    __tablename__ = "engine_setting"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[dict | list | str | int | bool | None] = mapped_column(JSON)
    changed_by: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditTombstone(Base):
    """What a purged instance's audit chain was: its rows' hashes, kept after the rows are gone.

    Append-only like audit_event. The database lets an audit row be deleted only when a tombstone
    covering its stream and seq was written first (see migration 0006_audit), and every tombstone is
    recorded by an `instances_purged` event on the system chain.
    """

    __tablename__ = "audit_tombstone"
    stream: Mapped[str] = mapped_column(String(64), primary_key=True)  # the purged instance's id
    process_key: Mapped[str] = mapped_column(String(100))
    process_version: Mapped[int] = mapped_column(Integer)
    business_key: Mapped[str | None] = mapped_column(String(200))
    org_code: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    first_seq: Mapped[int] = mapped_column(Integer)
    last_seq: Mapped[int] = mapped_column(Integer)
    head_hash: Mapped[str] = mapped_column(String(64))  # the hash of the last purged row: the chain head
    hashes: Mapped[list] = mapped_column(default=list)  # every purged row's hash, in seq order
    purged_at: Mapped[datetime] = mapped_column(default=utcnow)
    purged_by: Mapped[str] = mapped_column(String(64))
    purge_seq: Mapped[int] = mapped_column(Integer)  # the system-chain event that recorded the purge


# --- the designer studio ---------------------------------------------------------------------------


class Draft(Base):
    """A designer's bundle in the making: a BPMN file with its forms and DMN files, not yet deployed.

    `process_key`/`base_version` say which deployed version it was opened from (None for a new or imported
    process); the files are kept in `draft_file`, one row each, replaced whenever the editor saves.
    """

    __tablename__ = "draft"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner: Mapped[str] = mapped_column(ForeignKey("user_account.username"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    process_key: Mapped[str | None] = mapped_column(String(100), index=True)
    base_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DraftFile(Base):
    """One file of a draft (.bpmn, .dmn or .form.json) as the editor last saved it."""

    __tablename__ = "draft_file"
    __table_args__ = (UniqueConstraint("draft_id", "filename"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    draft_id: Mapped[str] = mapped_column(ForeignKey("draft.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
