"""Users, their argon2 password hashes and the roles they hold at org units."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import RuleBroken, UnknownUser
from engine.models import RoleAssignment, UserAccount
from engine.roles import ALL_ROLES

MIN_PASSWORD_LENGTH = 8

# argon2id always; "fast" is a cheap cost profile for test suites, where hundreds of users are made.
HASHERS = {
    "strong": PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY),
    "fast": PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
}


@dataclass(frozen=True)
class Holding:
    role: str
    org_code: str


@dataclass(frozen=True)
class Person:
    username: str
    display_name: str
    holdings: tuple[Holding, ...]

    def holds(self, role: str, org_code: str) -> bool:
        return Holding(role, org_code) in self.holdings

    def has_role(self, role: str) -> bool:
        return any(h.role == role for h in self.holdings)


def hash_password(password: str, profile: str = "strong") -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise RuleBroken(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")
    return HASHERS[profile].hash(password)


def check_password(password_hash: str, password: str) -> bool:
    """Verifies against the parameters stored in the hash itself, whatever profile made it."""
    try:
        return HASHERS["strong"].verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def validate_roles(roles: list[str]) -> None:
    unknown = sorted(set(roles) - ALL_ROLES)
    if unknown:
        raise RuleBroken(f"Unknown role(s): {', '.join(unknown)}. Known roles: {', '.join(sorted(ALL_ROLES))}.")
    if not roles:
        raise RuleBroken("A user needs at least one role.")


def load_person(session: Session, username: str) -> Person:
    user = session.get(UserAccount, username)
    if user is None or not user.active:
        raise UnknownUser(f"There is no active user {username!r}.", code="no_user", user=username)
    rows = session.execute(select(RoleAssignment).where(RoleAssignment.username == username)).scalars()
    return person_of(user.username, user.display_name, ((r.role, r.org_code) for r in rows))


def person_of(username: str, display_name: str, held: Iterable[tuple[str, str]]) -> Person:
    """A person with their (role, org unit) holdings in one order, however they were read."""
    holdings = tuple(sorted((Holding(role, org_code) for role, org_code in held), key=lambda h: (h.role, h.org_code)))
    return Person(username, display_name, holdings)
