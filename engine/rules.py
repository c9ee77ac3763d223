"""Rules as data: versioned rule values with their legal basis, and the statutory tests built on them.

A rule (`deliberation.residents_assembly.quorum`, `service.decision_working_days`...) has versions, each
valid for a span of dates and carrying the law, article and `legal_basis_version` it comes from; [A]
defaults are marked `assumed`. `RuleBook` answers "what did the rule say on this day". The functions
below it (`quorum_met`, `passes`, `petition_requires_assembly`, `written_delegation`,
`composition_problems`, `service_eligibility`, `admission_decision`, `approval_problems`) are the statutory
tests the procedures call; they hold no number themselves.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any

from engine import clock
from engine.errors import NotFound, RuleBroken

DATA = Path(__file__).with_name("data")
RULES_FILE = DATA / "rules.json"
SHANGHAI = timezone(timedelta(hours=8))
UNITS = ("share", "shares", "count", "days", "working_days", "months", "years", "yuan", "flag", "list", "range", "text")

_COMPARISONS: dict[str, Callable[[Fraction, Fraction], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
}
_WORDS = {">": "more than", ">=": "at least"}


def today() -> date:
    """The date in Shanghai (by the engine's clock): rules and deadlines are counted in local days."""
    return clock.now().astimezone(SHANGHAI).date()


@dataclass(frozen=True)
class Rule:
    key: str
    version: int
    value: Any
    unit: str
    description: str
    law: str
    article: str
    legal_basis_version: str
    valid_from: date
    valid_to: date | None = None
    assumed: bool = False
    changed_by: str | None = None

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def basis(self) -> dict:
        """What a decision records about the rule it applied."""
        return {
            "key": self.key,
            "version": self.version,
            "value": self.value,
            "law": self.law,
            "article": self.article,
            "legal_basis_version": self.legal_basis_version,
            "assumed": self.assumed,
        }

    def as_dict(self) -> dict:
        return self.basis() | {
            "unit": self.unit,
            "description": self.description,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat() if self.valid_to else None,
            "changed_by": self.changed_by,
        }


def seed_rules() -> list[Rule]:
    """The rule versions this release ships (engine/data/rules.json)."""
    raw = json.loads(RULES_FILE.read_text(encoding="utf-8"))["rules"]
    return [rule_from_dict(item) for item in raw]


def rule_from_dict(item: dict) -> Rule:
    check_value(item["key"], item["unit"], item["value"])
    return Rule(
        key=item["key"],
        version=int(item["version"]),
        value=item["value"],
        unit=item["unit"],
        description=item.get("description", ""),
        law=item["law"],
        article=item.get("article", ""),
        legal_basis_version=item["legal_basis_version"],
        valid_from=_as_date(item["valid_from"]),
        valid_to=_as_date(item["valid_to"]) if item.get("valid_to") else None,
        assumed=bool(item.get("assumed", False)),
        changed_by=item.get("changed_by"),
    )


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def check_value(key: str, unit: str, value: Any) -> None:
    """A value must fit its unit; RuleBroken with a sentence otherwise."""
    if unit not in UNITS:
        raise RuleBroken(f"Rule {key}: the unit {unit!r} is not one of {', '.join(UNITS)}.")
    if unit == "share":
        parse_share(value, key)
    elif unit in {"count", "days", "working_days", "months", "years", "yuan"}:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise RuleBroken(f"Rule {key}: the value must be a whole number of {unit}, not {value!r}.")
    elif unit == "flag" and not isinstance(value, bool):
        raise RuleBroken(f"Rule {key}: the value must be true or false, not {value!r}.")
    elif unit == "list" and not isinstance(value, list):
        raise RuleBroken(f"Rule {key}: the value must be a list, not {value!r}.")
    elif unit == "range" and not (
        isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value) and value[0] <= value[1]
    ):
        raise RuleBroken(f"Rule {key}: the value must be [lowest, highest], not {value!r}.")
    elif unit == "shares":
        if not isinstance(value, dict) or not value:
            raise RuleBroken(f"Rule {key}: the value must map names to fractions, not {value!r}.")
        for share in value.values():
            _fraction(share, key)
    elif unit == "text" and not isinstance(value, str):
        raise RuleBroken(f"Rule {key}: the value must be a text, not {value!r}.")


