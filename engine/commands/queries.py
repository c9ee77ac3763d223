"""Reading: the inbox, instance search, audit events, the path on the diagram and case exports.

Every list is a page: `{items, next_cursor}`, ordered by a fixed key that ends in the row's id, paged by
keyset (the cursor holds the last row's sort values), never by offset. Every read keeps to the caller's
reach: rows whose org path lies at or below a unit where the caller holds a role.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, false, func, literal, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session, defer

from engine import case_file, deployments, org, paging, reach, views
from engine.audit import SYSTEM_STREAM
from engine.commands.base import COMPLETED, OPEN, EngineBase
from engine.diagram import ARRIVALS, diagram_path, with_recorded_visits
from engine.errors import NotAllowed, NotFound, RuleBroken
from engine.models import (
    AuditEvent,
    Blob,
    HumanTask,
    OrgUnit,
    ProcessDefinition,
    ProcessInstance,
    TaskComment,
    WorkflowTask,
    utcnow,
)
from engine.paging import SortKey, check_limit
from engine.principal import Principal
from engine.roles import ADMIN, AUDITOR, LANE_ROLES
from engine.spiff import runtime

SCOPES = ("mine", "candidate", "all")
INSTANCE_STATUSES = ("running", "completed", "cancelled", "suspended", "failed")
READERS_OF_EVERYTHING = (AUDITOR, ADMIN)


TASK_SORTS = {
    "created": (SortKey(HumanTask.created_at), SortKey(HumanTask.id)),
    "-created": (SortKey(HumanTask.created_at, descending=True), SortKey(HumanTask.id, descending=True)),
    "due": (SortKey(HumanTask.due_at, nullable=True), SortKey(HumanTask.created_at), SortKey(HumanTask.id)),
    "priority": (SortKey(HumanTask.priority, descending=True), SortKey(HumanTask.created_at), SortKey(HumanTask.id)),
}
INSTANCE_ORDER = (SortKey(ProcessInstance.started_at, descending=True), SortKey(ProcessInstance.id, descending=True))
EVENT_ORDER = (SortKey(AuditEvent.at), SortKey(AuditEvent.id))


def missed(now: datetime) -> ColumnElement[bool]:
    """A step missed its deadline: completed after its due time, or still open past it."""
    return and_(
        HumanTask.due_at.is_not(None),
        or_(
            HumanTask.completed_at > HumanTask.due_at,
            and_(HumanTask.status == OPEN, HumanTask.due_at < now),
        ),
    )


def reads_everything(by: Principal) -> bool:
    return by.is_system or any(h.role in READERS_OF_EVERYTHING for h in by.person.holdings)


def require_reader(by: Principal, sentence: str = "Only auditors and admins use the audit workspace.") -> None:
    """Refuse anyone but auditors and admins (and the system), with `sentence`."""
    if not reads_everything(by):
        raise NotAllowed(sentence, code="auditors_only")


def unindexed(column: InstrumentedAttribute) -> ColumnElement:
    """The column as an expression no index answers: `column || ''`, the same text, NULL where it is NULL.
    For a condition SQLite's planner must apply as a filter, not choose an index by."""
    return column.concat("")


def _unclaimed(dialect: str) -> ColumnElement[bool]:
    """`assignee IS NULL` as a filter that no index answers, on SQLite.

    SQLite's statistics hold one average per index prefix: about 84 tasks per assignee and status at city
    scale, as few as the candidate index finds for a role at a unit, while 70,000 tasks are unclaimed. On
    that tie SQLite takes whichever index it meets first, and where that was the assignee index it read
    every unclaimed task of the city for one inbox page (130 ms). PostgreSQL's statistics know the share
    of NULLs."""
    if dialect == "sqlite":
        return unindexed(HumanTask.assignee).is_(None)
    return HumanTask.assignee.is_(None)


