"""Admins manage people and units: list and read users, rename, disable and enable them, reset a password,
grant and revoke roles, rename an org unit.

An admin manages the users all of whose roles lie at or below a unit where the admin holds `admin`, and
the units at or below those. Every change is an event on the system audit chain, made by the admin in
their admin role at their unit. Disabling a user, or resetting their password, ends every token and
browser session they hold at once.
"""

from __future__ import annotations

from sqlalchemy import Select, false, select, update
from sqlalchemy.orm import Session

from engine import org, paging, people, reach, views
from engine.audit import Actor, AuditLog
from engine.commands.people import PeopleCommands
from engine.errors import NotFound, RuleBroken, UnknownUser
from engine.models import ApiToken, OrgUnit, RoleAssignment, UserAccount, utcnow
from engine.paging import SortKey, check_limit
from engine.principal import Principal
from engine.roles import ADMIN

USER_ORDER = (SortKey(UserAccount.username),)


class AdministrationCommands(PeopleCommands):
    # --- reading --------------------------------------------------------------------------------

    def list_users(
        self,
        by: Principal,
        org_unit: str | None = None,
        role: str | None = None,
        active: bool | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> dict:
        """The users the admin manages, by username, one page. `org_unit`: holding a role at that unit or
        below it; `role`: holding that role (there, when both are given); `active`: enabled or disabled."""
        check_limit(limit)
        if role is not None:
            people.validate_roles([role])
        with self.reading() as session:
            self._admin_actor(session, by, [] if org_unit is None else [org.get_unit(session, org_unit).path])
            holding = select(RoleAssignment.username).join(OrgUnit, OrgUnit.code == RoleAssignment.org_code)
            query = select(UserAccount).where(~UserAccount.username.in_(self._held_outside_reach(session, by)))
            if org_unit is not None:
                subtree = [org.get_unit(session, org_unit).path]
                holding = holding.where(reach.within(OrgUnit.path, subtree))
            if role is not None:
                holding = holding.where(RoleAssignment.role == role)
            if org_unit is not None or role is not None:
                query = query.where(UserAccount.username.in_(holding))
            if active is not None:
                query = query.where(UserAccount.active.is_(active))
            found = paging.page(session, query, USER_ORDER, "users", cursor, limit, lambda u: u)
            roles = _roles_of(session, [u.username for u in found["items"]])
            return {
                "items": [views.user_account(u, roles.get(u.username, [])) for u in found["items"]],
                "next_cursor": found["next_cursor"],
            }

    def get_user(self, username: str, by: Principal) -> dict:
        """One user the admin manages: name, whether enabled, the roles held and where."""
        with self.reading() as session:
            user = self._managed_user(session, by, username)[0]
            return self._user_view(session, user)

    # --- changing a user --------------------------------------------------------------------------

    def rename_user(self, username: str, display_name: str, by: Principal) -> dict:
        display_name = _name(display_name, "A display name")
        with self.transaction() as session:
            user, actor = self._managed_user(session, by, username)
            if user.display_name != display_name:
                was, user.display_name = user.display_name, display_name
                AuditLog(session).append_system(
                    actor, "user_renamed", username, {"display_name": display_name, "was": was}
                )
            return self._user_view(session, user)

    def disable_user(self, username: str, by: Principal) -> dict:
        """Disable a user: they cannot sign in, and their tokens and sessions stop working at once."""
        return self._set_active(username, by, False)

    def enable_user(self, username: str, by: Principal) -> dict:
        """Enable a disabled user again; they sign in afresh (their old tokens stay revoked)."""
        return self._set_active(username, by, True)

    def _set_active(self, username: str, by: Principal, active: bool) -> dict:
        with self.transaction() as session:
            user, actor = self._managed_user(session, by, username)
            if not active and username == by.username:
                raise RuleBroken("You cannot disable yourself; ask another admin.")
            if user.active != active:
                user.active = active
                revoked = 0 if active else _end_sessions(session, username)
                action = "user_enabled" if active else "user_disabled"
                AuditLog(session).append_system(actor, action, username, {} if active else {"tokens_revoked": revoked})
            return self._user_view(session, user)

    def reset_password(self, username: str, password: str, by: Principal) -> dict:
        """Set a new password (argon2id); the user's tokens and sessions end, so they sign in with it."""
        with self.transaction() as session:
            user, actor = self._managed_user(session, by, username)
            user.password_hash = people.hash_password(password, self.settings.password_profile)
            revoked = _end_sessions(session, username)
            AuditLog(session).append_system(actor, "password_reset", username, {"tokens_revoked": revoked})
            return self._user_view(session, user)

    def grant_role(self, username: str, role: str, org_code: str, by: Principal) -> dict:
        """The user holds `role` at `org_code` too (the admin must reach both the user and the unit)."""
        people.validate_roles([role])
        with self.transaction() as session:
            user, _ = self._managed_user(session, by, username)
            actor = self._admin_actor(session, by, [org.get_unit(session, org_code).path])
            held = session.execute(
                select(RoleAssignment).where(
                    RoleAssignment.username == username,
                    RoleAssignment.role == role,
                    RoleAssignment.org_code == org_code,
                )
            ).scalar_one_or_none()
            if held is None:
                session.add(RoleAssignment(username=username, role=role, org_code=org_code))
                session.flush()
                AuditLog(session).append_system(actor, "role_granted", username, {"role": role, "org_unit": org_code})
            return self._user_view(session, user)

    def revoke_role(self, username: str, role: str, org_code: str, by: Principal) -> dict:
        """The user no longer holds `role` at `org_code`; a user keeps at least one role."""
        with self.transaction() as session:
            user, actor = self._managed_user(session, by, username)
            holdings = session.execute(select(RoleAssignment).where(RoleAssignment.username == username)).scalars()
            held = {(h.role, h.org_code): h for h in holdings}
            if (role, org_code) not in held:
                raise NotFound(f"{username} does not hold {role} at {org_code}.")
            if len(held) == 1:
                raise RuleBroken(f"{role} at {org_code} is the only role {username} holds; disable the user instead.")
            if username == by.username and role == ADMIN:
                raise RuleBroken("You cannot take away your own admin role; ask another admin.")
            session.delete(held[role, org_code])
            session.flush()
            AuditLog(session).append_system(actor, "role_revoked", username, {"role": role, "org_unit": org_code})
            return self._user_view(session, user)

    # --- org units --------------------------------------------------------------------------------

    def rename_org_unit(self, code: str, name: str, by: Principal) -> dict:
        name = _name(name, "An org unit's name")
        with self.transaction() as session:
            unit = org.get_unit(session, code)
            actor = self._admin_actor(session, by, [unit.path])
            if unit.name != name:
                was, unit.name = unit.name, name
                AuditLog(session).append_system(actor, "org_unit_renamed", code, {"name": name, "was": was})
            return views.org_unit(unit)

    # --- who manages whom ----------------------------------------------------------------------------

    def _managed_user(self, session: Session, by: Principal, username: str) -> tuple[UserAccount, Actor]:
        """The user (any state) and the caller acting as their admin; NotAllowed for a user with a role
        outside the caller's reach."""
        user = session.get(UserAccount, username)
        if user is None:
            raise UnknownUser(f"There is no user {username!r}.")
        paths = session.execute(
            select(OrgUnit.path)
            .join(RoleAssignment, RoleAssignment.org_code == OrgUnit.code)
            .where(RoleAssignment.username == username)
        ).scalars()
        return user, self._admin_actor(session, by, list(paths))

    def _held_outside_reach(self, session: Session, by: Principal) -> Select:
        """Usernames holding a role at a unit outside the caller's admin reach (none for the system)."""
        query = select(RoleAssignment.username).join(OrgUnit, OrgUnit.code == RoleAssignment.org_code)
        if by.is_system:
            return query.where(false())
        return query.where(~reach.within(OrgUnit.path, reach.reach_paths(session, by, {ADMIN})))

    def _user_view(self, session: Session, user: UserAccount) -> dict:
        return views.user_account(user, _roles_of(session, [user.username]).get(user.username, []))


def _name(value: str | None, what: str) -> str:
    """A name as shown to people: trimmed, 1 to 200 characters (the columns' width)."""
    name = (value or "").strip()
    if not 1 <= len(name) <= 200:
        raise RuleBroken(f"{what} needs 1 to 200 characters.")
    return name


def _roles_of(session: Session, usernames: list[str]) -> dict[str, list[dict]]:
    """username -> [{role, org_unit}], sorted, for the given users."""
    if not usernames:
        return {}
    rows = session.execute(
        select(RoleAssignment.username, RoleAssignment.role, RoleAssignment.org_code)
        .where(RoleAssignment.username.in_(usernames))
        .order_by(RoleAssignment.username, RoleAssignment.role, RoleAssignment.org_code)
    ).all()
    roles: dict[str, list[dict]] = {}
    for username, role, code in rows:
        roles.setdefault(username, []).append({"role": role, "org_unit": code})
    return roles


def _end_sessions(session: Session, username: str) -> int:
    """Revoke every live token and browser session of the user; how many there were."""
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.username == username, ApiToken.revoked_at.is_(None), ApiToken.expires_at > utcnow())
        .values(revoked_at=utcnow())
    )
    return result.rowcount or 0