def _fraction(text: Any, key: str) -> Fraction:
    try:
        share = Fraction(str(text).strip())
    except (ValueError, ZeroDivisionError):
        raise RuleBroken(f"Rule {key}: {text!r} is not a fraction such as 1/2 or 2/3.") from None
    if not 0 <= share <= 1:
        raise RuleBroken(f"Rule {key}: {text!r} is not a share between 0 and 1.")
    return share


def parse_share(text: Any, key: str = "share") -> tuple[str, Fraction]:
    """'> 1/2' -> ('>', 1/2); '>= 2/3' -> ('>=', 2/3)."""
    if not isinstance(text, str):
        raise RuleBroken(f"Rule {key}: a share is written like '> 1/2' or '>= 2/3', not {text!r}.")
    for op in (">=", ">"):
        if text.strip().startswith(op):
            return op, _fraction(text.strip()[len(op) :], key)
    raise RuleBroken(f"Rule {key}: a share is written like '> 1/2' or '>= 2/3', not {text!r}.")


def share_met(text: str, part: float | int, whole: float | int) -> bool:
    """Whether part/whole meets the share: exact fractions, so exactly half is not 'more than half'."""
    if not whole or whole <= 0:
        return False
    op, share = parse_share(text)
    return _COMPARISONS[op](Fraction(str(part)) / Fraction(str(whole)), share)


def describe_share(text: str) -> str:
    op, share = parse_share(text)
    return f"{_WORDS[op]} {share}"


def share_in_words(text: str) -> str:
    """A share as the workspace says it: '> 1/2' -> '超过 1/2', '>= 2/3' -> '2/3 以上'."""
    op, share = parse_share(text)
    return f"超过 {share}" if op == ">" else f"{share} 以上"


