"""The filing registry of residents' conventions, charters and village codes (备案, SH-RC Art.13; SH-VC Art.20).

A deliberation that adopted a convention files it with the committee's subdistrict office (township
government), which reviews its legality: it is filed, or a correction order (责令改正, VCOL Art.27) sends
it back to be deliberated again and filed anew. Each submission is one row.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine import org
from engine.errors import NotFound, RuleBroken
from engine.models import ConventionFiling, utcnow
from engine.roles import STREET_LEVELS, Level

KINDS = {"residents_convention": "居民公约", "self_gov_charter": "自治章程", "village_code": "村规民约"}
UNDER_REVIEW, FILED, CORRECTION_ORDERED = "under_review", "filed", "correction_ordered"


def file(session: Session, committee_code: str, filing: dict, instance_id: str) -> ConventionFiling:
    unit = org.get_unit(session, committee_code)
    if unit.level != Level.COMMITTEE.value:
        raise RuleBroken(f"Only a residents' or villagers' committee files a convention, not {unit.name}.")
    street = session.get(type(unit), unit.parent_code) if unit.parent_code else None
    if street is None or street.level not in {lvl.value for lvl in STREET_LEVELS}:
        raise RuleBroken(f"{unit.name} has no subdistrict office or township to file with.")
    kind = str(filing.get("kind") or "")
    if kind not in KINDS:
        raise RuleBroken(f"A filed document is one of {', '.join(KINDS)}, not {kind!r}.")
    title = str(filing.get("title") or "").strip()
    if not title:
        raise RuleBroken("A filed document needs a title.")
    row = ConventionFiling(
        org_code=unit.code,
        filed_to=street.code,
        kind=kind,
        title=title[:200],
        text=str(filing.get("text") or ""),
        resolution={"vote": filing.get("resolution") or {}, "rules": list(filing.get("rules") or [])},
        status=UNDER_REVIEW,
        instance_id=instance_id,
        filed_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def review(session: Session, filing_id: int, lawful: bool, opinion: str, corrections: str = "") -> ConventionFiling:
    row = session.get(ConventionFiling, int(filing_id))
    if row is None:
        raise NotFound(f"There is no convention filing {filing_id}.")
    if row.status != UNDER_REVIEW:
        raise RuleBroken(f"The filing {row.id} ({row.title}) was already reviewed: {row.status}.")
    if not lawful and not str(corrections or "").strip():
        raise RuleBroken("A correction order names what must be corrected.")
    row.status = FILED if lawful else CORRECTION_ORDERED
    row.review_opinion = str(opinion or "")
    row.correction_items = None if lawful else str(corrections)
    row.reviewed_at = utcnow()
    session.flush()
    return row


def view(row: ConventionFiling) -> dict:
    return {
        "id": row.id,
        "org_unit": row.org_code,
        "filed_to": row.filed_to,
        "kind": row.kind,
        "kind_name": KINDS.get(row.kind, row.kind),
        "title": row.title,
        "text": row.text,
        "resolution": row.resolution,
        "status": row.status,
        "review_opinion": row.review_opinion,
        "correction_items": row.correction_items,
        "instance_id": row.instance_id,
        "filed_at": row.filed_at.isoformat(),
        "reviewed_at": row.reviewed_at.isoformat() if row.reviewed_at else None,
    }
