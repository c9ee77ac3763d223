"""What a committee change does to the org tree and to the committee legal-person registry.

A change plan (from the `draft_change_plan` form) names a change type and the committees it touches;
`outcome_of` works out which units are created, renamed, changed or retired, `apply_to_org_tree`
writes the new and renamed units, `record_legal_persons` issues, changes or cancels their codes (on a
merge the survivor's code stays), and `retire_units` ends the old units once the change is effective:
they take no new cases, and tasks that would fall to them go to their successor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import org, uscc
from engine.models import CommitteeLegalPerson, OrgUnit, utcnow
from engine.roles import Level

CHANGE_TYPES = ("establish", "dissolve", "merge", "split", "boundary_adjust", "rename")
ORG_KINDS = {"urban_rc": "residents", "village_vc": "villagers"}
ACTIVE, DISSOLVED, CANCELLED = "active", "dissolved", "cancelled"
_CODE = re.compile(r"^[a-z][a-z0-9_]{1,62}$")


@dataclass
class Outcome:
    created: list[dict] = field(default_factory=list)  # [{"code", "name"}]
    renamed: dict[str, str] = field(default_factory=dict)  # code -> new name
    changed: list[str] = field(default_factory=list)  # codes whose certificate changes
    retired: list[str] = field(default_factory=list)
    successor: str | None = None
    needs_election: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "created": self.created,
            "renamed": self.renamed,
            "changed": self.changed,
            "retired": self.retired,
            "successor": self.successor,
            "needs_election": self.needs_election,
        }


def _codes(value: object) -> list[str]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",")]
    return [str(v).strip() for v in (value or []) if str(v).strip()]


def _new_units(plan: dict) -> list[dict]:
    units = []
    for item in plan.get("new_units") or []:
        if isinstance(item, dict) and (item.get("code") or item.get("name")):
            units.append({"code": str(item.get("code") or "").strip(), "name": str(item.get("name") or "").strip()})
    return units


def outcome_of(plan: dict) -> Outcome:
    kind = plan.get("change_type")
    affected = _codes(plan.get("affected_org_ids"))
    new_name = (plan.get("new_name") or "").strip()
    out = Outcome()
    if kind == "establish":
        out.created = _new_units(plan)
        out.changed = affected  # committees that give up part of their area
        out.needs_election = [u["code"] for u in out.created]
    elif kind == "dissolve":
        out.retired = affected
        out.successor = (plan.get("successor_org") or "").strip() or None
        if out.successor:
            out.changed = [out.successor]
    elif kind == "merge":
        survivor = (plan.get("surviving_org") or "").strip()
        out.retired = [c for c in affected if c != survivor]
        out.successor = survivor
        out.changed = [survivor]
        if new_name:
            out.renamed = {survivor: new_name}
        out.needs_election = [survivor]
    elif kind == "split":
        out.created = _new_units(plan)
        out.changed = affected
        out.needs_election = [u["code"] for u in out.created]
    elif kind == "boundary_adjust":
        out.changed = affected
    elif kind == "rename":
        out.changed = affected
        if affected and new_name:
            out.renamed = {affected[0]: new_name}
    return out


def plan_problems(session: Session, plan: dict, street: OrgUnit) -> list[str]:
    """What is wrong with a plan, in sentences for the subdistrict office that drafted it ([] if nothing)."""
    kind = plan.get("change_type")
    if kind not in CHANGE_TYPES:
        return [f"The change type must be one of {', '.join(CHANGE_TYPES)}."]
    problems: list[str] = []
    if street.level not in (Level.SUBDISTRICT, Level.TOWNSHIP):
        problems.append(f"A committee change is proposed by a subdistrict office or township, not by {street.name}.")
    affected = _codes(plan.get("affected_org_ids"))
    for code in affected:
        unit = session.get(OrgUnit, code)
        if unit is None or unit.level != Level.COMMITTEE or unit.parent_code != street.code:
            problems.append(f"{code} is not a committee of {street.name}.")
        elif unit.status != ACTIVE:
            problems.append(f"{unit.name} was already {unit.status}.")
    out = outcome_of(plan)
    wanted = {
        "dissolve": (1, None, False),
        "merge": (2, None, False),
        "split": (1, 1, True),
        "boundary_adjust": (1, None, False),
        "rename": (1, 1, False),
        "establish": (0, None, True),
    }[kind]
    least, most, needs_new = wanted
    if len(affected) < least or (most is not None and len(affected) > most):
        span = f"exactly {least}" if least == most else f"at least {least}"
        problems.append(f"A {kind} names {span} affected committee(s), not {len(affected)}.")
    if needs_new and not out.created:
        problems.append(f"A {kind} names the new committee(s): a code and a name each.")
    seen: set[str] = set()
    for unit in out.created:
        if not _CODE.match(unit["code"]):
            problems.append(f"The new code {unit['code']!r} must be lower-case letters, digits or _.")
        elif session.get(OrgUnit, unit["code"]) is not None or unit["code"] in seen:
            problems.append(f"The code {unit['code']} is already taken.")
        if not unit["name"]:
            problems.append(f"The new committee {unit['code']} needs a name.")
        seen.add(unit["code"])
    if kind == "merge" and out.successor not in affected:
        problems.append("A merge names the surviving committee among the affected ones; its code survives.")
    if kind == "rename" and not out.renamed:
        problems.append("A rename needs the new name.")
    if kind == "dissolve" and out.successor:
        successor = session.get(OrgUnit, out.successor)
        if successor is None or successor.level != Level.COMMITTEE or out.successor in affected:
            problems.append(f"The successor {out.successor} must be another existing committee.")
    return problems


def apply_to_org_tree(session: Session, plan: dict, street: OrgUnit) -> dict:
    """Create the new committees and rename the renamed ones; the old ones retire at the end."""
    out = outcome_of(plan)
    kind = ORG_KINDS.get(plan.get("org_kind") or "", "residents")
    for unit in out.created:
        org.validate_new_unit(session, unit["code"], Level.COMMITTEE.value, street.code)
        session.add(
            OrgUnit(
                code=unit["code"],
                name=unit["name"],
                level=Level.COMMITTEE.value,
                parent_code=street.code,
                kind=kind,
                path=org.path_for(session, street.code, unit["code"]),
                status=ACTIVE,
            )
        )
    for code, name in out.renamed.items():
        org.get_unit(session, code).name = name
    session.flush()
    return out.as_dict()


def retire_units(session: Session, plan: dict) -> list[str]:
    """End the retired committees: no new cases; tasks that would fall to them go to the successor."""
    out = outcome_of(plan)
    for code in out.retired:
        unit = org.get_unit(session, code)
        unit.status, unit.ended_at, unit.successor_code = DISSOLVED, utcnow(), out.successor
    session.flush()
    return out.retired


def certificate_name(session: Session, unit: OrgUnit) -> str:
    """上海市黄浦区五里桥街道桥一居委会: the standard name, from the root of the org tree down."""
    return "".join(u.name for u in reversed(org.ancestors(session, unit)))


def _district_name(session: Session, unit: OrgUnit) -> str | None:
    for above in org.ancestors(session, unit):
        if above.level == Level.DISTRICT:
            return above.name
    return None


def active_record(session: Session, org_code: str) -> CommitteeLegalPerson | None:
    return session.execute(
        select(CommitteeLegalPerson).where(
            CommitteeLegalPerson.org_code == org_code, CommitteeLegalPerson.status == ACTIVE
        )
    ).scalar_one_or_none()


def issue_code(session: Session, unit: OrgUnit, prefix: str, instance_id: str | None, detail: str) -> str:
    """Register a committee as a special legal person: a new code, the next serial in its division."""
    division = uscc.division_code(_district_name(session, unit))
    start = prefix + division
    taken = session.execute(select(CommitteeLegalPerson.uscc).where(CommitteeLegalPerson.uscc.like(f"{start}%")))
    serial = max((int(code[8:16]) for code in taken.scalars() if code[8:16].isdigit()), default=0) + 1
    code = uscc.make_uscc(prefix, division, serial)
    now = utcnow()
    session.add(
        CommitteeLegalPerson(
            uscc=code,
            org_code=unit.code,
            name=certificate_name(session, unit),
            status=ACTIVE,
            registered_at=now,
            changed_at=now,
            history=[_entry("issued", instance_id, detail)],
        )
    )
    session.flush()
    return code


def _entry(action: str, instance_id: str | None, detail: str) -> dict:
    return {"at": utcnow().isoformat(), "action": action, "instance_id": instance_id, "detail": detail}


def record_legal_persons(session: Session, plan: dict, prefix: str, instance_id: str | None) -> list[dict]:
    """Issue codes to new committees, change the certificates of changed ones, cancel retired ones."""
    out = outcome_of(plan)
    actions: list[dict] = []
    reason = plan.get("change_type") or "change"
    for unit in out.created:
        code = issue_code(session, org.get_unit(session, unit["code"]), prefix, instance_id, f"{reason}: 新设")
        actions.append({"action": "issued", "org_unit": unit["code"], "uscc": code})
    for code in out.changed:
        unit = org.get_unit(session, code)
        record = active_record(session, code)
        if record is None:  # a committee registered before the registry was kept here
            issued = issue_code(session, unit, prefix, instance_id, f"{reason}: 补登记")
            actions.append({"action": "issued", "org_unit": code, "uscc": issued})
            continue
        record.name, record.changed_at = certificate_name(session, unit), utcnow()
        record.history = [*record.history, _entry("changed", instance_id, f"{reason}: 变更")]
        actions.append({"action": "changed", "org_unit": code, "uscc": record.uscc})
    for code in out.retired:
        record = active_record(session, code)
        if record is None:
            actions.append({"action": "none_on_record", "org_unit": code, "uscc": None})
            continue
        record.status, record.cancelled_at, record.changed_at = CANCELLED, utcnow(), utcnow()
        successor = f"，由 {out.successor} 承继" if out.successor else ""
        record.history = [*record.history, _entry("cancelled", instance_id, f"{reason}: 注销{successor}")]
        actions.append({"action": "cancelled", "org_unit": code, "uscc": record.uscc})
    session.flush()
    return actions


def set_representatives(session: Session, elections: list[dict], instance_id: str | None) -> list[dict]:
    """The elected 主任 becomes the legal representative on the committee's certificate."""
    done = []
    for item in elections:
        if not isinstance(item, dict):
            continue
        record = active_record(session, str(item.get("org_code") or ""))
        director = str(item.get("director") or "").strip()[:100]
        if record is None or not director:
            continue
        record.legal_representative, record.changed_at = director, utcnow()
        record.history = [*record.history, _entry("representative", instance_id, f"法定代表人：{director}")]
        done.append({"org_unit": record.org_code, "uscc": record.uscc, "legal_representative": director})
    session.flush()
    return done


def legal_person_view(record: CommitteeLegalPerson) -> dict:
    return {
        "uscc": record.uscc,
        "org_unit": record.org_code,
        "name": record.name,
        "legal_representative": record.legal_representative,
        "status": record.status,
        "registered_at": record.registered_at.isoformat(),
        "changed_at": record.changed_at.isoformat(),
        "cancelled_at": record.cancelled_at.isoformat() if record.cancelled_at else None,
        "history": list(record.history or []),
    }