@dataclass
class RuleBook:
    """Every version of every rule; `get` picks the one valid on a day (the highest version if several)."""

    rules: Iterable[Rule]
    _by_key: dict[str, list[Rule]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        for rule in self.rules:
            self._by_key.setdefault(rule.key, []).append(rule)
        for versions in self._by_key.values():
            versions.sort(key=lambda r: r.version)

    def all_keys(self) -> list[str]:
        return sorted(self._by_key)

    def versions(self, key: str) -> list[Rule]:
        if key not in self._by_key:
            raise NotFound(f"There is no rule {key!r}.")
        return list(self._by_key[key])

    def get(self, key: str, on: date | None = None) -> Rule:
        day = on or today()
        for rule in reversed(self.versions(key)):
            if rule.valid_on(day):
                return rule
        raise RuleBroken(f"The rule {key} has no version valid on {day.isoformat()}.")

    def value(self, key: str, on: date | None = None) -> Any:
        return self.get(key, on).value


# --- the statutory tests -----------------------------------------------------------------------------

PETITION_RULES = {
    "residents": "deliberation.petition.residents_share",
    "households": "deliberation.petition.households_share",
    "groups": "deliberation.petition.groups_share",
    "villagers": "deliberation.petition.villagers_share",
    "village_reps": "deliberation.petition.village_reps_share",
    "rep_assembly_reps": "deliberation.petition.rep_assembly_reps_share",
    "group_villagers": "deliberation.petition.group_villagers_share",
    "owners": "deliberation.petition.owners_share",
}
# The meeting a petition on each basis forces: residents, households or groups -> the residents' assembly
# (UROL Art.10); villagers or a third of the representatives -> the villagers' assembly (VCOL Art.21); a
# fifth of the representatives -> their assembly (VCOL Art.26); a third of a group -> its meeting (SH-VC
# Art.19); a fifth of the owners -> an extraordinary owners' meeting.
PETITION_BODIES = {
    "residents": "residents_assembly",
    "households": "residents_assembly",
    "groups": "residents_assembly",
    "villagers": "villagers_assembly",
    "village_reps": "villagers_assembly",
    "rep_assembly_reps": "villagers_rep_assembly",
    "group_villagers": "group_meeting",
    "owners": "owners_assembly",
}
BODIES = (
    "residents_assembly",
    "residents_rep_assembly",
    "villagers_assembly",
    "villagers_rep_assembly",
    "group_meeting",
    "committee",
    "owners_assembly",
)


def petition_requires_assembly(
    book: RuleBook, basis: str, proposers: int, eligible: int, on: date | None = None
) -> bool:
    """Enough residents, households, groups, villagers, representatives or owners proposed, so the meeting
    `PETITION_BODIES[basis]` must be convened (UROL Art.10; VCOL Art.21, 26; SH-VC Art.19; owners: 20%)."""
    if basis not in PETITION_RULES:
        raise RuleBroken(f"A petition counts {', '.join(PETITION_RULES)}, not {basis!r}.")
    return share_met(book.value(PETITION_RULES[basis], on), proposers, eligible)


def written_delegation(
    book: RuleBook,
    *,
    eligible: int,
    replied: int,
    yes: int,
    eligible_households: int = 0,
    replied_households: int = 0,
    matter: str = "general",
    on: date | None = None,
) -> dict:
    """SH-VC Art.16: a villagers' assembly may delegate a matter to the representative assembly by written
    consultation. The consultation counts when more than half of the villagers 18+ (or two thirds of the
    households) reply under their real names; the delegation passes when more than half of the replies
    agree; conventions and charters cannot be delegated. Answers {valid, passed, reasons}."""
    reasons: list[str] = []
    if matter in book.value("deliberation.delegation.excluded_matters", on):
        reasons.append("村规民约、自治章程须由村民会议表决，不得授权村民代表会议")
    valid = share_met(book.value("deliberation.delegation.reply_persons", on), replied, eligible) or share_met(
        book.value("deliberation.delegation.reply_households", on), replied_households, eligible_households
    )
    if not valid:
        persons = share_in_words(book.value("deliberation.delegation.reply_persons", on))
        homes = share_in_words(book.value("deliberation.delegation.reply_households", on))
        reasons.append(
            f"实名答复的须为{persons}的村民或{homes}的户，实际为 {replied}/{eligible} 人、"
            f"{replied_households}/{eligible_households} 户，书面征求意见无效"
        )
    elif not share_met(book.value("deliberation.delegation.approval", on), yes, replied):
        approval = share_in_words(book.value("deliberation.delegation.approval", on))
        reasons.append(f"同意 {yes} 份，未达答复数 {replied} 的{approval}，授权不成立")
    return {"valid": valid, "passed": not reasons, "reasons": reasons}


COMPOSED_BODIES = ("residents_committee", "villagers_committee", "supervision_committee", "villagers_rep_assembly")


def composition_problems(
    book: RuleBook,
    body: str,
    *,
    members: int,
    reps: int = 0,
    women_reps: int = 0,
    households: int = 0,
    on: date | None = None,
) -> list[str]:
    """Why a body is not lawfully composed, as sentences ([] if it is): a residents' committee has 5-9
    members (UROL Art.7), a villagers' committee 3-7 (VCOL Art.6), a supervision committee 3-7 (SH-VC
    Art.25); a villagers' representative assembly has at least 35 representatives (SH-VC Art.17) who are at
    least 4/5 of its members, women representatives at least 1/3 of its members, one representative per
    5-15 households (VCOL Art.25; `households` 0 skips that test)."""
    if body not in COMPOSED_BODIES:
        raise RuleBroken(f"The body must be one of {', '.join(COMPOSED_BODIES)}, not {body!r}.")
    rules = f"composition.{body}"
    if body != "villagers_rep_assembly":
        low, high = book.value(f"{rules}.members", on)
        return [] if low <= members <= high else [f"组成人员 {members} 人，不在法定的 {low}–{high} 人之间"]
    problems = []
    least = book.value(f"{rules}.min_reps", on)
    if reps < least:
        problems.append(f"村民代表 {reps} 人，少于 {least} 人")
    share = book.value(f"{rules}.reps_share", on)
    if not share_met(share, reps, members):
        problems.append(f"村民代表 {reps} 人，未达组成人员 {members} 人的{share_in_words(share)}")
    share = book.value(f"{rules}.women_share", on)
    if not share_met(share, women_reps, members):
        problems.append(f"妇女村民代表 {women_reps} 人，未达组成人员 {members} 人的{share_in_words(share)}")
    if households and reps:
        low, high = book.value(f"{rules}.households_per_rep", on)
        if not low * reps <= households <= high * reps:
            problems.append(f"{households} 户推选 {reps} 名代表，不是每 {low}–{high} 户一名")
    return problems


def _body(body: str) -> str:
    if body not in BODIES:
        raise RuleBroken(f"The deciding body must be one of {', '.join(BODIES)}, not {body!r}.")
    return body


def quorum_met(
    book: RuleBook,
    body: str,
    *,
    eligible: float = 0,
    present: float = 0,
    eligible_households: float = 0,
    present_households: float = 0,
    eligible_area: float = 0,
    present_area: float = 0,
    on: date | None = None,
) -> bool:
    """Whether enough members took part for the body to decide (eligible/present of its chosen base).

    Villagers' assemblies and group meetings meet on persons or on households; owners need both the
    area and the headcount.
    """
    rules = f"deliberation.{_body(body)}"
    if body in {"villagers_assembly", "group_meeting"}:
        return share_met(book.value(f"{rules}.quorum_persons", on), present, eligible) or share_met(
            book.value(f"{rules}.quorum_households", on), present_households, eligible_households
        )
    if body == "owners_assembly":
        return share_met(book.value(f"{rules}.participation_area", on), present_area, eligible_area) and share_met(
            book.value(f"{rules}.participation_headcount", on), present, eligible
        )
    return share_met(book.value(f"{rules}.quorum", on), present, eligible)


def passes(
    book: RuleBook,
    body: str,
    *,
    present: float = 0,
    yes: float = 0,
    present_area: float = 0,
    yes_area: float = 0,
    matter: str = "general",
    on: date | None = None,
) -> bool:
    """Whether the votes carry the decision, as a share of those present (owners: of area and headcount)."""
    rules = f"deliberation.{_body(body)}"
    if body == "owners_assembly":
        special = matter in book.value(f"{rules}.special_matters", on)
        share = book.value(f"{rules}.special_approval" if special else f"{rules}.general_approval", on)
        return share_met(share, yes_area, present_area) and share_met(share, yes, present)
    return share_met(book.value(f"{rules}.approval", on), yes, present)


def owners_minimum_yes_share(book: RuleBook, matter: str = "general", on: date | None = None) -> Fraction:
    """The least share of ALL area and headcount that can carry an owners' matter (2/3 x 3/4 = 1/2)."""
    rules = "deliberation.owners_assembly"
    special = matter in book.value(f"{rules}.special_matters", on)
    approval = parse_share(book.value(f"{rules}.special_approval" if special else f"{rules}.general_approval", on))[1]
    area = parse_share(book.value(f"{rules}.participation_area", on))[1]
    return area * approval


def rules_for_body(book: RuleBook, body: str, on: date | None = None) -> list[dict]:
    """The rule versions a body's quorum and pass tests read, for the decision record."""
    prefix = f"deliberation.{_body(body)}."
    return [book.get(key, on).basis() for key in book.all_keys() if key.startswith(prefix)]


URBAN_BODIES = ("residents_assembly", "residents_rep_assembly")
VILLAGE_BODIES = ("villagers_assembly", "villagers_rep_assembly", "group_meeting")
BODY_NAMES = {
    "residents_assembly": "居民会议",
    "residents_rep_assembly": "居民代表会议",
    "villagers_assembly": "村民会议",
    "villagers_rep_assembly": "村民代表会议",
    "group_meeting": "村民小组会议",
}


def assembly_body_problems(
    book: RuleBook, body: str, category: str, committee_kind: str | None, on: date | None = None
) -> list[str]:
    """Why a meeting cannot decide this matter, as sentences for the committee (none: it can).

    A residents' committee convenes residents' bodies and a village villagers' bodies; conventions and
    charters go to the full assembly only (`deliberation.convention_bodies`); a body whose rules have no
    version valid that day (the residents' representative assembly before UROL 2025) cannot meet.
    """
    if body not in BODY_NAMES:
        return [f"表决机构须为{'、'.join(BODY_NAMES.values())}之一。"]
    village = committee_kind == "villagers"
    name = BODY_NAMES[body]
    problems = []
    if village and body not in VILLAGE_BODIES:
        problems.append(f"村民委员会不召集{name}，应召开村民会议或村民代表会议。")
    if not village and body not in URBAN_BODIES:
        problems.append(f"居民委员会不召集{name}，应召开居民会议或居民代表会议。")
    if category == "convention" and body not in book.value("deliberation.convention_bodies", on):
        problems.append(f"居民公约、自治章程和村规民约须由居民会议或村民会议表决，不能由{name}决定。")
    try:
        rules_for_body(book, body, on)
        book.get(f"deliberation.{body}.approval", on)
    except RuleBroken:
        problems.append(f"{name}的议事规则在{(on or today()).isoformat()}尚无有效版本。")
    return problems


def households_warning(book: RuleBook, households: int, on: date | None = None) -> str:
    """A committee's size outside the usual range (UROL 2018 Art.6: 100-700 households; UROL 2025 Art.3:
    1,000-3,000, "or other size where needed"): a warning for the reviewers, never a refusal ("" inside)."""
    low, high = book.value("committee_change.households_range", on)
    if low <= households <= high:
        return ""
    return f"户数 {households} 不在 {low}–{high} 户的一般范围内（仅提示）"


# --- service items: eligibility --------------------------------------------------------------------


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reasons: list[str]
    monthly_amount: int | None = None
    subsidy_share: str | None = None

    def as_dict(self) -> dict:
        return {
            "eligible": self.eligible,
            "reasons": list(self.reasons),
            "monthly_amount": self.monthly_amount,
            "subsidy_share": self.subsidy_share,
        }


def _in_range(value: int, bounds: list[int]) -> bool:
    return bounds[0] <= value <= bounds[1]


def service_eligibility(book: RuleBook, item: str, applicant: dict, on: date | None = None) -> Eligibility:
    """Who qualifies for a delegated item, each failed condition named (the reasons go to the applicant)."""
    day = on or today()
    reasons: list[str] = []
    age = int(applicant.get("age") or 0)
    if item == "elderly_care_subsidy":
        if age < book.value("service.elderly_care.min_age", day):
            reasons.append(f"未满 {book.value('service.elderly_care.min_age', day)} 周岁")
        grade = int(applicant.get("care_grade") or 0)
        if not _in_range(grade, book.value("service.elderly_care.care_grades", day)):
            low, high = book.value("service.elderly_care.care_grades", day)
            reasons.append(f"照护等级 {grade} 不在 {low}–{high} 级之间")
        if not assessment_valid(book, applicant.get("assessment_date"), day):
            reasons.append("照护需求评估结论已过有效期或缺失")
        if book.value("service.elderly_care.requires_shanghai_hukou", day) and applicant.get("hukou") != "shanghai":
            reasons.append("非本市户籍（或户籍未经共享数据核验）")
        status = applicant.get("economic_status") or "none"
        if status not in book.value("service.elderly_care.economic_status", day):
            reasons.append("非低保或低收入困难家庭")
        shares = book.value("service.elderly_care.subsidy_share", day)
        return Eligibility(not reasons, reasons, None, None if reasons else shares.get(status))
    if item == "severe_disability_unemployed_subsidy":
        grade = int(applicant.get("disability_grade") or 0)
        if grade not in book.value("service.severe_disability.grades", day):
            reasons.append(f"残疾等级 {grade} 级不属于重度残疾")
        if not _in_range(age, book.value("service.severe_disability.age_range", day)):
            low, high = book.value("service.severe_disability.age_range", day)
            reasons.append(f"年龄 {age} 不在 {low}–{high} 周岁劳动年龄段")
        if applicant.get("employed"):
            reasons.append("已就业")
        if applicant.get("has_pension"):
            reasons.append("已领取养老金")
        amount = book.value("service.severe_disability.monthly_amount", day)
        return Eligibility(not reasons, reasons, None if reasons else amount)
    raise RuleBroken(f"There is no eligibility rule for the service item {item!r}.")


def assessment_valid(book: RuleBook, assessed_on: date | str | None, on: date | None = None) -> bool:
    """A care assessment counts for `service.assessment_validity_years` years from its date."""
    if not assessed_on:
        return False
    day = on or today()
    assessed = _as_date(assessed_on)
    years = book.value("service.assessment_validity_years", day)
    try:
        until = assessed.replace(year=assessed.year + years)
    except ValueError:  # 29 February
        until = assessed.replace(year=assessed.year + years, day=28)
    return assessed <= day < until


# --- admission review: the aggregate decision ---------------------------------------------------------

ADMISSION_OUTCOMES = ("admit", "admit_temporary", "return_for_revision", "reject")


def admission_decision(
    book: RuleBook,
    *,
    legality: str,
    necessity: str,
    reasonableness: str,
    funding: str,
    revisions: int = 0,
    emergency: bool = False,
    on: date | None = None,
) -> dict:
    """Aggregate the four reviews: a legality failure rejects; missing funding or a reasonableness issue
    returns the request (at most `admission.max_revisions` times, then it is rejected); the department
    being able to do it itself (necessity) rejects; all passed admits (temporarily in an emergency)."""
    reviews = {"legality": legality, "necessity": necessity, "reasonableness": reasonableness, "funding": funding}
    for name, result in reviews.items():
        if result not in {"pass", "fail", "revise"}:
            raise RuleBroken(f"The {name} review result must be pass, revise or fail, not {result!r}.")
    max_revisions = book.value("admission.max_revisions", on)
    if legality == "fail":
        return {"outcome": "reject", "reason": "无法律法规依据或属居（村）自治事项以外的行政职责（合法性审查未通过）"}
    if necessity == "fail":
        return {"outcome": "reject", "reason": "职能部门可自行办理或可通过一网通办、数据共享获取（必要性审查未通过）"}
    if "fail" in {reasonableness, funding} or "revise" in reviews.values():
        if revisions >= max_revisions:
            return {
                "outcome": "reject",
                "reason": f"已退回修改 {revisions} 次，达到上限 {max_revisions} 次，仍未通过合理性或经费审查",
            }
        missing = [n for n in ("necessity", "reasonableness", "funding") if reviews[n] != "pass"]
        return {"outcome": "return_for_revision", "reason": "需修改：" + "、".join(_REVIEW_NAMES[n] for n in missing)}
    if emergency:
        months = book.value("admission.temporary_months", on)
        return {"outcome": "admit_temporary", "reason": f"应急事项临时准入 {months} 个月"}
    return {"outcome": "admit", "reason": "合法性、必要性、合理性、经费审查均通过"}


_REVIEW_NAMES = {"necessity": "必要性", "reasonableness": "合理性", "funding": "经费保障（费随事转）"}
OUTCOME_NAMES = {
    "admit": "准入",
    "admit_temporary": "临时准入",
    "return_for_revision": "退回修改",
    "reject": "不予准入",
}


def approval_problems(
    book: RuleBook, *, combined: str, chosen: str, revisions: int, on: date | None = None
) -> list[str]:
    """Why the district government cannot decide `chosen` on this request ([] if it can), as sentences.

    The government may always reject. It admits only what the combined review result admits (an
    emergency temporarily): an admission the reviews do not support is refused. It may return the request
    for revision only while fewer than `admission.max_revisions` revisions were asked for."""
    for name, outcome in (("combined", combined), ("chosen", chosen)):
        if outcome not in ADMISSION_OUTCOMES:
            raise RuleBroken(f"The {name} outcome must be one of {', '.join(ADMISSION_OUTCOMES)}, not {outcome!r}.")
    problems = []
    if chosen in ("admit", "admit_temporary") and chosen != combined:
        problems.append(
            f"审查汇总结论为「{OUTCOME_NAMES[combined]}」，不能审定为「{OUTCOME_NAMES[chosen]}」："
            "准入须合法性、必要性、合理性和经费审查均通过（应急事项为临时准入）"
        )
    max_revisions = book.value("admission.max_revisions", on)
    if chosen == "return_for_revision" and revisions >= max_revisions:
        problems.append(f"已退回修改 {revisions} 次，达到上限 {max_revisions} 次，不能再退回修改")
    return problems


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")
