"""The designer studio (/studio): the process library, the BPMN editor with govflow's properties panel, the
form and decision-table editors, validation with the problems on the diagram, deployment, and migration of
running instances. Designers and admins only; the pages call the engine, the editors the REST API."""

from __future__ import annotations

from web.studio import editor, library, migrating  # noqa: F401 - each adds its routes to the blueprint