def _candidate_tasks(by: Principal, dialect: str) -> ColumnElement[bool]:
    """Tasks nobody has claimed whose lane role the caller holds at the task's org unit.

    Each lane is its own conjunction with the unclaimed condition in it, so a database can answer every one
    from the candidate index (status, role, org_code, ...) and none from all the unclaimed tasks of the city."""
    unclaimed = _unclaimed(dialect)
    lanes = [
        and_(unclaimed, HumanTask.role == h.role, HumanTask.org_code == h.org_code)
        for h in by.person.holdings
        if h.role in LANE_ROLES
    ]
    units = sorted({h.org_code for h in by.person.holdings if h.role in LANE_ROLES})
    if units:  # a step in no lane with a known role: any official of its unit
        lanes.append(and_(unclaimed, HumanTask.role.is_(None), HumanTask.org_code.in_(units)))
    if not lanes:
        return false()
    return or_(*lanes)


def _prefix(column: InstrumentedAttribute, text: str, dialect: str) -> ColumnElement[bool]:
    """The column starts with `text`. SQLite's LIKE ignores ASCII case, so no index serves it: there the
    prefix is also a range on the column (binary order), which its index answers; LIKE still decides."""
    starts = column.startswith(text, autoescape=True)
    if dialect != "sqlite" or not text or ord(text[-1]) >= 0x10FFFF:
        return starts
    after = ord(text[-1]) + 1
    if 0xD800 <= after <= 0xDFFF:  # no text holds a lone surrogate: the next character is U+E000
        after = 0xE000
    return and_(column >= text, column < text[:-1] + chr(after), starts)


# A search filter that matches fewer rows than this is answered from those rows (their index), one that
# matches more by walking the newest cases until a page is full; counting up to it decides, in bounded time.
FEW_ROWS = 5000


def _fewer_than(session: Session, rows: Select, n: int) -> bool:
    """Whether `rows` has fewer than n rows, counting at most n of them."""
    # Counted on a constant: the index that answers the condition is read alone, where selecting a column
    # it does not hold read a table row per match (10 ms for a district's first 5,000 cases).
    counted = rows.with_only_columns(literal(1)).limit(n).subquery()
    return session.execute(select(func.count()).select_from(counted)).scalar_one() < n


# A search text found in at most this many business keys has their cases' tasks read first (see _task_text).
FEW_KEYS = 1000
TRIGRAM = 3  # characters: the shortest text a trigram index finds rows by


def _task_text(session: Session, listed: Select, text: str, dialect: str) -> tuple[ColumnElement[bool], Select | None]:
    """The task's name or its case's business key holds `text`; and the cases to read the tasks of first, or
    None to walk the list.

    No index serves a search inside a column, so the list is walked in its order until a page is full of
    matches: quick when the text names a step (most cases have it) or when few tasks are listed. A text
    found only in a few cases' business keys (an auditor looking up a case) walked every listed task:
    900,000 done tasks of a city, 2 s on SQLite and 0.4-4.4 s on PostgreSQL. There the cases are found
    first and only their tasks are read: on PostgreSQL from the keys' trigrams (7-10 ms at city scale), on
    SQLite in one pass over the business key index (about 25 ms for 366,000 cases).
    """
    found = or_(_holds(HumanTask.name, text, dialect), _holds(HumanTask.business_key, text, dialect))
    if _names_a_step(session, text) or _fewer_than(session, listed, FEW_ROWS):
        return found, None
    key = ProcessInstance.business_key
    if len(text) < TRIGRAM and dialect == "postgresql":
        # PostgreSQL finds the cases from the keys' trigrams (migration 0019). A shorter text has none: through
        # that index it read every entry (250 ms for a city), where a pass over the rows takes 100 ms.
        key = unindexed(key)
    keys = select(ProcessInstance.business_key).where(_holds(key, text, dialect)).distinct().limit(FEW_KEYS + 1)
    found_in = session.execute(keys).scalars().all()
    if len(found_in) > FEW_KEYS:
        return found, None
    # A task holds its case's business key, set when the case started and never changed.
    return found, select(ProcessInstance.id).where(ProcessInstance.business_key.in_(found_in))


