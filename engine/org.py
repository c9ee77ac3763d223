"""The org tree and who works a lane: candidate org units for a role, with the sentence saying why."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from engine.db import hold
from engine.errors import RuleBroken, UnknownOrgUnit
from engine.models import OrgUnit
from engine.roles import LANE_ROLES, LEVEL_RANK, RURAL_COUNTERPART, Level


@dataclass(frozen=True)
class Candidate:
    role: str | None
    org_code: str | None
    why: str
    org_path: str = ""


# The unit and the units above it, by its parent links (UNION: a loop in the links would end the walk).
_CHAIN = select(OrgUnit.code, OrgUnit.parent_code).where(OrgUnit.code == bindparam("code")).cte("chain", recursive=True)
_CHAIN = _CHAIN.union(select(OrgUnit.code, OrgUnit.parent_code).join(_CHAIN, OrgUnit.code == _CHAIN.c.parent_code))
_UNIT_AND_ANCESTORS = select(OrgUnit).where(OrgUnit.code.in_(select(_CHAIN.c.code)))
_UNITS = select(OrgUnit).where(OrgUnit.code.in_(bindparam("codes", expanding=True)))


def held_unit(session: Session, code: str) -> OrgUnit | None:
    """The unit if this session holds it already (read in this transaction), without a statement."""
    return session.identity_map.get(session.identity_key(OrgUnit, code))


def get_unit_and_ancestors(session: Session, code: str) -> OrgUnit:
    """A unit, read with every unit above it in one statement and held for the command: the reach check
    and the candidate walks that follow find them in the session."""
    units = session.execute(_UNIT_AND_ANCESTORS, {"code": code}).scalars().all()
    hold(session, units)
    for unit in units:
        if unit.code == code:
            return unit
    raise UnknownOrgUnit(f"There is no org unit with code {code!r}.", code="no_org_unit", unit=code)


def hold_path(session: Session, path: str) -> None:
    """The units of an org path, held for the command; read only when the session lacks one of them."""
    codes = [code for code in path.split("/") if code]
    if any(held_unit(session, code) is None for code in codes):
        hold(session, session.execute(_UNITS, {"codes": codes}).scalars())


def get_unit(session: Session, code: str) -> OrgUnit:
    unit = session.get(OrgUnit, code)
    if unit is None:
        raise UnknownOrgUnit(f"There is no org unit with code {code!r}.", code="no_org_unit", unit=code)
    return unit


def ancestors(session: Session, unit: OrgUnit) -> list[OrgUnit]:
    """The unit itself, then its parent, up to the root."""
    chain = [unit]
    seen = {unit.code}
    while chain[-1].parent_code:
        parent = session.get(OrgUnit, chain[-1].parent_code)
        if parent is None or parent.code in seen:
            break
        seen.add(parent.code)
        chain.append(parent)
    return chain


def path_for(session: Session, parent_code: str | None, code: str) -> str:
    """The materialized path of a new unit: its parent's path plus its own code."""
    parent = get_unit(session, parent_code) if parent_code else None
    return (parent.path if parent else "") + code + "/"


def path_range(path: str) -> tuple[str, str]:
    """Bounds of every path at or below `path`, for an index range scan ('/' + 1 is '0')."""
    return path, path[:-1] + "0"


def validate_new_unit(session: Session, code: str, level: str, parent_code: str | None) -> None:
    if session.get(OrgUnit, code) is not None:
        raise RuleBroken(f"An org unit with code {code!r} already exists.")
    if level not in {lvl.value for lvl in Level}:
        raise RuleBroken(f"Level {level!r} is not one of {', '.join(lvl.value for lvl in Level)}.")
    if parent_code is None:
        return
    parent = get_unit(session, parent_code)
    if LEVEL_RANK[Level(parent.level)] >= LEVEL_RANK[Level(level)]:
        raise RuleBroken(f"A {level} cannot sit under {parent.name} ({parent.level}).")


def _fits(role: str, unit: OrgUnit) -> str | None:
    """The role that works this role's lane at `unit`, or None when the unit is at another level."""
    if unit.level in LANE_ROLES[role]:
        if unit.kind == "villagers" and role in RURAL_COUNTERPART:
            return RURAL_COUNTERPART[role]
        return role
    counterpart = RURAL_COUNTERPART.get(role)
    if counterpart and unit.level in LANE_ROLES[counterpart]:
        return counterpart
    return None


def resolve_candidate(
    session: Session, role: str | None, instance_unit: OrgUnit, explicit_code: str | None = None
) -> Candidate:
    """Which role at which org unit should work a lane of an instance that belongs to `instance_unit`."""
    if role is None:
        return Candidate(
            None,
            instance_unit.code,
            f"the step is in no lane with a known role, so any official of {instance_unit.name} may do it",
            instance_unit.path,
        )
    if explicit_code:
        unit = get_unit(session, explicit_code)
        fitting = _fits(role, unit) or role
        why = f"{fitting} of {unit.name}, because the process data names {unit.name}"
        return _handed_on(session, Candidate(fitting, unit.code, why, unit.path), unit)
    for unit in ancestors(session, instance_unit):
        fitting = _fits(role, unit)
        if fitting is None:
            continue
        if unit.code == instance_unit.code:
            why = f"{fitting} of {unit.name}, because the instance belongs to {unit.name}"
        else:
            why = f"{fitting} of {unit.name}, because the instance belongs to {instance_unit.name}"
        return _handed_on(session, Candidate(fitting, unit.code, why, unit.path), unit)
    return Candidate(
        role,
        instance_unit.code,
        f"{role} of {instance_unit.name}: no org unit above {instance_unit.name} is at the level of {role}",
        instance_unit.path,
    )


def _handed_on(session: Session, candidate: Candidate, unit: OrgUnit) -> Candidate:
    """A dissolved or merged-away unit takes no new tasks: they go to the unit that took over its area."""
    seen = {unit.code}
    while unit.status != "active" and unit.successor_code and unit.successor_code not in seen:
        successor = get_unit(session, unit.successor_code)
        why = (
            f"{candidate.role} of {successor.name}, because {unit.name} was {unit.status} "
            f"and {successor.name} took over"
        )
        candidate = Candidate(_fits(candidate.role, successor) or candidate.role, successor.code, why, successor.path)
        seen.add(successor.code)
        unit = successor
    return candidate


def units_working(session: Session, role: str | None) -> list[OrgUnit]:
    """Every org unit where a lane of `role` is worked (its own level, or its rural counterpart's);
    for no role, the roots of the tree. A timer start event starts one instance for each; a dissolved or
    merged-away unit starts none."""
    units = [u for u in session.execute(select(OrgUnit).order_by(OrgUnit.path)).scalars() if u.status == "active"]
    if role is None or role not in LANE_ROLES:
        return [u for u in units if u.parent_code is None]
    return [u for u in units if _fits(role, u) is not None]
