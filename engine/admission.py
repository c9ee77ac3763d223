"""The admission list, enforced (SH-RC Art.27): no committee is given work for a matter not admitted.

A process says what kind of matter it is with properties on its <process> element
(`spiffworkflow:properties`): `matterKind` is `self_governance` (the committee's own affairs, e.g. the
deliberation) or `assisted_matter`, and an assisted matter names its `assistedMatter` code. A process
whose user tasks fall to committee level for an assisted matter is refused at deployment when no list
admits the matter, and refused at start when no list covering the instance's org unit admits it that
day (temporary admissions expire; a matter taken off the list stops counting).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import assist_matters, org
from engine.errors import Problem, RuleBroken
from engine.models import AssistMatter, Blob, OrgUnit, ProcessDefinition
from engine.roles import LANE_ROLES, Level
from engine.spiff.safe_xml import BPMN_NS, read_xml

SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
SELF_GOVERNANCE, ASSISTED = "self_governance", "assisted_matter"
COMMITTEE_ROLES = frozenset(role for role, levels in LANE_ROLES.items() if levels == {Level.COMMITTEE})
CITY_WIDE = ""


@dataclass(frozen=True)
class MatterDeclaration:
    kind: str | None
    code: str | None


@functools.lru_cache(maxsize=256)
def declaration(xml: bytes, process_key: str) -> MatterDeclaration:
    """The matter a process declares on its <process> element."""
    root = read_xml(xml)
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        if process.get("id") != process_key:
            continue
        props: dict[str, str] = {}
        for prop in process.iterfind(
            "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property",
            namespaces={"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS},
        ):
            props[prop.get("name") or ""] = (prop.get("value") or "").strip()
        code = props.get("assistedMatter") or None
        return MatterDeclaration(props.get("matterKind") or (ASSISTED if code else None), code)
    return MatterDeclaration(None, None)


def committee_steps(user_tasks: dict | list) -> list[str]:
    """Names of the user tasks that fall to committee level."""
    items = user_tasks.values() if isinstance(user_tasks, dict) else user_tasks
    found = []
    for task in items:
        role = task.get("role") if isinstance(task, dict) else task.role
        name = task.get("name") if isinstance(task, dict) else task.name
        if role in COMMITTEE_ROLES:
            found.append(name)
    return found


def check_bundle(session: Session, processes: dict, today: date) -> tuple[list[Problem], list[Problem]]:
    """Problems (refusals) and warnings for a bundle's processes; `processes` maps key -> ParsedProcess."""
    problems, warnings = [], []
    for key, process in processes.items():
        steps = committee_steps(process.user_tasks)
        if not steps:
            continue
        declared = declaration(process.xml, key)
        if declared.kind == ASSISTED:
            if not declared.code:
                problems.append(
                    Problem(
                        process.file, f"The process {key} is an assisted matter but names no assistedMatter code.", key
                    )
                )
                continue
            if not _admitted_anywhere(session, declared.code, today):
                problems.append(
                    Problem(
                        process.file,
                        f"The process {key} gives committees work ({', '.join(steps[:3])}) for the assisted matter "
                        f"{declared.code}, which no list of assisted matters admits "
                        "(上海市居民委员会工作条例第二十七条); it needs an admission review (access_review) first.",
                        key,
                    )
                )
        elif declared.kind != SELF_GOVERNANCE:
            warnings.append(
                Problem(
                    process.file,
                    f"The process {key} gives committees work ({', '.join(steps[:3])}) but does not say whether it is "
                    "the committees' own affairs (matterKind=self_governance) or an assisted matter "
                    "(assistedMatter=code); an assisted matter must be on the admission list.",
                    key,
                )
            )
    return problems, warnings


def _admitted_anywhere(session: Session, code: str, today: date) -> bool:
    scopes = list(session.execute(select(AssistMatter.scope_code).where(AssistMatter.code == code)).scalars())
    return assist_matters.admitted_matter(session, code, sorted(set(scopes)), today) is not None


def check_start(session: Session, definition: ProcessDefinition, unit: OrgUnit, today: date) -> None:
    """Refuse a start at a retired unit, or for an assisted matter no list covering the unit admits today."""
    if unit.status != "active":
        successor = f"; its area now belongs to {unit.successor_code}" if unit.successor_code else ""
        raise RuleBroken(
            f"{unit.name} was {unit.status} and takes no new cases{successor}.",
            code="unit_retired",
            unit=unit.code,
            successor=unit.successor_code,
        )
    steps = committee_steps(definition.user_tasks)
    if not steps:
        return
    blob = session.get(Blob, definition.bpmn_sha256)
    declared = declaration(blob.content, definition.key) if blob else MatterDeclaration(None, None)
    if declared.kind != ASSISTED or not declared.code:
        return
    scopes = [CITY_WIDE] + [u.code for u in org.ancestors(session, unit)]
    if assist_matters.admitted_matter(session, declared.code, scopes, today) is not None:
        return
    last = assist_matters.last_entry(session, declared.code, scopes)
    day = None
    if last is None:
        why, code = "no list of assisted matters covering it admits the matter", "matter_not_listed"
    elif last.until_version is not None:
        why = f"the matter was taken off the list in version {last.until_version}" + (
            f" ({last.exit_reason})" if last.exit_reason else ""
        )
        code = "matter_taken_off"
    elif last.expires_on is not None and last.expires_on < today:
        why, code, day = (
            f"its temporary admission expired on {last.expires_on.isoformat()}",
            "matter_expired",
            last.expires_on,
        )
    else:
        day = last.effective_from
        why, code = f"its admission takes effect only on {day.isoformat()}", "matter_not_yet_admitted"
    raise RuleBroken(
        f"{definition.name} gives {unit.name} work ({', '.join(steps[:3])}) for the assisted matter "
        f"{declared.code}, but {why}; a committee may refuse matters not on the list "
        "(上海市居民委员会工作条例第二十七条).",
        code=code,
        process=definition.name,
        unit=unit.code,
        matter=declared.code,
        day=day.isoformat() if day else None,
    )
