"""Signing in: expiring bearer tokens and browser sessions (stored hashed), and failed-login limits."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, bindparam, delete, func, not_, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from engine.audit import ENGINE_ACTOR, AuditLog
from engine.commands.base import EngineBase
from engine.errors import GovflowError, NotAllowed
from engine.models import ApiToken, LoginAttempt, RoleAssignment, UserAccount, utcnow
from engine.people import Person, person_of

BEARER, SESSION = "bearer", "session"
# A user is locked out after this many failures in the window; an address after ADDRESS_FAILURES.
USER_FAILURES = 5
ADDRESS_FAILURES = 20
FAILURE_WINDOW = timedelta(minutes=15)
# A sign-in still being checked after this long died with its process: from then on it counts as a failure.
CHECK_TIMEOUT = timedelta(seconds=60)
# How long to wait when the limit is full of sign-ins still being checked (a password check takes well under 1 s).
CHECKS_RETRY_SECONDS = 2


class TooManyAttempts(GovflowError):
    """Refused before the password is looked at; `retry_after` seconds (the Retry-After header) until it may pass."""

    status = 429

    def __init__(self, message: str, retry_after: int, code: str, **params: object) -> None:
        super().__init__(message, code=code, **params)
        self.retry_after = retry_after


class BadCredentials(GovflowError):
    status = 401


@dataclass(frozen=True)
class Grant:
    """What a sign-in hands out: the raw token (shown once), when it expires, and for sessions a CSRF token."""

    token: str
    expires_at: datetime
    person: Person
    csrf_token: str | None = None


# Every API request runs this (built once: building a statement costs more than running it): the token,
# its user and the user's roles, a row per role.
_TOKEN_HOLDER = (
    select(
        ApiToken.username,
        ApiToken.revoked_at,
        ApiToken.expires_at,
        ApiToken.csrf_hash,
        UserAccount.display_name,
        UserAccount.active,
        RoleAssignment.role,
        RoleAssignment.org_code,
    )
    .join(UserAccount, UserAccount.username == ApiToken.username)
    .outerjoin(RoleAssignment, RoleAssignment.username == ApiToken.username)
    .where(ApiToken.token_hash == bindparam("hash"), ApiToken.kind == bindparam("kind"))
)


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _failed(now: datetime) -> ColumnElement[bool]:
    """The attempts that count as failures at `now`: failed ones, and checks that never ended."""
    return or_(LoginAttempt.failed_at.is_not(None), LoginAttempt.at < now - CHECK_TIMEOUT)


def _counts(username: str, address: str) -> tuple[tuple[str, InstrumentedAttribute, str, int], ...]:
    """The two counts a sign-in is limited by: (what, column, value, limit) for its user and its address."""
    return (
        ("user", LoginAttempt.username, username, USER_FAILURES),
        ("address", LoginAttempt.address, address, ADDRESS_FAILURES),
    )


def _lock_key(kind: str, value: str) -> int:
    """A PostgreSQL advisory lock key (signed 64-bit) for the failures of one user or one address."""
    return int.from_bytes(hashlib.sha256(f"govflow-sign-in/{kind}/{value}".encode()).digest()[:8], "big", signed=True)


@dataclass(frozen=True)
class _Attempt:
    """A sign-in attempt, counted with the failures until its password proves right."""

    id: int
    username: str
    address: str
    at: datetime


class AccessCommands(EngineBase):
    def sign_in(self, username: str, password: str, address: str, kind: str = BEARER) -> Grant:
        """Check the password (rate-limited per user and address) and issue a token or a session.

        Every guess first takes a place among the failures of its user and its address, in a transaction
        that counts them under a lock; only then is the password checked, and a right one gives its place
        back. So concurrent guesses cannot get past the limits: the 21st of 21 simultaneous guesses from
        one address is refused before its password is looked at. A refusal says which it met: failures
        (a lockout for the rest of their window) or other sign-ins still being checked (a few seconds).
        """
        username = (username or "")[:64]
        address = (address or "unknown")[:64]
        attempt = self._take_attempt(username, address)
        person = self.authenticate(username, password)
        if person is None:
            self._sign_in_failed(attempt)
            raise BadCredentials("The username or password is wrong.", code="bad_credentials")
        return self._issue(person, address, kind, attempt.id)

    def _take_attempt(self, username: str, address: str) -> _Attempt:
        """Count the failures and the checks in flight in the window under the user's and the address's lock,
        then record this attempt among them; TooManyAttempts when either count is already at its limit."""
        now = utcnow()
        since = now - FAILURE_WINDOW
        failed = _failed(now)
        with self.transaction() as session:
            self._lock_sign_in_counts(session, username, address)
            for _what, column, value, limit in _counts(username, address):
                failures, checking, oldest = session.execute(
                    select(
                        func.count().filter(failed),
                        func.count().filter(not_(failed)),
                        func.min(LoginAttempt.at).filter(failed),
                    ).where(column == value, LoginAttempt.at >= since)
                ).one()
                if failures >= limit:
                    retry = max(int((oldest + FAILURE_WINDOW - now).total_seconds()) + 1, 1)
                    minutes = retry // 60 + 1
                    raise TooManyAttempts(
                        f"Too many failed sign-ins; try again in {minutes} minutes.",
                        retry,
                        code="too_many_attempts",
                        minutes=minutes,
                    )
                if failures + checking >= limit:
                    raise TooManyAttempts(
                        "Other sign-ins of this user or from this address are being checked; "
                        "try again in a few seconds.",
                        CHECKS_RETRY_SECONDS,
                        code="sign_ins_in_flight",
                    )
            row = LoginAttempt(username=username, address=address, at=now)
            session.add(row)
            session.flush()
            return _Attempt(row.id, username, address, now)

    def _lock_sign_in_counts(self, session: Session, username: str, address: str) -> None:
        """Let one transaction at a time count the attempts of this user and this address."""
        if self.dialect == "postgresql":  # SQLite's BEGIN IMMEDIATE already lets one writer in at a time
            for key in sorted({_lock_key("user", username), _lock_key("address", address)}):
                session.execute(select(func.pg_advisory_xact_lock(key)))

    def _sign_in_failed(self, attempt: _Attempt) -> None:
        """The attempt becomes a failure; the failure that fills a limit starts a lockout, which one audit
        event on the system chain says."""
        now = utcnow()
        since = attempt.at - FAILURE_WINDOW
        with self.transaction() as session:
            self._lock_sign_in_counts(session, attempt.username, attempt.address)
            session.execute(update(LoginAttempt).where(LoginAttempt.id == attempt.id).values(failed_at=now))
            audit = AuditLog(session)
            for what, column, value, limit in _counts(attempt.username, attempt.address):
                failures = session.scalar(
                    select(func.count()).where(column == value, LoginAttempt.at >= since, _failed(now))
                )
                if failures != limit:
                    continue
                audit.append_system(
                    ENGINE_ACTOR,
                    "sign_in_locked",
                    value,
                    {
                        "locked": what,
                        "username": attempt.username,
                        "address": attempt.address,
                        "failures": limit,
                        "until": (attempt.at + FAILURE_WINDOW).isoformat(),
                    },
                )

    def _issue(self, person: Person, address: str, kind: str, attempt_id: int) -> Grant:
        """The token or session, and the attempt that earned it no longer counted as a failure."""
        raw = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24) if kind == SESSION else None
        ttl = self.settings.session_ttl if kind == SESSION else self.settings.token_ttl
        expires_at = utcnow() + timedelta(seconds=ttl)
        with self.transaction() as session:
            session.execute(delete(LoginAttempt).where(LoginAttempt.id == attempt_id))
            session.add(
                ApiToken(
                    id=str(uuid.uuid4()),
                    username=person.username,
                    kind=kind,
                    token_hash=_digest(raw),
                    csrf_hash=_digest(csrf) if csrf else None,
                    address=address,
                    created_at=utcnow(),
                    expires_at=expires_at,
                )
            )
        return Grant(raw, expires_at, person, csrf)

    def resolve_token(self, raw: str, kind: str = BEARER, csrf: str | None = None) -> Person | None:
        """The person a live token belongs to; None for unknown, expired or revoked tokens.

        For sessions, `csrf` is checked when given (unsafe methods pass the header's value).
        """
        if not raw or len(raw) > 200:
            return None
        # Every API request pays this: one indexed read of plain columns (the token, its user and the user's
        # roles, a row per role), no ORM objects; the same checks as ever on expiry, revocation, CSRF and the
        # user's state.
        with self.reading_rows() as connection:
            rows = connection.execute(_TOKEN_HOLDER, {"hash": _digest(raw), "kind": kind}).all()
        if not rows:
            return None
        found = rows[0]
        if found.revoked_at is not None or found.expires_at <= utcnow():
            return None
        if csrf is not None and (found.csrf_hash is None or not secrets.compare_digest(found.csrf_hash, _digest(csrf))):
            raise NotAllowed("The CSRF token is missing or wrong; reload the page and try again.", code="csrf")
        if not found.active:
            return None
        return person_of(found.username, found.display_name, ((r.role, r.org_code) for r in rows if r.role is not None))

    def revoke_token(self, raw: str) -> bool:
        with self.transaction() as session:
            token = session.execute(select(ApiToken).where(ApiToken.token_hash == _digest(raw))).scalar_one_or_none()
            if token is None or token.revoked_at is not None:
                return False
            token.revoked_at = utcnow()
            return True
