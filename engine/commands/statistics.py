"""Statistics for auditors, per procedure and org unit: instances by status, how long each step takes
(median and 90th percentile), how often deadlines are missed, and the task load on committees.

The task load (the burden-reduction monitoring view, 居村减负) counts the user tasks that became ready at
a committee-level org unit, by the month they were created (Beijing time) and by the department that
pushed them: the instance variable `requesting_dept` when the process data names one; else the
requesting department the list of assisted matters records for the matter the process declares
(`assistedMatter`); else `self_governance` for the committee's own affairs (`matterKind=self_governance`);
else `statutory_duty` for work a statute gives committees in a government's procedure
(`matterKind=statutory_duty`); else `undeclared` (processes deployed before a declaration was required).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, extract, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import admission, org, reach
from engine.audit import canonical_json
from engine.calendar import BEIJING
from engine.cancel import cancelled_when
from engine.commands.base import CANCELLED, COMPLETED, EngineBase
from engine.commands.queries import missed, require_reader, unindexed
from engine.errors import DatabaseUnavailable
from engine.models import (
    AssistMatter,
    Blob,
    HumanTask,
    OrgUnit,
    ProcessDefinition,
    ProcessInstance,
    StatisticsSnapshot,
    utcnow,
)
from engine.principal import Principal
from engine.roles import Level
from engine.views import iso

# China keeps no summer time: a Beijing month is a UTC time plus a fixed offset, in either database.
BEIJING_OFFSET = BEIJING.utcoffset(None)
SELF_GOVERNANCE, STATUTORY_DUTY, UNDECLARED = "self_governance", "statutory_duty", "undeclared"
STATUSES = ("running", "completed", "cancelled", "suspended", "failed")
# The step durations' percentiles, in tenths: the median and the 90th.
PERCENTILES = {"median_seconds": 5, "p90_seconds": 9}

# Figures slower than this to compute are kept; kept ones are served while fresh and refreshed by workers
# while someone reads them (every READ_MARK at most a reader marks one read).
SNAPSHOT_SLOWER_THAN = 2.0  # seconds
FRESH_FOR = timedelta(minutes=10)
KEEP_READ = timedelta(days=1)
READ_MARK = timedelta(hours=1)
REFRESH_CLAIM = timedelta(minutes=10)


def _done(status: ColumnElement = HumanTask.status) -> ColumnElement[bool]:
    """A step done: what the counts call completed and whose duration the percentiles rank."""
    return and_(status == COMPLETED, HumanTask.completed_at.is_not(None))


DONE = _done()


class StatisticsQueries(EngineBase):
    def procedure_statistics(
        self,
        by: Principal,
        process_key: str | None = None,
        org_unit: str | None = None,
        started_from: datetime | None = None,
        started_to: datetime | None = None,
    ) -> dict:
        """Auditors' and admins' figures over the instances within their reach that match the filters, and
        `as_of`: when they were computed.

        Every figure is counted, ranked and grouped by the database: at city scale (a million tasks) reading
        the rows out took tens of seconds and named every case in one statement, more than a statement may
        carry (a 503). Still, a city's figures take 6-34 s: a computation slower than SNAPSHOT_SLOWER_THAN
        is kept, served while it is fresh and refreshed by `govflow worker` (`refresh_statistics`).
        """
        require_reader(by, "Only auditors and admins read the statistics.")
        now, fresh = utcnow(), None
        with self.reading() as session:
            scope = _scope(session, by, process_key, org_unit, started_from, started_to)
            key = _key(scope)
            kept = session.get(StatisticsSnapshot, key)
            if kept is not None and kept.computed_at >= now - FRESH_FOR:
                fresh = (dict(kept.figures) | {"as_of": iso(kept.computed_at)}, kept.read_at)
        if fresh is not None:
            figures, read_at = fresh
            if read_at < now - READ_MARK:  # the worker keeps read snapshots fresh; a mark an hour is enough
                with self.transaction() as session:
                    session.execute(update(StatisticsSnapshot).where(StatisticsSnapshot.key == key).values(read_at=now))
            return figures
        figures, seconds = self._compute_statistics(scope)
        if kept is not None or seconds >= SNAPSHOT_SLOWER_THAN:
            self._keep_statistics(key, scope, figures, seconds, read_at=now)
        return figures

    def refresh_statistics(self, worker: str, stopping: Callable[[], bool] = lambda: False) -> int:
        """Recompute the snapshots read in the last KEEP_READ that are half their freshness old, each once
        however many workers run; forget those nobody read for that long. How many were recomputed.

        When `stopping()` turns true the computation in hand is cancelled and its claim given back, for the
        next worker to take (a city's figures are tens of seconds of SQL on SQLite)."""
        now = utcnow()
        unread = StatisticsSnapshot.read_at < now - KEEP_READ
        with self.reading() as session:  # a look first: on SQLite a write transaction is a durable commit
            forgotten = session.execute(select(StatisticsSnapshot.key).where(unread).limit(1)).first()
            due = (
                session.execute(
                    select(StatisticsSnapshot.key).where(
                        ~unread,
                        StatisticsSnapshot.computed_at < now - FRESH_FOR / 2,
                        _unclaimed(now),
                    )
                )
                .scalars()
                .all()
            )
        if forgotten is not None:
            with self.transaction() as session:
                session.execute(delete(StatisticsSnapshot).where(unread))
        refreshed = 0
        for key in due:
            if stopping():
                break
            with self.transaction() as session:
                claimed = session.execute(
                    update(StatisticsSnapshot)
                    .where(StatisticsSnapshot.key == key, _unclaimed(now))
                    .values(refreshing_by=worker, refreshing_until=utcnow() + REFRESH_CLAIM)
                ).rowcount
                scope = session.get(StatisticsSnapshot, key).scope if claimed == 1 else None
            if scope is None:
                continue  # another worker refreshes it
            try:
                figures, seconds = self._compute_statistics(scope, stopping)
            except DatabaseUnavailable:
                if not stopping():
                    raise
                self._give_back(key, worker)
                break
            self._keep_statistics(key, scope, figures, seconds)
            refreshed += 1
        return refreshed

    def _give_back(self, key: str, worker: str) -> None:
        """Give a claimed refresh back unfinished: the next worker's look finds it due."""
        with self.transaction() as session:
            session.execute(
                update(StatisticsSnapshot)
                .where(StatisticsSnapshot.key == key, StatisticsSnapshot.refreshing_by == worker)
                .values(refreshing_by=None, refreshing_until=None)
            )

    def _compute_statistics(self, scope: dict, stopping: Callable[[], bool] = lambda: False) -> tuple[dict, float]:
        started, clock = utcnow(), time.perf_counter()
        with self.reading() as session, cancelled_when(session, stopping):
            matching = _matching(scope)
            figures = {
                "instances": _by_status(session, matching),
                "steps": _steps(session, matching, self.dialect),
                "committee_load": _committee_load(session, matching, self.dialect),
                "as_of": iso(started),
            }
        return figures, time.perf_counter() - clock

    def _keep_statistics(
        self, key: str, scope: dict, figures: dict, seconds: float, read_at: datetime | None = None
    ) -> None:
        """Keep figures unless later ones are kept already (two computations raced)."""
        computed_at = datetime.fromisoformat(figures["as_of"])
        try:
            with self.transaction() as session:
                kept = session.get(StatisticsSnapshot, key)
                if kept is None:
                    session.add(
                        StatisticsSnapshot(
                            key=key,
                            scope=scope,
                            figures=figures,
                            computed_at=computed_at,
                            seconds=seconds,
                            read_at=read_at or computed_at,
                        )
                    )
                elif kept.computed_at <= computed_at:
                    kept.figures, kept.computed_at, kept.seconds = figures, computed_at, seconds
                    kept.refreshing_by = kept.refreshing_until = None
                    if read_at is not None:
                        kept.read_at = read_at
        except IntegrityError:
            pass  # another reader kept the same scope's figures meanwhile: theirs stand


def _unclaimed(now: datetime) -> ColumnElement[bool]:
    """No worker refreshes the snapshot: never claimed, given back, or its claim ran out."""
    return or_(StatisticsSnapshot.refreshing_until.is_(None), StatisticsSnapshot.refreshing_until < now)


def _scope(
    session: Session,
    by: Principal,
    process_key: str | None,
    org_unit: str | None,
    started_from: datetime | None,
    started_to: datetime | None,
) -> dict:
    """What the figures are of, as JSON: the org paths read (None: every unit), the procedure, the dates."""
    paths = None
    if org_unit:
        paths = reach.reach_at(session, by, org.get_unit(session, org_unit).path)
    elif not by.is_system:
        reached = reach.reach_paths(session, by)
        if not reach.takes_in_every_root(session, reached):
            paths = reached
    return {
        "paths": paths,
        "process_key": process_key,
        "started_from": iso(started_from),
        "started_to": iso(started_to),
    }


def _key(scope: dict) -> str:
    return hashlib.sha256(canonical_json(scope).encode()).hexdigest()


def _matching(scope: dict) -> ColumnElement[bool] | None:
    """The instances a scope takes in; None for all of them."""
    conditions = []
    if scope["paths"] is not None:
        conditions.append(reach.within(ProcessInstance.org_path, scope["paths"]))
    if scope["process_key"]:
        conditions.append(ProcessInstance.process_key == scope["process_key"])
    if scope["started_from"]:
        conditions.append(ProcessInstance.started_at >= datetime.fromisoformat(scope["started_from"]))
    if scope["started_to"]:
        conditions.append(ProcessInstance.started_at < datetime.fromisoformat(scope["started_to"]))
    return and_(*conditions) if conditions else None


def _where(query, matching):  # noqa: ANN001, ANN202 - a select, narrowed when there are filters
    return query if matching is None else query.where(matching)


def _of_matching_instances(query, matching):  # noqa: ANN001, ANN202 - a select of human tasks
    """The tasks of the matching instances: joined to their instance only when a filter reads it (over the
    whole city that join is a million lookups for nothing)."""
    if matching is None:
        return query
    return query.join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id).where(matching)


