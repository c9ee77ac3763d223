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

from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from engine import admission, org, reach
from engine.commands.base import EngineBase
from engine.commands.queries import missed
from engine.errors import NotAllowed
from engine.models import AssistMatter, Blob, HumanTask, OrgUnit, ProcessDefinition, ProcessInstance, utcnow
from engine.principal import Principal
from engine.roles import ADMIN, AUDITOR, Level

BEIJING = timezone(timedelta(hours=8))
SELF_GOVERNANCE, STATUTORY_DUTY, UNDECLARED = "self_governance", "statutory_duty", "undeclared"
STATUSES = ("running", "completed", "cancelled", "suspended", "failed")


def percentile(values: list[float], share: float) -> float | None:
    """The value below which `share` of the values lie (linear between the two nearest ranks)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * share
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class StatisticsQueries(EngineBase):
    def procedure_statistics(
        self,
        by: Principal,
        process_key: str | None = None,
        org_unit: str | None = None,
        started_from: datetime | None = None,
        started_to: datetime | None = None,
    ) -> dict:
        """Auditors' and admins' figures over the instances within their reach that match the filters."""
        if not by.is_system and not any(h.role in (AUDITOR, ADMIN) for h in by.person.holdings):
            raise NotAllowed("Only auditors and admins read the statistics.", code="auditors_only")
        with self.reading() as session:
            conditions = []
            if not by.is_system:
                conditions.append(reach.within(ProcessInstance.org_path, reach.reach_paths(session, by)))
            if process_key:
                conditions.append(ProcessInstance.process_key == process_key)
            if org_unit:
                conditions.append(reach.within(ProcessInstance.org_path, [org.get_unit(session, org_unit).path]))
            if started_from is not None:
                conditions.append(ProcessInstance.started_at >= started_from)
            if started_to is not None:
                conditions.append(ProcessInstance.started_at < started_to)
            matching = and_(*conditions) if conditions else None
            return {
                "instances": _by_status(session, matching),
                "steps": _steps(session, matching),
                "committee_load": _committee_load(session, matching),
            }


def _where(query, matching):  # noqa: ANN001, ANN202 - a select, narrowed when there are filters
    return query if matching is None else query.where(matching)


def _by_status(session: Session, matching) -> dict[str, int]:  # noqa: ANN001
    counts = dict.fromkeys(STATUSES, 0)
    query = select(ProcessInstance.status, func.count()).group_by(ProcessInstance.status)
    for status, count in session.execute(_where(query, matching)):
        counts[status] = count
    return counts


def _steps(session: Session, matching) -> list[dict]:  # noqa: ANN001
    """Per step of each procedure: how many were done, median and p90 duration, deadlines missed."""
    now = utcnow()
    query = select(
        HumanTask.process_key,
        HumanTask.element_id,
        HumanTask.name,
        HumanTask.status,
        HumanTask.created_at,
        HumanTask.completed_at,
        HumanTask.due_at,
        missed(now),
    ).join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
    durations: dict[tuple[str, str], list[float]] = defaultdict(list)
    names: dict[tuple[str, str], str] = {}
    totals: Counter[tuple[str, str]] = Counter()
    with_due: Counter[tuple[str, str]] = Counter()
    late: Counter[tuple[str, str]] = Counter()
    for key, element, name, status, created, completed, due, was_missed in session.execute(_where(query, matching)):
        step = (key, element)
        names.setdefault(step, name)
        totals[step] += 1
        if status == "completed" and completed is not None:
            durations[step].append((completed - created).total_seconds())
        if due is not None and status != "cancelled":
            with_due[step] += 1
            late[step] += 1 if was_missed else 0
    return [
        {
            "process_key": key,
            "element_id": element,
            "name": names[(key, element)],
            "tasks": totals[(key, element)],
            "completed": len(durations[(key, element)]),
            "median_seconds": percentile(durations[(key, element)], 0.5),
            "p90_seconds": percentile(durations[(key, element)], 0.9),
            "with_due": with_due[(key, element)],
            "overdue": late[(key, element)],
            "overdue_rate": late[(key, element)] / with_due[(key, element)] if with_due[(key, element)] else None,
        }
        for key, element in sorted(totals)
    ]


def _committee_load(session: Session, matching) -> dict:  # noqa: ANN001
    """Tasks created at committee-level units, by committee, month (Beijing time) and pushing department."""
    query = (
        select(
            HumanTask.org_code, OrgUnit.name, HumanTask.created_at, ProcessInstance.id, ProcessInstance.definition_id
        )
        .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
        .join(OrgUnit, OrgUnit.code == HumanTask.org_code)
        .where(OrgUnit.level == Level.COMMITTEE.value)
    )
    rows = list(session.execute(_where(query, matching)))
    departments = _departments(session, {r.id for r in rows}, {r.definition_id for r in rows})
    load: dict[str, dict] = {}
    months: set[str] = set()
    seen_departments: set[str] = set()
    for code, name, created, instance_id, _definition in rows:
        month = created.astimezone(BEIJING).strftime("%Y-%m")
        department = departments[instance_id]
        months.add(month)
        seen_departments.add(department)
        committee = load.setdefault(code, {"org_unit": code, "name": name, "total": 0, "months": {}})
        committee["total"] += 1
        per_month = committee["months"].setdefault(month, {})
        per_month[department] = per_month.get(department, 0) + 1
    return {
        "months": sorted(months),
        "departments": sorted(seen_departments),
        "committees": sorted(load.values(), key=lambda c: (-c["total"], c["org_unit"])),
    }


def _departments(session: Session, instance_ids: set[str], definition_ids: set[str]) -> dict[str, str]:
    """The department that pushed each instance's committee tasks (see the module's docstring)."""
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
    found: dict[str, str] = {}
    for instance_id, definition_id, variables in session.execute(
        select(ProcessInstance.id, ProcessInstance.definition_id, ProcessInstance.variables).where(
            ProcessInstance.id.in_(instance_ids)
        )
    ):
        named = (variables or {}).get("requesting_dept")
        found[instance_id] = (
            named.strip()[:200] if isinstance(named, str) and named.strip() else by_definition[definition_id]
        )
    return found
