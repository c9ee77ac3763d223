"""Who reaches what: a role held at an org unit reaches that unit and every unit below it.

Units, instances and human tasks carry materialized org paths ("shanghai/huangpu/wuliqiao/"), so a
holding at U reaches a row when the row's path starts with U's path, and a list query becomes index
range scans over the caller's paths.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from engine import org
from engine.models import OrgUnit
from engine.people import Holding
from engine.principal import Principal


def holding_paths(session: Session, by: Principal) -> dict[str, str]:
    """Org code -> path of every unit where the caller holds a role."""
    paths, unread = {}, []
    for code in {h.org_code for h in by.person.holdings}:
        held = org.held_unit(session, code)  # a unit this command read already (a start reads its path)
        if held is None:
            unread.append(code)
        else:
            paths[code] = held.path
    if unread:
        paths.update(session.execute(select(OrgUnit.code, OrgUnit.path).where(OrgUnit.code.in_(unread))).all())
    return paths


def reach_paths(session: Session, by: Principal, roles: Iterable[str] | None = None) -> list[str]:
    """Org paths of the units where the caller holds a role (one of `roles`, or any), none inside another."""
    paths = holding_paths(session, by)
    if roles is not None:
        wanted = set(roles)
        paths = {h.org_code: paths[h.org_code] for h in by.person.holdings if h.role in wanted and h.org_code in paths}
    kept: list[str] = []
    for path in sorted(p for p in paths.values() if p):
        if not any(path.startswith(k) for k in kept):
            kept.append(path)
    return kept


def reaching(
    session: Session,
    by: Principal,
    paths: str | Iterable[str],
    roles: Iterable[str] | None = None,
    *,
    strictly_above: bool = False,
) -> Holding | None:
    """The caller's first holding (of `roles`, or any) whose unit is at or above one of the org `paths`.

    `strictly_above` leaves the unit itself out (officials of the units above it). None for the
    system caller, who needs no holding.
    """
    if by.is_system:
        return None
    targets = [paths] if isinstance(paths, str) else list(paths)
    wanted = None if roles is None else set(roles)
    unit_paths = holding_paths(session, by)
    for holding in by.person.holdings:
        if wanted is not None and holding.role not in wanted:
            continue
        mine = unit_paths.get(holding.org_code)
        if not mine:
            continue
        for target in targets:
            if target and target.startswith(mine) and not (strictly_above and target == mine):
                return holding
    return None


def reaches(session: Session, by: Principal, paths: str | Iterable[str], roles: Iterable[str] | None = None) -> bool:
    return by.is_system or reaching(session, by, paths, roles) is not None


def within(column: InstrumentedAttribute | ColumnElement[str], paths: list[str]) -> ColumnElement[bool]:
    """The column's org path lies at or below one of `paths` (an index range scan per path)."""
    if not paths:
        return false()
    return or_(*(and_(column >= low, column < high) for low, high in map(org.path_range, paths)))


def takes_in_every_root(session: Session, paths: list[str]) -> bool:
    """Whether `paths` reach every root of the org tree (a city auditor's do): then a condition on an org
    path holds for every row, and its range over the whole table only misleads the planner."""
    if not any(p.count("/") == 1 for p in paths):  # a root's path is "code/"; most callers hold none
        return False
    roots = session.execute(select(OrgUnit.path).where(OrgUnit.parent_code.is_(None))).scalars().all()
    return bool(roots) and all(any(root.startswith(p) for p in paths) for root in roots)


def reach_at(session: Session, by: Principal, path: str) -> list[str]:
    """The caller's reach at or below the unit of `path`, as org paths: the unit itself when the caller
    reaches it, else the units under it the caller holds (none: nothing to read).

    A filter by unit is this one set of ranges, not the unit's range and the reach's together: with both,
    PostgreSQL walked every case of a status for an official who named a unit outside their reach (0.5 s
    at city scale, for an empty page)."""
    if by.is_system:
        return [path]
    paths = reach_paths(session, by)
    if any(path.startswith(p) for p in paths):
        return [path]
    return [p for p in paths if p.startswith(path)]
