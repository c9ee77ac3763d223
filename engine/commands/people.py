"""Org units, users and sign-in."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import org, paging, people, reach, views
from engine.audit import Actor, AuditLog
from engine.commands.base import EngineBase
from engine.errors import (
    NotAllowed,
    RuleBroken,
)
from engine.models import (
    OrgUnit,
    RoleAssignment,
    UserAccount,
)
from engine.paging import SortKey, check_limit
from engine.people import Person
from engine.principal import Principal
from engine.roles import ADMIN

ORG_UNIT_ORDER = (SortKey(OrgUnit.code),)


class PeopleCommands(EngineBase):
    def add_org_unit(
        self,
        code: str,
        name: str,
        level: str,
        parent: str | None,
        kind: str | None = None,
        by: Principal | None = None,
    ) -> dict:
        by = by or Principal.system()
        with self.transaction() as session:
            self._admin_actor(session, by, [] if parent is None else [org.get_unit(session, parent).path])
            org.validate_new_unit(session, code, level, parent)
            if kind not in (None, "residents", "villagers"):
                raise RuleBroken("kind must be residents or villagers.")
            unit = OrgUnit(
                code=code,
                name=name,
                level=level,
                parent_code=parent,
                kind=kind,
                path=org.path_for(session, parent, code),
            )
            session.add(unit)
            AuditLog(session).append_system(by.actor(), "org_unit_added", code, views.org_unit(unit))
            return views.org_unit(unit)

    def list_org_units(self) -> list[dict]:
        with self.reading() as session:
            units = session.execute(select(OrgUnit).order_by(OrgUnit.code)).scalars()
            return [views.org_unit(u) for u in units]

    def org_units_page(self, cursor: str | None = None, limit: int = 50) -> dict:
        """The org tree by code, one page: {items, next_cursor}."""
        check_limit(limit)
        with self.reading() as session:
            return paging.page(session, select(OrgUnit), ORG_UNIT_ORDER, "org-units", cursor, limit, views.org_unit)

    def add_user(
        self,
        username: str,
        password: str,
        holdings: list[tuple[str, str]],
        display_name: str | None = None,
        by: Principal | None = None,
    ) -> dict:
        by = by or Principal.system()
        with self.transaction() as session:
            if session.get(UserAccount, username) is not None:
                raise RuleBroken(f"A user {username!r} already exists.")
            people.validate_roles([role for role, _ in holdings])
            for _role, code in holdings:
                org.get_unit(session, code)
                self._admin_actor(session, by, [org.get_unit(session, code).path])
            session.add(
                UserAccount(
                    username=username,
                    display_name=display_name or username,
                    password_hash=people.hash_password(password, self.settings.password_profile),
                )
            )
            session.flush()
            for role, code in sorted(set(holdings)):
                session.add(RoleAssignment(username=username, role=role, org_code=code))
            roles = [{"role": r, "org_unit": c} for r, c in sorted(set(holdings))]
            AuditLog(session).append_system(by.actor(), "user_added", username, {"roles": roles})
            return {"username": username, "display_name": display_name or username, "roles": roles}

    def authenticate(self, username: str, password: str) -> Person | None:
        with self.reading() as session:
            user = session.get(UserAccount, username)
            if user is None or not user.active or not people.check_password(user.password_hash, password):
                return None
            return people.load_person(session, username)

    def _admin_actor(self, session: Session, by: Principal, paths: Iterable[str]) -> Actor:
        """The caller as the admin they act as: of a unit at or above every one of `paths` (any unit when
        there are none); NotAllowed otherwise."""
        if by.is_system:
            return by.actor()
        paths = list(paths)
        holdings = [h for h in by.person.holdings if h.role == ADMIN]
        if not paths and holdings:
            return by.actor(ADMIN, holdings[0].org_code)
        holding = reach.reaching(session, by, paths[0], {ADMIN}) if paths else None
        if holding is not None and all(reach.reaches(session, by, p, {ADMIN}) for p in paths[1:]):
            return by.actor(ADMIN, holding.org_code)
        raise NotAllowed("Only an admin of this org unit may manage org units and users.")
