"""The registry of benefits granted through delegated or entrusted service items (待遇登记).

An approved application records who receives what from which month, at what monthly amount or share of
the service package, decided at which level, and when it is due for review (the care assessment's
validity for the elderly care subsidy, `service.benefit_review_months` otherwise).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from engine import org, rules
from engine.errors import RuleBroken
from engine.models import ServiceBenefit, utcnow
from engine.roles import Level

ACTIVE = "active"


def register(
    session: Session, book: rules.RuleBook, item: dict, grant: dict, instance_id: str, today: date
) -> ServiceBenefit:
    unit = org.get_unit(session, str(grant.get("applicant_committee") or ""))
    if unit.level != Level.COMMITTEE.value:
        raise RuleBroken(f"A benefit is registered where the applicant lives (a committee), not at {unit.name}.")
    name = str(grant.get("applicant_name") or "").strip()
    id_no = str(grant.get("applicant_id_no") or "").strip()
    if not name or not id_no:
        raise RuleBroken("A benefit names the applicant and their identity card number.")
    amount = grant.get("monthly_amount")
    start = rules.add_months(today.replace(day=1), 1)  # paid from the month after the decision
    assessed = grant.get("assessment_date")
    if item["decision_rule"] == "elderly_care" and assessed:
        years = book.value("service.assessment_validity_years")
        review = rules.add_months(date.fromisoformat(str(assessed)[:10]), 12 * years)
    else:
        review = rules.add_months(today, book.value("service.benefit_review_months"))
    row = ServiceBenefit(
        item_code=item["code"],
        item_name=item["name"],
        applicant_name=name[:50],
        applicant_id_no=id_no[:18],
        org_code=unit.code,
        decided_level=str(grant.get("decided_level") or item["competent_level"]),
        monthly_amount=int(amount) if amount not in (None, "") else None,
        subsidy_share=str(grant["subsidy_share"]) if grant.get("subsidy_share") else None,
        start_month=start.strftime("%Y-%m"),
        review_due_on=review,
        decision_doc_no=str(grant.get("decision_doc_no") or "")[:50],
        basis=dict(grant.get("eligibility") or {}),
        status=ACTIVE,
        instance_id=instance_id,
        granted_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def view(row: ServiceBenefit) -> dict:
    return {
        "id": row.id,
        "item_code": row.item_code,
        "item_name": row.item_name,
        "applicant_name": row.applicant_name,
        "applicant_id_no": row.applicant_id_no,
        "org_unit": row.org_code,
        "decided_level": row.decided_level,
        "monthly_amount": row.monthly_amount,
        "subsidy_share": row.subsidy_share,
        "start_month": row.start_month,
        "review_due_on": row.review_due_on.isoformat(),
        "decision_doc_no": row.decision_doc_no,
        "basis": row.basis,
        "status": row.status,
        "instance_id": row.instance_id,
        "granted_at": row.granted_at.isoformat(),
    }
