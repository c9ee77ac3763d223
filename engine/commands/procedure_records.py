"""The deliberation's and the service items' side of the engine: their helpers and registries.

Script tasks call the writes (`file_convention`, `accept_convention_filing`, `order_convention_correction`,
`register_benefit`) inside the command that runs them, like the other registry writes (see
engine/commands/registries.py); officials read the registries within their reach.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from engine import benefits, conventions, org, reach, rules
from engine.commands.registries import RegistryCommands, _current_item, _item_view
from engine.errors import RuleBroken
from engine.models import ConventionFiling, OrgUnit, ServiceBenefit
from engine.principal import Principal
from engine.procedure_scope import current_scope
from engine.roles import STREET_LEVELS, Level


class ProcedureRecordCommands(RegistryCommands):
    def expression_helpers(self) -> dict[str, Callable[..., Any]]:
        book = self.rule_book
        return super().expression_helpers() | {
            # reads
            "org_unit_kind": self._org_unit_kind,
            "home_units": self._home_units,
            "assembly_body_problems": lambda body, category, kind: rules.assembly_body_problems(
                book(), str(body), str(category), kind
            ),
            "care_assessment_valid": lambda assessed_on: rules.assessment_valid(book(), assessed_on or None),
            # writes, in the running command's transaction
            "file_convention": self._file_convention,
            "accept_convention_filing": lambda filing_id, opinion: self._review_filing(filing_id, True, opinion, ""),
            "order_convention_correction": lambda filing_id, items, opinion: self._review_filing(
                filing_id, False, opinion, items
            ),
            "register_benefit": self._register_benefit,
        }

    # --- reads for scripts ---------------------------------------------------------------------

    def _org_unit_kind(self, code: str) -> str | None:
        """`residents` or `villagers` for a committee; None for other units."""
        return org.get_unit(current_scope("org_unit_kind").session, str(code)).kind

    def _home_units(self, committee_code: str) -> dict:
        """The committee an applicant lives under, and the subdistrict (township) and district above it."""
        session = current_scope("home_units").session
        unit = org.get_unit(session, str(committee_code or "").strip())
        if unit.level != Level.COMMITTEE.value:
            raise RuleBroken(f"{unit.name} is not a residents' or villagers' committee; name the applicant's.")
        found = {"committee": unit.code, "street": None, "district": None}
        for above in org.ancestors(session, unit)[1:]:
            if above.level in {lvl.value for lvl in STREET_LEVELS} and found["street"] is None:
                found["street"] = above.code
            elif above.level == Level.DISTRICT.value and found["district"] is None:
                found["district"] = above.code
        return found

    # --- writes --------------------------------------------------------------------------------

    def _file_convention(self, filing: dict) -> dict:
        with self._writing("file_convention") as scope:
            row = conventions.file(scope.session, scope.instance.org_code, dict(filing), scope.instance.id)
            view = conventions.view(row)
            self._audit(scope, "convention_filing", "filed", view)
            return view

    def _review_filing(self, filing_id: int, lawful: bool, opinion: str, corrections: str) -> dict:
        with self._writing("review_convention_filing") as scope:
            row = conventions.review(scope.session, filing_id, lawful, str(opinion or ""), str(corrections or ""))
            if row.instance_id != scope.instance.id:
                raise RuleBroken(f"The filing {row.id} belongs to another case.")
            view = conventions.view(row)
            self._audit(scope, "convention_filing", row.status, view)
            return view

    def _register_benefit(self, grant: dict) -> dict:
        with self._writing("register_benefit") as scope:
            grant = dict(grant)
            item = _item_view(_current_item(scope.session, str(grant.get("item_code") or "")))
            row = benefits.register(scope.session, self.rule_book(), item, grant, scope.instance.id, rules.today())
            view = benefits.view(row)
            self._audit(scope, "service_benefit", "registered", view)
            return view

    # --- reads for officials -------------------------------------------------------------------

    def convention_filings(
        self, by: Principal, org_code: str | None = None, status: str | None = None, instance_id: str | None = None
    ) -> list[dict]:
        """Filed conventions within the caller's reach (the committee's own, or those filed with a street)."""
        with self.reading() as session:
            query = _reachable(
                session, by, select(ConventionFiling).join(OrgUnit, OrgUnit.code == ConventionFiling.org_code)
            )
            if org_code:
                query = query.where(ConventionFiling.org_code == org_code)
            if status:
                query = query.where(ConventionFiling.status == status)
            if instance_id:
                query = query.where(ConventionFiling.instance_id == instance_id)
            return [conventions.view(row) for row in session.execute(query.order_by(ConventionFiling.id)).scalars()]

    def benefits(
        self,
        by: Principal,
        item_code: str | None = None,
        org_code: str | None = None,
        instance_id: str | None = None,
    ) -> list[dict]:
        """Granted benefits within the caller's reach (by where the applicant lives)."""
        with self.reading() as session:
            query = _reachable(
                session, by, select(ServiceBenefit).join(OrgUnit, OrgUnit.code == ServiceBenefit.org_code)
            )
            if item_code:
                query = query.where(ServiceBenefit.item_code == item_code)
            if org_code:
                query = query.where(ServiceBenefit.org_code == org_code)
            if instance_id:
                query = query.where(ServiceBenefit.instance_id == instance_id)
            return [benefits.view(row) for row in session.execute(query.order_by(ServiceBenefit.id)).scalars()]


def _reachable(session: Session, by: Principal, query: Select) -> Select:
    """Only rows whose org unit (joined as OrgUnit) lies within the caller's reach."""
    if by.is_system:
        return query
    return query.where(reach.within(OrgUnit.path, reach.reach_paths(session, by)))
