"""Who may open the studio: designers and admins; every other signed-in user gets a 403 page."""

from __future__ import annotations

from engine.roles import ADMIN, DESIGNER
from web.workspace import holders_of

# Pages of the studio: signed in, and a designer or an admin.
designers_only = holders_of((DESIGNER, ADMIN), "studio.only_designers")