def _holds(column: ColumnElement, text: str, dialect: str) -> ColumnElement[bool]:
    """The column holds `text`, ignoring case. SQLite's LIKE ignores ASCII case by itself and its lower()
    knows no other, so there both sides' lower() only cost time: a pass over a city's business keys took
    64 ms with it, 22 ms without."""
    if dialect == "sqlite":
        return column.contains(text, autoescape=True)
    return column.icontains(text, autoescape=True)


def _names_a_step(session: Session, text: str) -> bool:
    """Whether the name of a user task of any deployed process holds `text` (ignoring case): a task's name
    is its step's, as the deployment recorded it (trimmed; the element id where it has none)."""
    wanted = text.lower()
    for (user_tasks,) in session.execute(select(ProcessDefinition.user_tasks)):
        for info in user_tasks.values():
            name = info.get("name") if isinstance(info, dict) else None
            if not isinstance(name, str) or wanted in name.lower():
                return True  # a step recorded without its name might be named so
    return False


def _acted_in(session: Session, actor: str) -> ColumnElement[bool]:
    """The instances `actor` did something in (any audit event), in the plan that suits how much they did.

    A person acts in few of a city's cases: their cases come from their events' index, where a walk of the
    newest cases probing each one's events would visit nearly all of them (seconds at city scale). The
    engine or a busy office acts in most cases: there the walk finds a page at once, where collecting
    every case they touched would read millions of events.
    """
    acted = select(AuditEvent.instance_id).where(AuditEvent.actor == actor)
    if _fewer_than(session, acted, FEW_ROWS):
        return ProcessInstance.id.in_(acted)
    return acted.where(AuditEvent.stream == ProcessInstance.id).exists()