def _by_status(session: Session, matching) -> dict[str, int]:  # noqa: ANN001
    counts = dict.fromkeys(STATUSES, 0)
    query = select(ProcessInstance.status, func.count()).group_by(ProcessInstance.status)
    for status, count in session.execute(_where(query, matching)):
        counts[status] = count
    return counts


def _counted(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


def _seconds(start: Any, end: Any, dialect: str) -> ColumnElement:
    """`end - start` in seconds, to the millisecond (SQLite's date functions keep no finer time)."""
    if dialect == "sqlite":
        return func.round((func.julianday(end) - func.julianday(start)) * 86400.0, 3)
    return func.round(extract("epoch", end - start), 3)


def _steps(session: Session, matching, dialect: str) -> list[dict]:  # noqa: ANN001
    """Per step of each procedure: how many were done, median and p90 duration, deadlines missed."""
    step = (HumanTask.process_key, HumanTask.element_id)
    with_due = and_(HumanTask.due_at.is_not(None), HumanTask.status != CANCELLED)
    query = select(
        *step,
        func.max(HumanTask.name),
        func.count(),
        _counted(DONE),
        _counted(with_due),
        _counted(and_(with_due, missed(utcnow()))),
    ).group_by(*step)
    durations = _ranked_durations(session, matching, dialect)
    steps = []
    for key, element, name, total, completed, due, late in session.execute(_of_matching_instances(query, matching)):
        ranked = durations.get((key, element))
        steps.append(
            {
                "process_key": key,
                "element_id": element,
                "name": name,
                "tasks": total,
                "completed": completed,
                # The ranks' own count: a task completed between the two statements is in one of them only.
                **{f: ranked.percentile(tenths) if ranked else None for f, tenths in PERCENTILES.items()},
                "with_due": due,
                "overdue": late,
                "overdue_rate": late / due if due else None,
            }
        )
    return sorted(steps, key=lambda s: (s["process_key"], s["element_id"]))


def _ranked_durations(session: Session, matching, dialect: str) -> dict[tuple[str, str], Ranked]:  # noqa: ANN001
    """Per step, how many tasks were completed and their durations at the ranks the percentiles read, and no
    others: the database ranks every duration, only those few rows come back."""
    done = DONE
    if matching is None and dialect == "sqlite":
        # Nine in ten of all tasks are done: SQLite read a city's 900,000 through the status index, a row
        # looked up for each, in 3.2 s; a scan of the table reads them in 1.1 s.
        done = _done(unindexed(HumanTask.status))
    durations = select(
        HumanTask.process_key,
        HumanTask.element_id,
        _seconds(HumanTask.created_at, HumanTask.completed_at, dialect).label("seconds"),
    ).where(done)
    durations = _of_matching_instances(durations, matching).subquery()
    # One window for both, the count's frame the whole partition: a single sort of the durations (a count
    # over the partition alone was a second sort of them on SQLite).
    window = {"partition_by": (durations.c.process_key, durations.c.element_id), "order_by": durations.c.seconds}
    ranked = select(
        durations,
        (func.row_number().over(**window) - 1).label("rank"),
        func.count().over(**window, rows=(None, None)).label("n"),
    ).subquery()
    wanted = [ranked.c.rank == (ranked.c.n - 1) * tenths // 10 + k for tenths in PERCENTILES.values() for k in (0, 1)]
    found: dict[tuple[str, str], Ranked] = {}
    rows = select(ranked.c.process_key, ranked.c.element_id, ranked.c.n, ranked.c.rank, ranked.c.seconds)
    for key, element, n, rank, value in session.execute(rows.where(or_(*wanted))):
        found.setdefault((key, element), Ranked(n, {})).values[rank] = float(value)
    return found


@dataclass
class Ranked:
    """A step's n completed durations, those at the ranks its percentiles read (0-based rank -> seconds)."""

    n: int
    values: dict[int, float]

    def percentile(self, tenths: int) -> float:
        """The value below which `tenths`/10 of the n values lie, linear between the two nearest ranks."""
        low, rest = divmod((self.n - 1) * tenths, 10)
        high = min(low + 1, self.n - 1)
        return self.values[low] + (self.values[high] - self.values[low]) * rest / 10


def _beijing_month(at: Any, dialect: str) -> ColumnElement[str]:
    """The month of a UTC time in Beijing ("2026-12"), by the database."""
    if dialect == "sqlite":
        return func.strftime("%Y-%m", at, f"{BEIJING_OFFSET.total_seconds():+.0f} seconds")
    return func.to_char(func.timezone("UTC", at) + BEIJING_OFFSET, "YYYY-MM")


def _text_variable(variables: Any, name: str, dialect: str) -> ColumnElement[str]:
    """A process variable's value where it is text; NULL where it is missing or anything else."""
    if dialect == "sqlite":
        path = f"$.{name}"
        return case((func.json_type(variables, path) == "text", func.json_extract(variables, path)))
    return case((func.json_typeof(variables.op("->")(name)) == "string", variables.op("->>")(name)))


def _committee_load(session: Session, matching, dialect: str) -> dict:  # noqa: ANN001
    """Tasks created at committee-level units, by committee, month (Beijing time) and pushing department."""
    month = _beijing_month(HumanTask.created_at, dialect).label("month")
    named = _text_variable(ProcessInstance.variables, "requesting_dept", dialect).label("named")
    groups = (HumanTask.org_code, OrgUnit.name, month, ProcessInstance.definition_id, named)
    query = (
        select(*groups, func.count())
        .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
        .join(OrgUnit, OrgUnit.code == HumanTask.org_code)
        .where(OrgUnit.level == Level.COMMITTEE.value)
        .group_by(*groups)
    )
    rows = session.execute(_where(query, matching)).all()
    by_definition = _definition_departments(session, {r.definition_id for r in rows})
    load: dict[str, dict] = {}
    departments: set[str] = set()
    for code, name, month_of, definition_id, named_dept, count in rows:
        # The variable as the process set it, trimmed as Python trims (any whitespace), cut to the column.
        department = (
            named_dept.strip()[:200]
            if isinstance(named_dept, str) and named_dept.strip()
            else by_definition[definition_id]
        )
        departments.add(department)
        committee = load.setdefault(code, {"org_unit": code, "name": name, "total": 0, "months": {}})
        committee["total"] += count
        per_month = committee["months"].setdefault(month_of, {})
        per_month[department] = per_month.get(department, 0) + count
    return {
        "months": sorted({r.month for r in rows}),
        "departments": sorted(departments),
        "committees": sorted(load.values(), key=lambda c: (-c["total"], c["org_unit"])),
    }


def _definition_departments(session: Session, definition_ids: set[str]) -> dict[str, str]:
    """The department each process version's committee tasks are pushed by, where the instance names none
    (see the module's docstring)."""
    by_definition: dict[str, str] = {}
    for definition in session.execute(
        select(ProcessDefinition).where(ProcessDefinition.id.in_(definition_ids))
    ).scalars():
        blob = session.get(Blob, definition.bpmn_sha256)
        declared = (
            admission.declaration(blob.content, definition.key) if blob else admission.MatterDeclaration(None, None)
        )
        if declared.code:
            dept = session.execute(
                select(AssistMatter.requesting_dept)
                .where(AssistMatter.code == declared.code)
                .order_by(AssistMatter.since_version.desc())
                .limit(1)
            ).scalar_one_or_none()
            by_definition[definition.id] = dept or UNDECLARED
        else:
            by_definition[definition.id] = {
                admission.SELF_GOVERNANCE: SELF_GOVERNANCE,
                admission.STATUTORY_DUTY: STATUTORY_DUTY,
            }.get(declared.kind or "", UNDECLARED)
    return by_definition
