"""The registries the procedures write, and the engine's side of the procedures.

- BPMN script tasks call the registry writes (`update_org_tree`, `record_legal_person_change`,
  `publish_assist_matter`...) inside the command that runs them: one transaction, audited on the
  instance's chain (see engine/procedure_scope.py).
- Starting a procedure checks the admission list and refuses retired org units (engine/admission.py).
- Officials read the registries within their reach; city admins edit the delegation catalogue.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import admission, assist_matters, committee_changes, org, reach, rules
from engine.audit import ENGINE_ACTOR, AuditLog
from engine.commands.calendar import _require_city_admin
from engine.commands.instances import InstanceCommands
from engine.commands.rules import RuleCommands
from engine.errors import NotAllowed, NotFound, RuleBroken
from engine.models import (
    AssistMatterList,
    CommitteeLegalPerson,
    MonitoringReport,
    OrgUnit,
    ProcessDefinition,
    ProcessInstance,
    ServiceItem,
    utcnow,
)
from engine.principal import Principal
from engine.procedure_scope import ProcedureScope, before_registry_write, current_scope, procedure_scope
from engine.reference_data import seed_procedure_data
from engine.roles import ADMIN, Level
from engine.store import LiveWorkflow

SERVICE_LEVELS = ("subdistrict", "district", "municipal")
SERVICE_MODES = ("direct", "entrusted_intake")


class RegistryCommands(RuleCommands, InstanceCommands):
    # --- the engine's side of running a procedure ------------------------------------------------

    def _advance(
        self,
        session: Session,
        instance: ProcessInstance,
        live: LiveWorkflow,
        definition: ProcessDefinition,
        audit: AuditLog,
    ) -> None:
        with procedure_scope(session, instance, audit):
            super()._advance(session, instance, live, definition, audit)

    def _create_instance(
        self, session: Session, definition: ProcessDefinition, unit: OrgUnit, *args: Any, **kwargs: Any
    ) -> ProcessInstance:
        # Every start is checked against the admission list: by hand, by a message or by a timer start event.
        admission.check_start(session, definition, unit, rules.today())
        return super()._create_instance(session, definition, unit, *args, **kwargs)

    def seed_procedure_data(self) -> dict:
        with self.transaction() as session:
            return seed_procedure_data(session)

    def expression_helpers(self) -> dict[str, Callable[..., Any]]:
        return super().expression_helpers() | {
            # reads
            "service_item": self._service_item,
            "pull_shared_data": self._pull_shared_data,
            "missing_documents": self._missing_documents,
            "committee_plan_problems": self._plan_problems,
            "streets_under": self._streets_under,
            "monitoring_point": self._monitoring_point,
            # writes, in the running command's transaction
            "update_org_tree": self._update_org_tree,
            "record_legal_person_change": self._record_legal_person_change,
            "set_legal_representatives": self._set_legal_representatives,
            "retire_org_units": self._retire_org_units,
            "publish_assist_matter": self._publish_assist_matter,
            "renew_assist_matter": self._renew_assist_matter,
            "withdraw_assist_matter": self._withdraw_assist_matter,
            "record_monitoring_report": self._record_monitoring_report,
        }

    @contextmanager
    def _writing(self, what: str) -> Iterator[ProcedureScope]:
        """A registry write: a savepoint (a failing write leaves nothing) and an audit event on the case."""
        scope = current_scope(what)
        before_registry_write(scope.session)
        with scope.session.begin_nested():
            yield scope

    def _audit(self, scope: ProcedureScope, registry: str, action: str, data: Any) -> None:
        scope.audit.append_instance(
            scope.instance,
            ENGINE_ACTOR,
            "registry_changed",
            None,
            {"registry": registry, "action": action, "data": data},
        )

    # --- service items -------------------------------------------------------------------------------

    def _service_item(self, code: str) -> dict:
        scope = current_scope("service_item")
        row = _current_item(scope.session, code)
        return _item_view(row)

    def _pull_shared_data(self, item: str, applicant_id: str) -> dict:
        """两个免于提交: documents the government holds are taken from the shared data, not asked for."""
        scope = current_scope("pull_shared_data")
        row = _current_item(scope.session, item)
        pulled = [
            {"code": d["code"], "name": d["name"], "source": "市大数据资源平台", "applicant_id": str(applicant_id)}
            for d in row.documents
            if d.get("held_by_government")
        ]
        return {"pulled": pulled, "pulled_at": utcnow().isoformat()}

    def _missing_documents(self, item: str, submitted: list | None) -> list[str]:
        """Documents still missing: required, not held by the government, not submitted (一次性告知)."""
        scope = current_scope("missing_documents")
        row = _current_item(scope.session, item)
        given = set(submitted or [])
        return [d["name"] for d in row.documents if not d.get("held_by_government") and d["code"] not in given]

    # --- committee changes ---------------------------------------------------------------------------

    def _street(self, scope: ProcedureScope) -> OrgUnit:
        return org.get_unit(scope.session, scope.instance.org_code)

    def _plan_problems(self, plan: dict) -> list[str]:
        scope = current_scope("committee_plan_problems")
        return committee_changes.plan_problems(scope.session, dict(plan), self._street(scope))

    def _update_org_tree(self, plan: dict) -> dict:
        with self._writing("update_org_tree") as scope:
            problems = committee_changes.plan_problems(scope.session, dict(plan), self._street(scope))
            if problems:
                raise RuleBroken("The change cannot be applied: " + " ".join(problems))
            outcome = committee_changes.apply_to_org_tree(scope.session, dict(plan), self._street(scope))
            self._audit(scope, "org_unit", "updated", outcome)
            return outcome

    def _record_legal_person_change(self, plan: dict) -> list[dict]:
        with self._writing("record_legal_person_change") as scope:
            prefix = self.rule_book().value("committee_change.uscc_prefix")
            actions = committee_changes.record_legal_persons(scope.session, dict(plan), prefix, scope.instance.id)
            self._audit(scope, "committee_legal_person", "recorded", actions)
            return actions

    def _set_legal_representatives(self, elections: list) -> list[dict]:
        with self._writing("set_legal_representatives") as scope:
            done = committee_changes.set_representatives(scope.session, list(elections or []), scope.instance.id)
            self._audit(scope, "committee_legal_person", "representatives", done)
            return done

    def _retire_org_units(self, plan: dict) -> list[str]:
        with self._writing("retire_org_units") as scope:
            retired = committee_changes.retire_units(scope.session, dict(plan))
            self._audit(scope, "org_unit", "retired", retired)
            return retired

    def _streets_under(self, code: str) -> list[str]:
        scope = current_scope("streets_under")
        units = scope.session.execute(
            select(OrgUnit.code)
            .where(OrgUnit.parent_code == code, OrgUnit.status == "active")
            .where(OrgUnit.level.in_([Level.SUBDISTRICT.value, Level.TOWNSHIP.value]))
            .order_by(OrgUnit.code)
        )
        return list(units.scalars())

    def _monitoring_point(self, code: str) -> str:
        """The sample committee that reports unlisted tasks for a district (the first active one by code)."""
        scope = current_scope("monitoring_point")
        unit = org.get_unit(scope.session, code)
        found = scope.session.execute(
            select(OrgUnit.code)
            .where(OrgUnit.path.startswith(unit.path), OrgUnit.level == Level.COMMITTEE.value)
            .where(OrgUnit.status == "active")
            .order_by(OrgUnit.code)
            .limit(1)
        ).scalar_one_or_none()
        if found is None:
            raise RuleBroken(f"{unit.name} has no committee to serve as a monitoring point.")
        return found

    # --- the lists of assisted matters --------------------------------------------------------------

    def _publish_assist_matter(self, request: dict, outcome: str) -> dict:
        """Admit (or temporarily admit) a requested matter on the list of the instance's org unit."""
        if outcome not in ("admit", "admit_temporary"):
            raise RuleBroken(f"Only an admitted matter is published, not one with the outcome {outcome!r}.")
        with self._writing("publish_assist_matter") as scope:
            book, today = self.rule_book(), rules.today()
            temporary = outcome == "admit_temporary"
            expires = rules.add_months(today, book.value("admission.temporary_months")) if temporary else None
            review = rules.add_months(today, book.value("admission.review_period_months"))
            published = assist_matters.admit(
                scope.session,
                scope.instance.org_code,
                dict(request),
                temporary=temporary,
                effective_from=today,
                expires_on=expires,
                next_review_on=expires or review,
                by=f"{scope.instance.process_key}:{scope.instance.id}",
                instance_id=scope.instance.id,
            )
            self._audit(scope, "assist_matter", outcome, published)
            return published

    def _renew_assist_matter(self, code: str, changes: dict | None = None) -> dict:
        with self._writing("renew_assist_matter") as scope:
            review = rules.add_months(rules.today(), self.rule_book().value("admission.review_period_months"))
            kept = assist_matters.renew(
                scope.session,
                scope.instance.org_code,
                code,
                review,
                {k: v for k, v in dict(changes or {}).items() if k in assist_matters.MATTER_FIELDS},
                f"{scope.instance.process_key}:{scope.instance.id}",
                scope.instance.id,
            )
            self._audit(scope, "assist_matter", "renewed", kept)
            return kept

    def _withdraw_assist_matter(self, code: str, reason: str) -> dict:
        with self._writing("withdraw_assist_matter") as scope:
            gone = assist_matters.withdraw(
                scope.session,
                scope.instance.org_code,
                code,
                str(reason or ""),
                f"{scope.instance.process_key}:{scope.instance.id}",
                scope.instance.id,
            )
            self._audit(scope, "assist_matter", "withdrawn", gone)
            return gone

    def _record_monitoring_report(self, report: dict) -> dict:
        with self._writing("record_monitoring_report") as scope:
            report = dict(report)
            point = org.get_unit(scope.session, str(report.get("monitoring_point") or ""))
            row = MonitoringReport(
                monitoring_point=point.code,
                matter_code=str(report.get("matter_code") or "")[:100],
                period=str(report.get("period") or "")[:20],
                unlisted_tasks=list(report.get("unlisted_tasks") or []),
                hours=int(report.get("hours") or 0),
                instance_id=scope.instance.id,
                reported_by=str(report.get("reported_by") or point.code)[:64],
                reported_at=utcnow(),
            )
            scope.session.add(row)
            scope.session.flush()
            view = _report_view(row)
            self._audit(scope, "monitoring_report", "recorded", view)
            return view

    # --- reads for officials ------------------------------------------------------------------------

    def legal_persons(self, by: Principal, org_code: str | None = None, status: str | None = None) -> list[dict]:
        """The committee legal-person registry, as far as the caller reaches."""
        with self.reading() as session:
            query = select(CommitteeLegalPerson, OrgUnit.path).join(
                OrgUnit, OrgUnit.code == CommitteeLegalPerson.org_code
            )
            if not by.is_system:
                query = query.where(reach.within(OrgUnit.path, reach.reach_paths(session, by)))
            if org_code:
                query = query.where(CommitteeLegalPerson.org_code == org_code)
            if status:
                query = query.where(CommitteeLegalPerson.status == status)
            rows = session.execute(query.order_by(CommitteeLegalPerson.uscc)).all()
            return [committee_changes.legal_person_view(record) for record, _path in rows]

    def legal_person(self, code: str, by: Principal) -> dict:
        with self.reading() as session:
            record = session.get(CommitteeLegalPerson, code)
            if record is None:
                raise NotFound(f"There is no committee with the code {code}.")
            unit = org.get_unit(session, record.org_code)
            if not reach.reaches(session, by, unit.path):
                raise NotAllowed(f"{by.username} may not read the registry entries of {unit.name}.")
            return committee_changes.legal_person_view(record)

    def register_existing_committees(self, by: Principal | None = None) -> list[dict]:
        """Give every active committee without a code one (the registry's first fill, e.g. for the demo)."""
        by = by or Principal.system()
        with self.transaction() as session:
            _require_city_admin(session, by)
            prefix = self._rule_book_from(session).value("committee_change.uscc_prefix")
            issued = []
            units = session.execute(
                select(OrgUnit).where(OrgUnit.level == Level.COMMITTEE.value, OrgUnit.status == "active")
            ).scalars()
            for unit in list(units):
                if committee_changes.active_record(session, unit.code) is None:
                    code = committee_changes.issue_code(session, unit, prefix, None, "登记")
                    issued.append({"org_unit": unit.code, "uscc": code})
            if issued:
                AuditLog(session).append_system(by.actor(ADMIN), "registry_changed", "committee_legal_person", issued)
            return issued

    def service_items(self, on: date | None = None) -> list[dict]:
        """The delegation catalogue as valid on a day: who decides each item and how it is received."""
        day = on or rules.today()
        with self.reading() as session:
            rows = session.execute(select(ServiceItem).order_by(ServiceItem.code, ServiceItem.version)).scalars()
            current: dict[str, ServiceItem] = {}
            for row in rows:
                if row.valid_from <= day and (row.valid_to is None or day <= row.valid_to):
                    current[row.code] = row
            return [_item_view(r) for r in current.values()]

    def set_service_item(self, code: str, by: Principal, changes: dict, valid_from: date | None = None) -> dict:
        """A new version of a catalogue entry (city admins): e.g. an item delegated to subdistricts."""
        start = valid_from or rules.today()
        with self.transaction() as session:
            _require_city_admin(session, by)
            latest = session.execute(
                select(ServiceItem).where(ServiceItem.code == code).order_by(ServiceItem.version.desc()).limit(1)
            ).scalar_one_or_none()
            if latest is None:
                raise NotFound(f"There is no service item {code!r} in the catalogue.")
            level = changes.get("competent_level", latest.competent_level)
            mode = changes.get("mode", latest.mode)
            if level not in SERVICE_LEVELS or mode not in SERVICE_MODES:
                raise RuleBroken(
                    f"competent_level is one of {', '.join(SERVICE_LEVELS)}; mode one of {', '.join(SERVICE_MODES)}."
                )
            if (level == "subdistrict") != (mode == "direct"):
                raise RuleBroken("An item decided by the subdistrict is received directly; others by entrusted intake.")
            if latest.valid_to is None or latest.valid_to >= start:
                latest.valid_to = start - timedelta(days=1)
            row = ServiceItem(
                code=code,
                version=latest.version + 1,
                name=str(changes.get("name") or latest.name)[:200],
                competent_level=level,
                mode=mode,
                decision_rule=latest.decision_rule,
                documents=latest.documents,
                catalogue_version=str(changes.get("catalogue_version") or latest.catalogue_version)[:40],
                legal_basis=str(changes.get("legal_basis") or latest.legal_basis),
                assumed=latest.assumed,
                valid_from=start,
                valid_to=None,
                changed_by=by.username,
                changed_at=utcnow(),
            )
            session.add(row)
            session.flush()
            view = _item_view(row)
            AuditLog(session).append_system(by.actor(ADMIN), "registry_changed", "service_item", view)
            return view

    def assist_matter_list(self, by: Principal, scope: str = "", version: int | None = None) -> dict:
        """A list of assisted matters as a version published it (default: the latest)."""
        with self.reading() as session:
            self._require_list_reader(session, by, scope)
            latest = assist_matters.latest_version(session, scope)
            if latest == 0:
                raise NotFound(f"There is no list of assisted matters for {scope or 'the city'}.")
            at = latest if version is None else version
            if not 1 <= at <= latest:
                raise NotFound(f"The list of {scope or 'the city'} has versions 1 to {latest}, not {at}.")
            versions = session.execute(
                select(AssistMatterList).where(AssistMatterList.scope_code == scope).order_by(AssistMatterList.version)
            ).scalars()
            return {
                "scope": scope,
                "version": at,
                "latest_version": latest,
                "matters": [assist_matters.matter_view(m) for m in assist_matters.matters_at(session, scope, at)],
                "versions": [assist_matters.list_version_view(v) for v in versions],
            }

    def monitoring_reports(self, by: Principal, matter_code: str | None = None) -> list[dict]:
        with self.reading() as session:
            query = select(MonitoringReport, OrgUnit.path).join(
                OrgUnit, OrgUnit.code == MonitoringReport.monitoring_point
            )
            if not by.is_system:
                query = query.where(reach.within(OrgUnit.path, reach.reach_paths(session, by)))
            if matter_code:
                query = query.where(MonitoringReport.matter_code == matter_code)
            return [_report_view(r) for r, _p in session.execute(query.order_by(MonitoringReport.id)).all()]

    def _require_list_reader(self, session: Session, by: Principal, scope: str) -> None:
        """The city list is read by every official; a district's list by those at or below that district."""
        if by.is_system or scope == "":
            return
        unit = session.get(OrgUnit, scope)
        if unit is None:
            raise NotFound(f"There is no org unit {scope}.")
        if reach.reaches(session, by, unit.path):
            return
        mine = reach.holding_paths(session, by).values()
        if any(unit.path.startswith(p) or p.startswith(unit.path) for p in mine):
            return  # committees and streets below the district read the list that binds them
        raise NotAllowed(f"{by.username} may not read the list of assisted matters of {unit.name}.")


