"""The admission list, enforced (SH-RC Art.27): no committee is given work for a matter not admitted.

A process whose user tasks fall to committee level says what kind of matter it gives them, with
properties on its <process> element (`spiffworkflow:properties`), and is refused at deployment and at
start when it does not:

- `matterKind=self_governance`: the residents' own affairs, decided by their committee and assemblies
  (UROL Art.2, 3; e.g. the deliberation);
- `assistedMatter=<code>` (`matterKind=assisted_matter`): administrative work a department asks the
  committees to assist with; refused at deployment when no list admits the matter, and at start when no
  list covering the instance's org unit admits it that day (temporary admissions expire; a matter taken
  off the list stops counting);
- `matterKind=statutory_duty` with `legalBasis=<law and article>`: work a statute itself gives the
  committees inside a procedure the government runs (the consultation and handover of a committee
  change, SH-RC Art.9 / SH-VC Art.6; the monitoring-point reports of the admission mechanism, SH-RC
  Art.27). It is not a department's request, so no list can admit it, and not the residents' own affairs
  either: it counts apart in the burden statistics.
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
from engine.store import BoundedMap

SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
SELF_GOVERNANCE, ASSISTED, STATUTORY_DUTY = "self_governance", "assisted_matter", "statutory_duty"
MATTER_KINDS = (SELF_GOVERNANCE, ASSISTED, STATUTORY_DUTY)
COMMITTEE_ROLES = frozenset(role for role, levels in LANE_ROLES.items() if levels == {Level.COMMITTEE})
CITY_WIDE = ""


@dataclass(frozen=True)
class MatterDeclaration:
    kind: str | None
    code: str | None
    legal_basis: str | None = None

    def refusal(self, key: str, steps: list[str]) -> str | None:
        """Why a process giving committees these steps cannot run with this declaration (None: it can).
        An assisted matter's admission is checked apart (it depends on the lists and the day)."""
        work = f"gives committees work ({', '.join(steps[:3])})"
        if self.kind is None:
            return (
                f"The process {key} {work} but declares no matter: set matterKind=self_governance for the "
                "residents' own affairs, assistedMatter=<code> for work a department asks committees to assist "
                "with (it must be on a list of assisted matters), or matterKind=statutory_duty with legalBasis "
                "for work a statute gives them; a committee may refuse work not admitted "
                "(上海市居民委员会工作条例第二十七条)."
            )
        if self.kind not in MATTER_KINDS:
            kinds = ", ".join(MATTER_KINDS)
            return f"The process {key} {work} with matterKind={self.kind}, which is not one of {kinds}."
        if self.kind == ASSISTED and not self.code:
            return f"The process {key} is an assisted matter but names no assistedMatter code."
        if self.kind == STATUTORY_DUTY and not self.legal_basis:
            return f"The process {key} {work} as a statutory duty but names no legalBasis (law and article)."
        return None


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
        kind = props.get("matterKind") or (ASSISTED if code else None)
        return MatterDeclaration(kind, code, props.get("legalBasis") or None)
    return MatterDeclaration(None, None)


# (BPMN sha256, process key) -> its declaration: a blob never changes, so a start need not read it again.
_DECLARED = BoundedMap(1024)


def _declared(session: Session, bpmn_sha256: str, process_key: str) -> MatterDeclaration:
    found = _DECLARED.get((bpmn_sha256, process_key))
    if found is None:
        blob = session.get(Blob, bpmn_sha256)
        if blob is None:
            return MatterDeclaration(None, None)
        found = declaration(blob.content, process_key)
        _DECLARED.put((bpmn_sha256, process_key), found)
    return found


def committee_steps(user_tasks: dict | list) -> list[str]:
    """The user tasks that fall to committee level, as "name (element id)"."""
    items = user_tasks.items() if isinstance(user_tasks, dict) else ((t.element_id, t) for t in user_tasks)
    found = []
    for element_id, task in items:
        role = task.get("role") if isinstance(task, dict) else task.role
        name = task.get("name") if isinstance(task, dict) else task.name
        if role in COMMITTEE_ROLES:
            found.append(f"{name} ({element_id})" if name and name != element_id else element_id)
    return found


def check_bundle(session: Session, processes: dict, today: date) -> list[Problem]:
    """Why a bundle's processes cannot be deployed ([] if they can); `processes` maps key -> ParsedProcess."""
    problems: list[Problem] = []
    for key, process in processes.items():
        steps = committee_steps(process.user_tasks)
        if not steps:
            continue
        declared = declaration(process.xml, key)
        refusal = declared.refusal(key, steps)
        if refusal:
            problems.append(Problem(process.file, refusal, key))
        elif declared.kind == ASSISTED and not _admitted_anywhere(session, declared.code or "", today):
            problems.append(
                Problem(
                    process.file,
                    f"The process {key} gives committees work ({', '.join(steps[:3])}) for the assisted matter "
                    f"{declared.code}, which no list of assisted matters admits "
                    "(上海市居民委员会工作条例第二十七条); it needs an admission review (access_review) first.",
                    key,
                )
            )
    return problems


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
    declared = _declared(session, definition.bpmn_sha256, definition.key)
    refusal = declared.refusal(definition.key, steps)
    if refusal:  # deployed before undeclared matters were refused at deployment
        raise RuleBroken(f"{definition.name} cannot start: {refusal}")
    if declared.kind != ASSISTED:
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
