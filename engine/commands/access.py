"""Signing in: expiring bearer tokens and browser sessions (stored hashed), and failed-login limits."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from engine import people
from engine.commands.base import EngineBase
from engine.errors import GovflowError, NotAllowed
from engine.models import ApiToken, LoginAttempt, UserAccount, utcnow
from engine.people import Person

BEARER, SESSION = "bearer", "session"
# A user is locked out after this many failures in the window; an address after ADDRESS_FAILURES.
USER_FAILURES = 5
ADDRESS_FAILURES = 20
FAILURE_WINDOW = timedelta(minutes=15)


class TooManyAttempts(GovflowError):
    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, code="too_many_attempts", minutes=max(1, retry_after // 60 + 1))
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


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class AccessCommands(EngineBase):
    def sign_in(self, username: str, password: str, address: str, kind: str = BEARER) -> Grant:
        """Check the password (rate-limited per user and address) and issue a token or a session."""
        username = (username or "")[:64]
        address = (address or "unknown")[:64]
        since = utcnow() - FAILURE_WINDOW
        with self.reading() as session:
            by_user = session.execute(
                select(func.count(), func.min(LoginAttempt.at)).where(
                    LoginAttempt.username == username, LoginAttempt.at >= since
                )
            ).one()
            by_address = session.execute(
                select(func.count(), func.min(LoginAttempt.at)).where(
                    LoginAttempt.address == address, LoginAttempt.at >= since
                )
            ).one()
        for (count, oldest), limit in ((by_user, USER_FAILURES), (by_address, ADDRESS_FAILURES)):
            if count >= limit:
                retry = int((oldest + FAILURE_WINDOW - utcnow()).total_seconds()) + 1
                raise TooManyAttempts(
                    f"Too many failed sign-ins; try again in {max(retry, 1) // 60 + 1} minutes.", max(retry, 1)
                )
        person = self.authenticate(username, password)
        if person is None:
            with self.transaction() as session:
                session.add(LoginAttempt(username=username, address=address, at=utcnow()))
            raise BadCredentials("The username or password is wrong.", code="bad_credentials")
        return self._issue(person, address, kind)

    def _issue(self, person: Person, address: str, kind: str) -> Grant:
        raw = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24) if kind == SESSION else None
        ttl = self.settings.session_ttl if kind == SESSION else self.settings.token_ttl
        expires_at = utcnow() + timedelta(seconds=ttl)
        with self.transaction() as session:
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
        with self.reading() as session:
            token = session.execute(
                select(ApiToken).where(ApiToken.token_hash == _digest(raw), ApiToken.kind == kind)
            ).scalar_one_or_none()
            if token is None or token.revoked_at is not None or token.expires_at <= utcnow():
                return None
            if csrf is not None and (
                token.csrf_hash is None or not secrets.compare_digest(token.csrf_hash, _digest(csrf))
            ):
                raise NotAllowed("The CSRF token is missing or wrong; reload the page and try again.", code="csrf")
            user = session.get(UserAccount, token.username)
            if user is None or not user.active:
                return None
            return people.load_person(session, token.username)

    def revoke_token(self, raw: str) -> bool:
        with self.transaction() as session:
            token = session.execute(select(ApiToken).where(ApiToken.token_hash == _digest(raw))).scalar_one_or_none()
            if token is None or token.revoked_at is not None:
                return False
            token.revoked_at = utcnow()
            return True
