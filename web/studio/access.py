"""Who may open the studio: designers and admins; every other signed-in user gets a 403 page."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from engine.roles import ADMIN, DESIGNER
from web import i18n
from web.workspace import error_response, me, signed_in

STUDIO_ROLES = (DESIGNER, ADMIN)


def designs(person: Any) -> bool:
    return person is not None and any(person.has_role(role) for role in STUDIO_ROLES)


def designers_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """Pages of the studio: signed in, and a designer or an admin."""

    @signed_in
    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not designs(me().person):
            return error_response(i18n.t("studio.only_designers"), 403)
        return view(*args, **kwargs)

    return guarded
