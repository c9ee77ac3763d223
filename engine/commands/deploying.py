"""Deploying bundles and reading process definitions."""

from __future__ import annotations

from sqlalchemy import Select, select

from engine import deployments, lint, paging, views
from engine.commands.base import EngineBase
from engine.errors import (
    BundleInvalid,
    NotAllowed,
)
from engine.models import (
    ProcessDefinition,
)
from engine.paging import SortKey, check_limit
from engine.principal import Principal
from engine.roles import ADMIN, DESIGNER


def require_designer(by: Principal) -> None:
    """Designers and admins (and the operator's CLI) may validate, deploy and work in the studio."""
    if not by.is_system and not by.person.has_role(DESIGNER) and not by.person.has_role(ADMIN):
        raise NotAllowed("Only process designers may validate and deploy bundles.")


class DeploymentCommands(EngineBase):
    def validate_bundle(self, files: dict[str, bytes], by: Principal | None = None) -> dict:
        """Every deploy check plus the lint rules (engine/lint.py), nothing deployed: {ok, errors, warnings}.

        `ok` says whether the bundle would deploy; lint findings are warnings and never block it."""
        require_designer(by or Principal.system())
        with self.reading() as session:
            try:
                warnings = deployments.validate(session, files).warnings
                errors = []
            except BundleInvalid as exc:
                errors, warnings = exc.problems, []
        # A lint rule may see what a deploy check already refused (a gateway's flow without a condition).
        refused = {(e.file, e.element_id) for e in errors}
        warnings = warnings + [w for w in lint.lint_bundle(files) if (w.file, w.element_id) not in refused]
        return {"ok": not errors, "errors": [p.as_dict() for p in errors], "warnings": [w.as_dict() for w in warnings]}

    def deploy(self, files: dict[str, bytes], by: Principal | None = None) -> dict:
        by = by or Principal.system()
        require_designer(by)
        with self.transaction() as session:
            result = deployments.deploy(session, files, by.actor(DESIGNER), self.specs)
            self._deployed(session, result.id)
            return result.as_dict()

    def list_definitions(self, key: str | None = None, latest: bool = False) -> list[dict]:
        """Every deployed version (or only the latest of each key), by key and version."""
        with self.reading() as session:
            rows = session.execute(_definitions(key, latest).order_by(*(k.order() for k in DEFINITION_ORDER)))
            return [views.definition_summary(r) for r in rows.scalars()]

    def definitions_page(
        self, key: str | None = None, latest: bool = False, cursor: str | None = None, limit: int = 50
    ) -> dict:
        """The same list, one page: {items, next_cursor}."""
        check_limit(limit)
        with self.reading() as session:
            query = _definitions(key, latest)
            return paging.page(session, query, DEFINITION_ORDER, "definitions", cursor, limit, views.definition_summary)


DEFINITION_ORDER = (SortKey(ProcessDefinition.key), SortKey(ProcessDefinition.version))


def _definitions(key: str | None, latest: bool) -> Select:
    query = select(ProcessDefinition)
    if key:
        query = query.where(ProcessDefinition.key == key)
    if latest:
        query = query.where(deployments.is_latest(ProcessDefinition.key, ProcessDefinition.version))
    return query
