"""Roles (the lanes of DOMAIN.md plus the workspace roles) and the org levels each one sits at."""

from __future__ import annotations

from enum import StrEnum


class Level(StrEnum):
    CITY = "city"
    DISTRICT = "district"
    SUBDISTRICT = "subdistrict"
    TOWNSHIP = "township"
    COMMITTEE = "committee"


# How far down the org tree a level sits; subdistricts and townships are the same street level.
LEVEL_RANK = {Level.CITY: 0, Level.DISTRICT: 1, Level.SUBDISTRICT: 2, Level.TOWNSHIP: 2, Level.COMMITTEE: 3}

STREET_LEVELS = frozenset({Level.SUBDISTRICT, Level.TOWNSHIP})

# Lane roles: the org levels a holder of the role works at. A lane names one of these.
LANE_ROLES: dict[str, frozenset[Level]] = {
    "municipal_civil_affairs": frozenset({Level.CITY}),
    "assessment_agency": frozenset({Level.CITY}),
    "district_civil_affairs": frozenset({Level.DISTRICT}),
    "district_government": frozenset({Level.DISTRICT}),
    "district_justice": frozenset({Level.DISTRICT}),
    "district_finance": frozenset({Level.DISTRICT}),
    "functional_dept": frozenset({Level.DISTRICT, Level.CITY}),
    "subdistrict_office": frozenset({Level.SUBDISTRICT}),
    "township_government": frozenset({Level.TOWNSHIP}),
    "acceptance_center": STREET_LEVELS,
    "rc_party_org": frozenset({Level.COMMITTEE}),
    "residents_committee": frozenset({Level.COMMITTEE}),
    "villagers_committee": frozenset({Level.COMMITTEE}),
    "residents_assembly": frozenset({Level.COMMITTEE}),
    "villagers_assembly": frozenset({Level.COMMITTEE}),
    "supervision_committee": frozenset({Level.COMMITTEE}),
    "joint_meeting": frozenset({Level.COMMITTEE}),
    "owners_assembly": frozenset({Level.COMMITTEE}),
    "owners_committee": frozenset({Level.COMMITTEE}),
    "resident": frozenset({Level.COMMITTEE}),
    "applicant": frozenset({Level.COMMITTEE}),
}

# The rural counterpart of an urban role: a subdistrict lane reaching a township is worked there by the
# township government, a residents' committee lane in a village by the villagers' committee.
RURAL_COUNTERPART: dict[str, str] = {
    "subdistrict_office": "township_government",
    "residents_committee": "villagers_committee",
    "residents_assembly": "villagers_assembly",
}
URBAN_COUNTERPART = {rural: urban for urban, rural in RURAL_COUNTERPART.items()}

# Workspace roles, held at an org unit and reaching everything below it.
DESIGNER = "designer"
AUDITOR = "auditor"
ADMIN = "admin"
WORKSPACE_ROLES = frozenset({DESIGNER, AUDITOR, ADMIN})

ALL_ROLES = frozenset(LANE_ROLES) | WORKSPACE_ROLES


def is_lane_role(name: str) -> bool:
    return name in LANE_ROLES


def role_of_lane(lane_id: str | None, lane_name: str | None) -> str | None:
    """The role a BPMN lane stands for: its id or name if either is a role, else its id without `Lane_`."""
    for candidate in (lane_id, lane_name):
        if candidate and candidate in LANE_ROLES:
            return candidate
    if lane_id and lane_id.startswith("Lane_") and lane_id[5:] in LANE_ROLES:
        return lane_id[5:]
    return None
