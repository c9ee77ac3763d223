"""Who may open the auditor workspace: auditors and admins; every other signed-in user gets a 403 page."""

from __future__ import annotations

from typing import Any

from engine.roles import ADMIN, AUDITOR
from web.workspace import holders_of

AUDIT_ROLES = (AUDITOR, ADMIN)

# Pages of the audit area: signed in, and an auditor or an admin.
auditors_only = holders_of(AUDIT_ROLES, "audit.only_auditors")


def reads_audit(person: Any) -> bool:
    return person is not None and any(person.has_role(role) for role in AUDIT_ROLES)
