"""Who may open the auditor workspace: auditors and admins; every other signed-in user gets a 403 page."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from engine.roles import ADMIN, AUDITOR
from web import i18n
from web.workspace import error_response, me, signed_in

AUDIT_ROLES = (AUDITOR, ADMIN)


def reads_audit(person: Any) -> bool:
    return person is not None and any(person.has_role(role) for role in AUDIT_ROLES)


def auditors_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """Pages of the audit area: signed in, and an auditor or an admin."""

    @signed_in
    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not reads_audit(me().person):
            return error_response(i18n.t("audit.only_auditors"), 403)
        return view(*args, **kwargs)

    return guarded