class Queries(EngineBase):
    """Reads answered from indexed columns; every read checks the caller's reach."""

    def _at_city(self, session: Session, by: Principal) -> bool:
        """System callers, and auditors or admins at a root of the org tree, read the system stream."""
        if by.is_system:
            return True
        codes = {h.org_code for h in by.person.holdings if h.role in READERS_OF_EVERYTHING}
        roots = select(OrgUnit.code).where(OrgUnit.code.in_(codes), OrgUnit.parent_code.is_(None))
        return bool(codes) and session.execute(roots.limit(1)).first() is not None

    def _instances_in_reach(self, session: Session, by: Principal) -> ColumnElement[bool]:
        """The instances within the caller's reach; nothing at all (true) when it takes in every root of
        the org tree, e.g. a city auditor's: a range over every row only misleads the planner."""
        if by.is_system:
            return true()
        paths = reach.reach_paths(session, by)
        if reach.takes_in_every_root(session, paths):
            return true()
        return self._instances_in_units(session, paths)

    def _instances_in_units(self, session: Session, paths: list[str]) -> ColumnElement[bool]:
        """The instances at or below the units of `paths`, in the plan that suits how many they hold.

        On SQLite, units holding many cases (a district's 21,000 at city scale) are put as a range its
        planner cannot answer from the org path index: it read every case of the range and sorted them
        for one page, 90-130 ms, where walking the newest cases finds a page within a few hundred rows.
        Units with few cases are read from that index as ever.
        """
        within = reach.within(ProcessInstance.org_path, paths)
        if self.dialect != "sqlite" or _fewer_than(session, select(ProcessInstance.id).where(within), FEW_ROWS):
            return within
        return reach.within(unindexed(ProcessInstance.org_path), paths)

    def _fenced(self, session: Session, condition: ColumnElement[bool]) -> ColumnElement[bool]:
        """On PostgreSQL, instances matching `condition` taken first, then sorted, when they are few.

        PostgreSQL guesses how many cases a business-key prefix matches from its statistics and, guessing
        thousands spread over time, walks the newest cases for a page: for a prefix of old, finished cases
        that walk passes every running case first (100 ms and more at city scale). Counted few, the
        matches are fenced in a materialized CTE the planner cannot fold back into the walk (a plain IN
        subquery it does fold: 400 ms). SQLite answers the prefix from its index range as it is.
        """
        if self.dialect != "postgresql":
            return condition
        matching = select(ProcessInstance.id).where(condition)
        if not _fewer_than(session, matching, FEW_ROWS):
            return condition
        fence = matching.cte("matching").prefix_with("MATERIALIZED")
        return ProcessInstance.id.in_(select(fence.c.id))

    def _readable_instance(self, session: Session, instance_id: str, by: Principal) -> ProcessInstance:
        instance = session.get(ProcessInstance, instance_id)
        if instance is None:
            raise NotFound(f"There is no process instance {instance_id}.", code="no_instance", id=instance_id)
        if not by.is_system and not any(instance.org_path.startswith(p) for p in reach.reach_paths(session, by)):
            raise NotAllowed(
                f"{by.username} may not see instances of org unit {instance.org_code}.",
                code="out_of_reach",
                user=by.username,
                unit=instance.org_code,
            )
        return instance

    # --- the inbox -----------------------------------------------------------------------------

    def _tasks_in_reach(self, session: Session, by: Principal) -> ColumnElement[bool]:
        """The human tasks within the caller's reach; no condition at all when it takes in every root."""
        if by.is_system:
            return true()
        paths = reach.reach_paths(session, by)
        return true() if reach.takes_in_every_root(session, paths) else reach.within(HumanTask.org_path, paths)

    def _task_scope(self, by: Principal, scope: str, status: str, in_reach: ColumnElement[bool]) -> ColumnElement[bool]:
        if scope not in SCOPES:
            raise RuleBroken(
                "scope must be mine, candidate or all.", code="bad_choice", name="scope", choices="mine, candidate, all"
            )
        mine = (HumanTask.completed_by if status == COMPLETED else HumanTask.assignee) == by.username
        if by.is_system:
            return {"mine": mine, "candidate": HumanTask.assignee.is_(None), "all": true()}[scope]
        if scope == "mine":
            chosen = mine
        elif scope == "candidate":
            chosen = _candidate_tasks(by, self.dialect)
        elif reads_everything(by):
            chosen = true()  # auditors and admins: every task within their reach
        else:
            chosen = or_(mine, _candidate_tasks(by, self.dialect))
        return and_(chosen, in_reach)

    def inbox(
        self,
        by: Principal,
        scope: str = "mine",
        status: str = OPEN,
        process_key: str | None = None,
        org_unit: str | None = None,
        due_before: datetime | None = None,
        q: str | None = None,
        sort: str = "created",
        cursor: str | None = None,
        limit: int = 50,
    ) -> dict:
        """An official's tasks, one page: mine (assigned to me; completed: completed by me), candidate
        (unclaimed, for a role I hold at the task's unit) or all (both; auditors and admins: every task
        within their reach). `org_unit` takes its whole subtree; `q` matches name or business key."""
        if status not in (OPEN, COMPLETED):
            raise RuleBroken(
                "status must be open or completed.", code="bad_choice", name="status", choices="open, completed"
            )
        if sort not in TASK_SORTS:
            raise RuleBroken(
                f"sort must be one of {', '.join(TASK_SORTS)}.",
                code="bad_choice",
                name="sort",
                choices=", ".join(TASK_SORTS),
            )
        check_limit(limit)
        with self.reading() as session:
            in_reach = self._tasks_in_reach(session, by)
            conditions = [self._task_scope(by, scope, status, in_reach)]
            if process_key:
                conditions.append(HumanTask.process_key == process_key)
            if org_unit:
                conditions.append(reach.within(HumanTask.org_path, [org.get_unit(session, org_unit).path]))
            if due_before is not None:
                conditions.append(HumanTask.due_at < due_before)
            of_status = HumanTask.status == status
            if q and q.strip():
                listed = select(HumanTask).where(of_status, *conditions)
                found, cases = _task_text(session, listed, q.strip(), self.dialect)
                conditions.append(found)
                if cases is not None:
                    conditions.append(HumanTask.instance_id.in_(cases))
                    if self.dialect == "sqlite":
                        # Without statistics (no ANALYZE) SQLite took the status index in the list's order over
                        # the cases' tasks, and walked every task of the status again.
                        of_status = unindexed(HumanTask.status) == status
            query = select(HumanTask).where(of_status, *conditions)
            return paging.page(session, query, TASK_SORTS[sort], f"tasks:{sort}", cursor, limit, views.inbox_item)

    def task_counts(self, by: Principal) -> dict[str, int]:
        """How many tasks each inbox tab holds: mine and candidate (open), completed (by me)."""
        with self.reading() as session:
            in_reach = self._tasks_in_reach(session, by)

            def count(scope: str, status: str) -> int:
                query = select(func.count()).select_from(HumanTask)
                query = query.where(HumanTask.status == status, self._task_scope(by, scope, status, in_reach))
                return session.execute(query).scalar_one()

            return {
                "mine": count("mine", OPEN),
                "candidate": count("candidate", OPEN),
                "completed": count("mine", COMPLETED),
            }

    # --- instances and their history ------------------------------------------------------------

    def list_instances(
        self,
        by: Principal,
        process_key: str | None = None,
        status: str | None = None,
        org_unit: str | None = None,
        q: str | None = None,
        started_from: datetime | None = None,
        started_to: datetime | None = None,
        cursor: str | None = None,
        limit: int = 50,
        actor: str | None = None,
        missed_deadline: bool | None = None,
    ) -> dict:
        """Instances within reach, newest first; `q` is a business-key prefix or an instance id;
        started_from is inclusive, started_to exclusive. `actor`: instances that user did something in
        (any audit event); `missed_deadline`: instances with (True) or without (False) a step that was
        completed after its due time or is still open past it."""
        if status is not None and status not in INSTANCE_STATUSES:
            raise RuleBroken(
                f"status must be one of {', '.join(INSTANCE_STATUSES)}.",
                code="bad_choice",
                name="status",
                choices=", ".join(INSTANCE_STATUSES),
            )
        check_limit(limit)
        with self.reading() as session:
            query = select(ProcessInstance).options(
                defer(ProcessInstance.state), defer(ProcessInstance.variables), defer(ProcessInstance.error)
            )
            if org_unit:
                unit_path = org.get_unit(session, org_unit).path
                query = query.where(self._instances_in_units(session, reach.reach_at(session, by, unit_path)))
            else:
                query = query.where(self._instances_in_reach(session, by))
            if process_key:
                query = query.where(ProcessInstance.process_key == process_key)
            if status:
                query = query.where(ProcessInstance.status == status)
            if q and q.strip():
                text = q.strip()
                named = or_(_prefix(ProcessInstance.business_key, text, self.dialect), ProcessInstance.id == text)
                query = query.where(self._fenced(session, named))
            if started_from is not None:
                query = query.where(ProcessInstance.started_at >= started_from)
            if started_to is not None:
                query = query.where(ProcessInstance.started_at < started_to)
            if actor:
                query = query.where(_acted_in(session, actor))
            if missed_deadline is not None:
                # Only columns of ix_human_task_instance_due: the probe never reads a task's row.
                late = select(HumanTask.instance_id).where(
                    HumanTask.instance_id == ProcessInstance.id, missed(utcnow())
                )
                query = query.where(late.exists() if missed_deadline else ~late.exists())
            return paging.page(session, query, INSTANCE_ORDER, "instances", cursor, limit, views.instance_summary)

    def audit_events(
        self,
        by: Principal,
        instance_id: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        at_from: datetime | None = None,
        at_to: datetime | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> dict:
        """Audit events within reach, oldest first: instance events by the instance's org path, the
        system stream (deployments, org, people) only for auditors and admins at the root. at_from is
        inclusive, at_to exclusive."""
        check_limit(limit)
        with self.reading() as session:
            query = select(AuditEvent)
            if instance_id is not None:
                self._readable_instance(session, instance_id, by)
                query = query.where(AuditEvent.stream == instance_id)
            elif not by.is_system:
                in_reach = reach.within(ProcessInstance.org_path, reach.reach_paths(session, by))
                system = AuditEvent.stream == SYSTEM_STREAM if self._at_city(session, by) else false()
                cases = select(ProcessInstance.id).where(in_reach)
                if _fewer_than(session, cases, FEW_ROWS):
                    # A committee's or a subdistrict's cases: their events by the trail's key, then sorted. Walking
                    # the city's events in time order and probing each one's case read most of 2.5 million
                    # events for a committee official's first page (1-2 s at city scale).
                    query = query.where(or_(AuditEvent.stream.in_(cases), system))
                else:
                    query = query.outerjoin(ProcessInstance, ProcessInstance.id == AuditEvent.instance_id).where(
                        or_(in_reach, system)
                    )
            if actor:
                query = query.where(AuditEvent.actor == actor)
            if action:
                query = query.where(AuditEvent.action == action)
            if at_from is not None:
                query = query.where(AuditEvent.at >= at_from)
            if at_to is not None:
                query = query.where(AuditEvent.at < at_to)
            return paging.page(session, query, EVENT_ORDER, "events", cursor, limit, views.audit_event)

    def path(self, instance_id: str, by: Principal) -> dict:
        """What the diagram marks: elements completed and active, sequence flows taken, repeat visits."""
        with self.reading() as session:
            instance = self._readable_instance(session, instance_id, by)
            definition = session.get(ProcessDefinition, instance.definition_id)
            spec, subprocess_specs = self.store.spec_for(session, definition)
            rows = session.execute(
                select(WorkflowTask.id, WorkflowTask.workflow_id, WorkflowTask.state, WorkflowTask.body)
                .where(WorkflowTask.instance_id == instance.id)
                .order_by(WorkflowTask.seq)
            )
            tasks = runtime.stored_tasks(spec, subprocess_specs, instance.state, rows)
            arrived_at = session.execute(
                select(AuditEvent.element_id).where(AuditEvent.stream == instance.id, AuditEvent.action.in_(ARRIVALS))
            ).scalars()
            return with_recorded_visits(diagram_path(tasks, definition.sequence_flows), arrived_at)

    def export_case(self, instance_id: str, by: Principal, format: str = "json") -> dict | str:
        """The whole case for the file: JSON (instance, tasks, events, comments, definition, chain head)
        or the same case as one CSV text in sections (engine/case_file.py)."""
        if format not in ("json", "csv"):
            raise RuleBroken("format must be json or csv.", code="bad_choice", name="format", choices="json, csv")
        with self.reading() as session:
            instance = self._readable_instance(session, instance_id, by)
            events = list(
                session.execute(
                    select(AuditEvent)
                    .where(AuditEvent.stream == instance.id, AuditEvent.seq <= instance.audit_seq)
                    .order_by(AuditEvent.seq)
                ).scalars()
            )
            definition = session.get(ProcessDefinition, instance.definition_id)
            tasks = session.execute(
                select(HumanTask)
                .where(HumanTask.instance_id == instance.id)
                .order_by(HumanTask.created_at, HumanTask.id)
            ).scalars()
            comments = session.execute(
                select(TaskComment)
                .where(TaskComment.instance_id == instance.id)
                .order_by(TaskComment.at, TaskComment.id)
            ).scalars()
            blob = session.get(Blob, definition.bpmn_sha256)
            xml = blob.content.decode("utf-8", errors="replace") if blob is not None else None
            case = views.case_export(instance, definition, list(tasks), events, list(comments), xml)
            return case_file.case_csv(case) if format == "csv" else case

    # --- definitions -----------------------------------------------------------------------------

    def get_definition(self, key: str, version: int | None = None) -> dict:
        """One deployed version (default: the latest) with its user tasks, forms and sequence flows."""
        with self.reading() as session:
            return views.definition_detail(deployments.find_definition(session, key, version))

    def definition_xml(self, key: str, version: int | None = None) -> str:
        """The BPMN XML deployed as that version (default: the latest)."""
        with self.reading() as session:
            definition = deployments.find_definition(session, key, version)
            blob = session.get(Blob, definition.bpmn_sha256)
            if blob is None:
                raise NotFound(
                    f"The BPMN of {key!r} version {definition.version} is missing from the database.",
                    code="bpmn_missing",
                    process=key,
                    version=definition.version,
                )
            return blob.content.decode("utf-8", errors="replace")
