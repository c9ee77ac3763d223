"""The reference data the procedures ship: rule versions, the delegation catalogue, the city-wide list of
assisted matters. The migration inserts it into a new database; `govflow init` adds what a newer release
knows and the database does not, and never changes a row an admin or a procedure wrote."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import AssistMatter, AssistMatterList, RuleSet, ServiceItem
from engine.rules import DATA, seed_rules

CITY_WIDE = ""  # the scope of the city's own list of assisted matters
SEEDED_BY = "seed"
CATALOGUE_FROM = date(2021, 12, 6)  # 沪民基发〔2021〕7号
REFERENCE_LIST_FROM = date(2016, 1, 1)  # the 2015 reference lists


def _load(name: str) -> dict:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def rule_rows() -> list[dict]:
    now = datetime.now(UTC)
    return [
        {
            "key": r.key,
            "version": r.version,
            "value": r.value,
            "unit": r.unit,
            "description": r.description,
            "law": r.law,
            "article": r.article,
            "legal_basis_version": r.legal_basis_version,
            "valid_from": r.valid_from,
            "valid_to": r.valid_to,
            "assumed": r.assumed,
            "changed_by": SEEDED_BY,
            "changed_at": now,
        }
        for r in seed_rules()
    ]


def service_item_rows() -> list[dict]:
    data = _load("service_items.json")
    now = datetime.now(UTC)
    return [
        {
            "code": item["code"],
            "version": 1,
            "name": item["name"],
            "competent_level": item["competent_level"],
            "mode": item["mode"],
            "decision_rule": item["decision_rule"],
            "documents": item["documents"],
            "catalogue_version": data["catalogue_version"],
            "legal_basis": data["legal_basis"],
            "assumed": bool(item.get("assumed")),
            "valid_from": CATALOGUE_FROM,
            "valid_to": None,
            "changed_by": SEEDED_BY,
            "changed_at": now,
        }
        for item in data["items"]
    ]


def assist_list_rows() -> tuple[dict, list[dict]]:
    """The city-wide list, version 1, and its matters."""
    data = _load("assist_matters.json")
    header = {
        "scope_code": CITY_WIDE,
        "version": 1,
        "published_at": datetime.now(UTC),
        "published_by": SEEDED_BY,
        "instance_id": None,
        "note": data["list_version_note"],
    }
    matters = [
        {
            "scope_code": CITY_WIDE,
            "code": m["code"],
            "name": m["name"],
            "requesting_dept": m["requesting_dept"],
            "status": "admitted",
            "legal_basis": data["legal_basis"],
            "target": m["target"],
            "funding_amount": m["funding_amount"],
            "funding_source": m["funding_source"],
            "effective_from": REFERENCE_LIST_FROM,
            "expires_on": None,
            "next_review_on": None,
            "since_version": 1,
            "until_version": None,
            "exit_reason": None,
            "instance_id": None,
            "assumed": bool(m.get("assumed")),
        }
        for m in data["matters"]
    ]
    return header, matters


CITATION = ("description", "law", "article", "legal_basis_version")


def seed_procedure_data(session: Session) -> dict:
    """Insert the shipped rows the database lacks; what was added, by kind. A rule version still as it was
    seeded (no admin changed it) takes the shipped citation when a release corrects it."""
    have_rules = {(row.key, row.version): row for row in session.execute(select(RuleSet)).scalars()}
    shipped = rule_rows()
    new_rules = [r for r in shipped if (r["key"], r["version"]) not in have_rules]
    session.add_all(RuleSet(**r) for r in new_rules)
    corrected = []
    for r in shipped:
        row = have_rules.get((r["key"], r["version"]))
        if row is not None and row.changed_by == SEEDED_BY and any(getattr(row, f) != r[f] for f in CITATION):
            for name in CITATION:
                setattr(row, name, r[name])
            row.changed_at = r["changed_at"]
            corrected.append(f"{r['key']} v{r['version']}")
    have_items = set(session.execute(select(ServiceItem.code)).scalars())
    new_items = [i for i in service_item_rows() if i["code"] not in have_items]
    session.add_all(ServiceItem(**i) for i in new_items)
    added_list = False
    if session.execute(select(AssistMatterList.id).where(AssistMatterList.scope_code == CITY_WIDE)).first() is None:
        header, matters = assist_list_rows()
        session.add(AssistMatterList(**header))
        session.add_all(AssistMatter(**m) for m in matters)
        added_list = True
    session.flush()
    return {
        "rules": [f"{r['key']} v{r['version']}" for r in new_rules],
        "rule_citations_corrected": corrected,
        "service_items": [i["code"] for i in new_items],
        "assist_list": added_list,
    }