def _current_item(session: Session, code: str) -> ServiceItem:
    day = rules.today()
    rows = session.execute(
        select(ServiceItem).where(ServiceItem.code == code).order_by(ServiceItem.version.desc())
    ).scalars()
    for row in rows:
        if row.valid_from <= day and (row.valid_to is None or day <= row.valid_to):
            return row
    raise RuleBroken(f"The service item {code!r} is not in the delegation catalogue.")


def _item_view(row: ServiceItem) -> dict:
    return {
        "code": row.code,
        "version": row.version,
        "name": row.name,
        "competent_level": row.competent_level,
        "mode": row.mode,
        "decision_rule": row.decision_rule,
        "documents": list(row.documents or []),
        "catalogue_version": row.catalogue_version,
        "legal_basis": row.legal_basis,
        "assumed": row.assumed,
        "valid_from": row.valid_from.isoformat(),
        "valid_to": row.valid_to.isoformat() if row.valid_to else None,
    }


def _report_view(row: MonitoringReport) -> dict:
    return {
        "id": row.id,
        "monitoring_point": row.monitoring_point,
        "matter_code": row.matter_code,
        "period": row.period,
        "unlisted_tasks": list(row.unlisted_tasks or []),
        "hours": row.hours,
        "instance_id": row.instance_id,
        "reported_by": row.reported_by,
        "reported_at": row.reported_at.isoformat(),
    }
