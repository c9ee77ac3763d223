"""Rule tables as data: read a rule (BPMN expressions too), list them, and let admins version a rule."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import clock, rules
from engine.audit import AuditLog
from engine.calendar import BEIJING
from engine.commands.base import EngineBase
from engine.commands.calendar import _require_city_admin
from engine.errors import NotFound, RuleBroken
from engine.models import RuleSet, utcnow
from engine.principal import Principal
from engine.procedure_scope import active_session
from engine.roles import ADMIN

PERIOD_LETTERS = {"days": "D", "months": "M", "years": "Y"}
END_OF_DAY = time(23, 59, 59)


class RuleCommands(EngineBase):
    _rules_lock = threading.Lock()

    def expression_helpers(self) -> dict[str, Callable[..., Any]]:
        book = self.rule_book
        return super().expression_helpers() | {
            "rule": lambda key: book().value(key),
            "today": lambda: rules.today().isoformat(),
            "rule_basis": lambda key: book().get(key).basis(),
            "rule_period": self._rule_period,
            "rule_deadline": self._rule_deadline,
            "quorum_met": lambda body, **counts: rules.quorum_met(book(), body, **_numbers(counts)),
            "passes": lambda body, matter="general", **counts: rules.passes(
                book(), body, matter=matter, **_numbers(counts)
            ),
            "rules_applied": lambda body: rules.rules_for_body(book(), body),
            "petition_requires_assembly": lambda basis, proposers, eligible: rules.petition_requires_assembly(
                book(), basis, int(proposers), int(eligible)
            ),
            "service_eligibility": lambda item, applicant: rules.service_eligibility(
                book(), item, dict(applicant)
            ).as_dict(),
            "admission_decision": lambda **reviews: rules.admission_decision(book(), **reviews),
            "admission_approval_problems": lambda **choice: rules.approval_problems(book(), **choice),
            "body_for_petition": lambda basis: rules.PETITION_BODIES.get(basis, ""),
            "households_range_warning": lambda households: rules.households_warning(book(), int(households or 0)),
            "written_delegation": lambda **counts: rules.written_delegation(book(), **counts),
            "composition_problems": lambda body, **counts: rules.composition_problems(
                book(), body, **{k: int(v or 0) for k, v in counts.items()}
            ),
        }

    def _rule_period(self, key: str) -> str:
        """For timers: an ISO duration (P7D, P3M, P2Y) from a rule counted in days, months or years."""
        rule = self.rule_book().get(key)
        if rule.unit not in PERIOD_LETTERS:
            raise RuleBroken(f"The rule {key} is counted in {rule.unit}; a timer duration needs days, months or years.")
        return f"P{rule.value}{PERIOD_LETTERS[rule.unit]}"

    def _rule_deadline(self, key: str, start: str | None = None) -> str:
        """For timers (timeDate): the moment a rule's time limit runs out from `start` (default now).

        Days are Beijing dates. From a moment (now, or a date-time) the limit ends at the same time of day
        on the last day; from a date alone (`materials_complete_on`) it ends with the last day itself
        (23:59:59 Beijing: a period's last day lasts until midnight, 民法典 Art. 203). Working days go
        through the working-day calendar (a year without data counts weekends only).
        """
        rule = self.rule_book().get(key)
        begin, whole_days = _deadline_start(start)
        if rule.unit == "working_days":
            due = self.working_calendar().deadline(begin, int(rule.value))
        elif rule.unit == "days":
            due = begin + timedelta(days=int(rule.value))
        elif rule.unit == "months":
            moved = rules.add_months(begin.date(), int(rule.value))
            due = begin.replace(year=moved.year, month=moved.month, day=moved.day)
        else:
            raise RuleBroken(
                f"The rule {key} is counted in {rule.unit}; a deadline needs days, working days or months."
            )
        return (datetime.combine(due.date(), END_OF_DAY, BEIJING) if whole_days else due).isoformat()

    def rule_book(self) -> rules.RuleBook:
        """Every rule version as the database holds it; reloaded only when a version was added or changed."""
        session = active_session()
        if session is not None:
            return self._rule_book_from(session)
        with self.reading() as reading:
            return self._rule_book_from(reading)

    def _rule_book_from(self, session: Session) -> rules.RuleBook:
        fingerprint = tuple(session.execute(select(func.count(), func.max(RuleSet.changed_at))).one())
        cached = getattr(self, "_rule_cache", None)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        book = rules.RuleBook([_rule_of(r) for r in session.execute(select(RuleSet)).scalars()])
        with self._rules_lock:
            self._rule_cache = (fingerprint, book)
        return book

    def list_rules(self, prefix: str | None = None, on: date | None = None) -> list[dict]:
        """The version of each rule valid on a day (today by default), optionally under a key prefix."""
        book = self.rule_book()
        found = []
        for key in book.all_keys():
            if prefix and not key.startswith(prefix):
                continue
            try:
                found.append(book.get(key, on).as_dict())
            except RuleBroken:
                continue  # no version valid that day
        return found

    def rule_versions(self, key: str) -> dict:
        book = self.rule_book()
        versions = book.versions(key)
        try:
            current = book.get(key).as_dict()
        except RuleBroken:
            current = None
        return {"key": key, "current": current, "versions": [v.as_dict() for v in versions]}

    def set_rule(
        self,
        key: str,
        by: Principal,
        value: Any,
        valid_from: date,
        valid_to: date | None = None,
        law: str | None = None,
        article: str | None = None,
        legal_basis_version: str | None = None,
        description: str | None = None,
    ) -> dict:
        """A new version of a rule from `valid_from` on; earlier open-ended versions end the day before.

        [A] defaults may be changed by city admins; a statutory rule only with a new legal basis version
        (a revised law), never by overwriting what the law says.
        """
        with self.transaction() as session:
            _require_city_admin(session, by)
            versions = list(
                session.execute(select(RuleSet).where(RuleSet.key == key).order_by(RuleSet.version)).scalars()
            )
            if not versions:
                raise NotFound(f"There is no rule {key!r}.")
            latest = versions[-1]
            basis_version = (legal_basis_version or latest.legal_basis_version).strip()
            if not latest.assumed and basis_version == latest.legal_basis_version:
                raise RuleBroken(
                    f"{key} is statutory ({latest.law} {latest.article}, {latest.legal_basis_version}): it changes "
                    "only with a new legal basis version (a revised law), not by editing the value."
                )
            if valid_to is not None and valid_to < valid_from:
                raise RuleBroken("valid_to is before valid_from.")
            rules.check_value(key, latest.unit, value)
            for earlier in versions:
                if earlier.valid_from < valid_from and (earlier.valid_to is None or earlier.valid_to >= valid_from):
                    earlier.valid_to = valid_from - timedelta(days=1)
                    earlier.changed_at = utcnow()
            row = RuleSet(
                key=key,
                version=latest.version + 1,
                value=value,
                unit=latest.unit,
                description=(description or latest.description)[:500],
                law=(law or latest.law)[:200],
                article=(article or latest.article)[:100],
                legal_basis_version=basis_version[:40],
                valid_from=valid_from,
                valid_to=valid_to,
                assumed=latest.assumed,  # an [A] default stays one; a statute stays a statute
                changed_by=by.username,
                changed_at=utcnow(),
            )
            session.add(row)
            session.flush()
            view = _rule_of(row).as_dict()
            AuditLog(session).append_system(by.actor(ADMIN), "rule_changed", key, view)
            return view


def _rule_of(row: RuleSet) -> rules.Rule:
    return rules.Rule(
        key=row.key,
        version=row.version,
        value=row.value,
        unit=row.unit,
        description=row.description,
        law=row.law,
        article=row.article,
        legal_basis_version=row.legal_basis_version,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        assumed=row.assumed,
        changed_by=row.changed_by,
    )


def _deadline_start(start: str | None) -> tuple[datetime, bool]:
    """Where a deadline counts from, in Beijing time, and whether it counts whole days (a date alone)."""
    if not start:
        return clock.now().astimezone(BEIJING), False
    text = str(start).strip()
    try:
        if len(text) == 10:  # 2026-09-30: that day in Beijing
            return datetime.combine(date.fromisoformat(text), time(0), BEIJING), True
        begin = datetime.fromisoformat(text)
    except ValueError:
        raise RuleBroken(f"A deadline counts from a date or a date-time such as 2026-09-30, not {start!r}.") from None
    if begin.tzinfo is None:  # a time an official typed: Beijing time
        begin = begin.replace(tzinfo=BEIJING)
    return begin.astimezone(BEIJING), False


def _numbers(counts: dict) -> dict:
    """Form numbers arrive as int, float or Decimal; the rule tests compare exact fractions of them."""
    allowed = {
        "eligible",
        "present",
        "eligible_households",
        "present_households",
        "eligible_area",
        "present_area",
        "yes",
        "yes_area",
    }
    unknown = set(counts) - allowed
    if unknown:
        raise RuleBroken(f"Unknown count(s) {', '.join(sorted(unknown))}; use {', '.join(sorted(allowed))}.")
    return {k: (v if isinstance(v, int | float) else float(str(v or 0))) for k, v in counts.items()}
