"""The lists of assisted matters (协助行政事项清单): versions, admission, exit, and the check the engine
makes before a committee is given work for a matter.

A list belongs to a scope: "" is the city-wide list, an org code (a district) that district's own list.
Every change publishes a new version; a matter row is on the list from `since_version` until (not
including) `until_version`, so any earlier version can be read back as it was published.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine.errors import NotFound, RuleBroken
from engine.models import AssistMatter, AssistMatterList, utcnow

ADMITTED, TEMPORARY = "admitted", "temporary"
MATTER_FIELDS = ("name", "requesting_dept", "legal_basis", "target", "funding_amount", "funding_source")


def latest_version(session: Session, scope: str) -> int:
    return session.execute(
        select(func.coalesce(func.max(AssistMatterList.version), 0)).where(AssistMatterList.scope_code == scope)
    ).scalar_one()


def matters_at(session: Session, scope: str, version: int | None = None) -> list[AssistMatter]:
    """The matters of a list as version `version` (default: the latest) published them."""
    at = latest_version(session, scope) if version is None else version
    query = select(AssistMatter).where(
        AssistMatter.scope_code == scope,
        AssistMatter.since_version <= at,
        or_(AssistMatter.until_version.is_(None), AssistMatter.until_version > at),
    )
    return list(session.execute(query.order_by(AssistMatter.code)).scalars())


def _current(session: Session, scope: str, code: str) -> AssistMatter | None:
    return session.execute(
        select(AssistMatter).where(
            AssistMatter.scope_code == scope, AssistMatter.code == code, AssistMatter.until_version.is_(None)
        )
    ).scalar_one_or_none()


def _publish(session: Session, scope: str, by: str, instance_id: str | None, note: str) -> int:
    version = latest_version(session, scope) + 1
    session.add(
        AssistMatterList(
            scope_code=scope,
            version=version,
            published_at=utcnow(),
            published_by=by,
            instance_id=instance_id,
            note=note,
        )
    )
    session.flush()
    return version


def admit(
    session: Session,
    scope: str,
    request: dict,
    *,
    temporary: bool,
    effective_from: date,
    expires_on: date | None,
    next_review_on: date,
    by: str,
    instance_id: str | None,
) -> dict:
    """Put a matter on the list (or replace its entry) in a new version; what was published."""
    code = str(request.get("matter_code") or "").strip()
    if not code:
        raise RuleBroken("The admitted matter needs a code.")
    note = f"{'临时准入' if temporary else '准入'}：{request.get('item_name') or code}"
    version = _publish(session, scope, by, instance_id, note)
    earlier = _current(session, scope, code)
    if earlier is not None:
        earlier.until_version = version
    row = AssistMatter(
        scope_code=scope,
        code=code,
        name=str(request.get("item_name") or code)[:200],
        requesting_dept=str(request.get("requesting_dept") or "")[:200],
        status=TEMPORARY if temporary else ADMITTED,
        legal_basis=str(request.get("legal_basis") or ""),
        target=str(request.get("target") or "both")[:20],
        funding_amount=int(request.get("funding_amount") or 0),
        funding_source=str(request.get("funding_source") or "")[:200],
        effective_from=effective_from,
        expires_on=expires_on,
        next_review_on=next_review_on,
        since_version=version,
        until_version=None,
        instance_id=instance_id,
    )
    session.add(row)
    session.flush()
    return matter_view(row) | {"list_version": version}


def renew(
    session: Session, scope: str, code: str, next_review_on: date, changes: dict, by: str, instance_id: str | None
) -> dict:
    """Keep (or modify) a matter after its yearly re-review: a new version with the next review date."""
    earlier = _current(session, scope, code)
    if earlier is None:
        raise NotFound(f"The matter {code} is not on the list of {scope or 'the city'}.")
    version = _publish(session, scope, by, instance_id, f"复审保留：{earlier.name}" + ("（已修改）" if changes else ""))
    earlier.until_version = version
    row = AssistMatter(
        **{f: getattr(earlier, f) for f in ("scope_code", "code", "status", "effective_from", "expires_on")},
        **{f: changes.get(f, getattr(earlier, f)) for f in MATTER_FIELDS},
        next_review_on=next_review_on,
        since_version=version,
        until_version=None,
        instance_id=instance_id,
        assumed=earlier.assumed,
    )
    session.add(row)
    session.flush()
    return matter_view(row) | {"list_version": version}


def withdraw(session: Session, scope: str, code: str, reason: str, by: str, instance_id: str | None) -> dict:
    """Take a matter off the list (退出) in a new version; committees may refuse it from then on."""
    earlier = _current(session, scope, code)
    if earlier is None:
        raise NotFound(f"The matter {code} is not on the list of {scope or 'the city'}.")
    version = _publish(session, scope, by, instance_id, f"退出：{earlier.name}")
    earlier.until_version = version
    earlier.exit_reason = reason[:2000]
    session.flush()
    return {"code": code, "list_version": version, "exit_reason": reason}


def admitted_matter(session: Session, code: str, scopes: list[str], on: date) -> AssistMatter | None:
    """The entry admitting `code` on one of the lists covering an org unit on day `on`, if any."""
    rows = session.execute(
        select(AssistMatter).where(
            AssistMatter.code == code, AssistMatter.scope_code.in_(scopes), AssistMatter.until_version.is_(None)
        )
    ).scalars()
    for row in rows:
        if row.effective_from <= on and (row.expires_on is None or on <= row.expires_on):
            return row
    return None


def last_entry(session: Session, code: str, scopes: list[str]) -> AssistMatter | None:
    """The most recent entry for `code` on those lists, current or not (to say why it no longer counts)."""
    return session.execute(
        select(AssistMatter)
        .where(AssistMatter.code == code, AssistMatter.scope_code.in_(scopes))
        .order_by(AssistMatter.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def matter_view(row: AssistMatter) -> dict:
    return {
        "scope": row.scope_code,
        "code": row.code,
        "name": row.name,
        "requesting_dept": row.requesting_dept,
        "status": row.status,
        "legal_basis": row.legal_basis,
        "target": row.target,
        "funding_amount": row.funding_amount,
        "funding_source": row.funding_source,
        "effective_from": row.effective_from.isoformat(),
        "expires_on": row.expires_on.isoformat() if row.expires_on else None,
        "next_review_on": row.next_review_on.isoformat() if row.next_review_on else None,
        "since_version": row.since_version,
        "until_version": row.until_version,
        "exit_reason": row.exit_reason,
        "assumed": row.assumed,
    }


def list_version_view(row: AssistMatterList) -> dict:
    return {
        "scope": row.scope_code,
        "version": row.version,
        "published_at": row.published_at.isoformat(),
        "published_by": row.published_by,
        "instance_id": row.instance_id,
        "note": row.note,
    }
