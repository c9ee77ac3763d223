"""Who is who, for the workspace: names to show, the officials a task can be handed to, what one may start."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import reach, views
from engine.commands.base import EngineBase
from engine.errors import NotAllowed, NotFound
from engine.models import HumanTask, OrgUnit, ProcessDefinition, RoleAssignment, UserAccount
from engine.principal import Principal
from engine.roles import ADMIN, LANE_ROLES, Level


class DirectoryQueries(EngineBase):
    def display_names(self, usernames: Iterable[str | None]) -> dict[str, str]:
        """username -> display name, for the users that exist (active or not: history keeps its names)."""
        wanted = sorted({u for u in usernames if u})
        if not wanted:
            return {}
        with self.reading() as session:
            rows = session.execute(
                select(UserAccount.username, UserAccount.display_name).where(UserAccount.username.in_(wanted))
            ).all()
            return dict(rows)

    def org_unit_names(self, codes: Iterable[str | None]) -> dict[str, str]:
        """org unit code -> name, for the units that exist."""
        wanted = sorted({c for c in codes if c})
        if not wanted:
            return {}
        with self.reading() as session:
            return dict(session.execute(select(OrgUnit.code, OrgUnit.name).where(OrgUnit.code.in_(wanted))).all())

    def unit_choices(self, by: Principal, chosen: str | None = None) -> list[dict]:
        """The org units a filter by unit offers the caller, in tree order, each with its `depth` below the
        top of the list: the units in reach above the committees, and the committees of the chosen unit's
        street (its own, or its parent's when a committee is chosen).

        A city holds some 6,000 committees: as options of one list they made a 383 KiB page that nobody
        could scroll; a street's 30 or so are a list.
        """
        with self.reading() as session:
            paths = reach.reach_paths(session, by)
            if not paths:
                return []
            street = unit = None
            if chosen:
                unit = session.get(OrgUnit, chosen)
                if unit is not None and any(unit.path.startswith(p) for p in paths):
                    street = unit.parent_code if unit.level == Level.COMMITTEE else unit.code
            shown = (OrgUnit.level != Level.COMMITTEE) | OrgUnit.path.in_(paths)
            if street is not None:
                shown = shown | (OrgUnit.parent_code == street)
            units = (
                session.execute(select(OrgUnit).where(reach.within(OrgUnit.path, paths), shown).order_by(OrgUnit.path))
                .scalars()
                .all()
            )
            outside = [unit] if unit is not None and unit not in units else []
        top = min((u.path.count("/") for u in units), default=0)
        choices = [views.org_unit(u) | {"depth": u.path.count("/") - top} for u in units]
        # A unit outside the reach is still the filter the form shows (it finds nothing), at the top level.
        return choices + [views.org_unit(u) | {"depth": 0} for u in outside]

    def task_people(self, task_id: str, by: Principal) -> dict[str, list[dict]]:
        """Who a task can be handed to, other than the caller: its other candidates (转办) and the
        officials of its unit (委派). Each is {username, display_name}; only active users."""
        with self.reading() as session:
            task = session.get(HumanTask, task_id)
            if task is None:
                raise NotFound(f"There is no task {task_id}.", code="no_task", id=task_id)
            if not by.is_system:
                self._require_reach_of_task(session, by, task)
            rows = session.execute(
                select(RoleAssignment.username, RoleAssignment.role, UserAccount.display_name)
                .join(UserAccount, UserAccount.username == RoleAssignment.username)
                .where(
                    RoleAssignment.org_code == task.org_code,
                    RoleAssignment.role.in_(LANE_ROLES.keys()),
                    UserAccount.active.is_(True),
                    UserAccount.username != by.username,
                )
                .order_by(RoleAssignment.username)
            ).all()
        candidates: dict[str, dict] = {}
        colleagues: dict[str, dict] = {}
        for username, role, name in rows:
            person = {"username": username, "display_name": name}
            colleagues.setdefault(username, person)
            if task.role is None or role == task.role:
                candidates.setdefault(username, person)
        return {"candidates": list(candidates.values()), "colleagues": list(colleagues.values())}

    def startable(self, by: Principal) -> dict[str, list[dict]]:
        """What the caller may start, and where: the latest version of every process, and the org units
        at or below those where they hold an official role (or admin); nothing for designers and auditors."""
        with self.reading() as session:
            starting = {h.org_code for h in by.person.holdings if h.role in LANE_ROLES or h.role == ADMIN}
            if not starting:
                return {"processes": [], "org_units": []}
            paths = list(session.execute(select(OrgUnit.path).where(OrgUnit.code.in_(starting))).scalars())
            units = session.execute(
                select(OrgUnit).where(reach.within(OrgUnit.path, paths)).order_by(OrgUnit.path)
            ).scalars()
            newest: dict[str, ProcessDefinition] = {}
            for definition in session.execute(
                select(ProcessDefinition).order_by(ProcessDefinition.key, ProcessDefinition.version)
            ).scalars():
                newest[definition.key] = definition
            return {
                "processes": [views.definition_summary(d) for d in newest.values()],
                "org_units": [views.org_unit(u) for u in units],
            }

    def _require_reach_of_task(self, session: Session, by: Principal, task: HumanTask) -> None:
        unit = session.get(OrgUnit, task.org_code) if task.org_code else None
        path = task.org_path or (unit.path if unit else "")
        if not reach.reaches(session, by, path):
            raise NotAllowed(
                f"{by.username} may not see the tasks of org unit {task.org_code}.",
                code="out_of_reach",
                user=by.username,
                unit=task.org_code,
            )
