"""The browser workspace: Jinja pages and htmx on the engine, mounted by `api.create_app`.

One blueprint (web.workspace.bp), one layout (templates/base.html), one sign-in (web.signin, on the
API's browser sessions), one catalogue per language (web/i18n/), browser libraries from npm
(web.assets). Each area of the workspace is a module adding its routes to the blueprint.
"""

from __future__ import annotations

from flask import Flask

from web import assets, audit, inbox, signin, starting, studio, tasks  # noqa: F401 - each adds its routes to the blueprint
from web.workspace import bp


def register(app: Flask) -> None:
    app.register_blueprint(bp)
