"""The designer studio's commands: the process library, drafts (saved, reopened, validated, deployed),
diffs between versions, imports from other modelers, downloads, and the timer check the editor asks as
the designer types. Designers and admins only."""

from __future__ import annotations

import ast
from collections import defaultdict

from lxml import etree
from sqlalchemy import func, select

from engine import bpmn_diff, bpmn_import, deployments, drafts
from engine.commands.deploying import DeploymentCommands, require_designer
from engine.commands.rules import RuleCommands
from engine.errors import GovflowError, NotFound, Problem, RuleBroken
from engine.models import Blob, Draft, ProcessDefinition, ProcessInstance
from engine.principal import Principal
from engine.roles import ADMIN, LANE_ROLES
from engine.spiff.code_checks import check_timer
from engine.spiff.findings import Findings, bpmn
from engine.spiff.safe_xml import XmlRefused
from engine.spiff.sandbox_policy import check_expression
from engine.spiff.timers import ELEMENT_KIND

ENDED_STATUSES = ("completed", "cancelled")
TIMER_TAGS = tuple(ELEMENT_KIND)  # timeDate, timeDuration, timeCycle


class DesignCommands(DeploymentCommands, RuleCommands):
    # --- the process library -------------------------------------------------------------------

    def process_library(self, by: Principal) -> list[dict]:
        """Every process key with its versions (who deployed, when, instances running on each) and drafts."""
        require_designer(by)
        with self.reading() as session:
            counts: dict[tuple[str, int], dict[str, int]] = defaultdict(dict)
            rows = session.execute(
                select(
                    ProcessInstance.process_key,
                    ProcessInstance.process_version,
                    ProcessInstance.status,
                    func.count(),
                ).group_by(ProcessInstance.process_key, ProcessInstance.process_version, ProcessInstance.status)
            )
            for key, version, status, count in rows:
                counts[(key, version)][status] = count
            library: dict[str, dict] = {}
            for definition in session.execute(
                select(ProcessDefinition).order_by(ProcessDefinition.key, ProcessDefinition.version.desc())
            ).scalars():
                entry = library.setdefault(
                    definition.key, {"key": definition.key, "name": definition.name, "versions": [], "drafts": []}
                )
                by_status = counts.get((definition.key, definition.version), {})
                entry["versions"].append(
                    {
                        "version": definition.version,
                        "name": definition.name,
                        "deployed_by": definition.deployed_by,
                        "deployed_at": definition.deployed_at.isoformat(),
                        "running": sum(n for s, n in by_status.items() if s not in ENDED_STATUSES),
                        "finished": sum(n for s, n in by_status.items() if s in ENDED_STATUSES),
                    }
                )
            for draft in self._visible_drafts(session, by):
                key = draft.process_key or ""
                entry = library.setdefault(key, {"key": key, "name": draft.title, "versions": [], "drafts": []})
                entry["drafts"].append(drafts.draft_view(session, draft, with_files=False))
            return sorted(library.values(), key=lambda e: (not e["versions"], e["key"]))

    def _visible_drafts(self, session, by: Principal) -> list[Draft]:  # noqa: ANN001
        query = select(Draft).order_by(Draft.updated_at.desc())
        if not by.is_system and not by.person.has_role(ADMIN):
            query = query.where(Draft.owner == by.username)
        return list(session.execute(query).scalars())

    def diff_versions(self, key: str, before: int, after: int, by: Principal) -> dict:
        """Elements added, removed and changed from one version of a process to another."""
        require_designer(by)
        with self.reading() as session:
            old = deployments.find_definition(session, key, before)
            new = deployments.find_definition(session, key, after)
            old_xml = session.get(Blob, old.bpmn_sha256).content
            new_xml = session.get(Blob, new.bpmn_sha256).content
            changed_forms = sorted(
                form for form in set(old.forms) | set(new.forms) if old.forms.get(form) != new.forms.get(form)
            )
            return {"key": key, "from": before, "to": after, "forms_changed": changed_forms} | bpmn_diff.diff_process(
                bytes(old_xml), bytes(new_xml), key
            )

    def version_files(self, key: str, version: int | None, by: Principal) -> dict[str, bytes]:
        """A deployed version's files: its BPMN, the forms it pinned, the DMN files it calls."""
        require_designer(by)
        with self.reading() as session:
            return drafts.version_files(session, deployments.find_definition(session, key, version))

    def studio_choices(self, by: Principal, draft_id: str | None = None) -> dict:
        """What the editor's panel offers: lane roles, the forms and decisions deployed (and the draft's)."""
        require_designer(by)
        with self.reading() as session:
            files = deployments.library_files(session)
            if draft_id:
                drafts.load_draft(session, draft_id, by)
                files |= drafts.draft_files(session, draft_id)
            return {
                "roles": sorted(LANE_ROLES),
                "forms": sorted(set(drafts.deployed_form_ids(session)) | drafts.form_ids(files)),
                "decisions": sorted(drafts.decision_ids(files)),
            }

    # --- drafts ----------------------------------------------------------------------------------

    def list_drafts(self, by: Principal) -> list[dict]:
        require_designer(by)
        with self.reading() as session:
            return [drafts.draft_view(session, d, with_files=False) for d in self._visible_drafts(session, by)]

    def create_draft(
        self,
        by: Principal,
        title: str | None = None,
        process_key: str | None = None,
        version: int | None = None,
        new_process: str | None = None,
    ) -> dict:
        """A draft opened from a deployed version (`process_key`, `version`: the latest by default) or a new
        process (`new_process`: its id) with a pool, one lane, a start and an end event."""
        require_designer(by)
        with self.transaction() as session:
            if process_key:
                definition = deployments.find_definition(session, process_key, version)
                files = drafts.version_files(session, definition)
                draft = drafts.new_draft(
                    session, by.username, title or definition.name, definition.key, definition.version
                )
            else:
                key = (new_process or "").strip()
                files = {f"{key}.bpmn": drafts.new_process_xml(key, title or key)}
                draft = drafts.new_draft(session, by.username, title or key, key, None)
            drafts.write_files(session, draft, files)
            return drafts.draft_view(session, draft)

    def import_draft(self, by: Principal, filename: str, data: bytes, draft_id: str | None = None) -> dict:
        """A .bpmn from another modeler as a new draft (or into `draft_id`), with what was converted."""
        require_designer(by)
        name = drafts.check_filename(filename)
        if not name.lower().endswith(".bpmn"):
            raise RuleBroken("Import a .bpmn file; add forms and DMN files to the draft afterwards.")
        try:
            imported = bpmn_import.import_bpmn(name, data)
        except XmlRefused as refused:
            raise RuleBroken(f"{name} cannot be read: {refused.message}") from None
        except ValueError as exc:
            raise RuleBroken(str(exc)) from None
        with self.transaction() as session:
            if draft_id:
                draft = drafts.load_draft(session, draft_id, by)
            else:
                title = imported.process_name or name.rsplit(".", 1)[0]
                draft = drafts.new_draft(session, by.username, title, imported.process_key, None)
            drafts.write_files(session, draft, {name: imported.xml})
            return drafts.draft_view(session, draft) | {"warnings": [w.as_dict() for w in imported.warnings]}

    def get_draft(self, draft_id: str, by: Principal) -> dict:
        require_designer(by)
        with self.reading() as session:
            return drafts.draft_view(session, drafts.load_draft(session, draft_id, by))

    def draft_file(self, draft_id: str, filename: str, by: Principal) -> bytes:
        require_designer(by)
        with self.reading() as session:
            drafts.load_draft(session, draft_id, by)
            files = drafts.draft_files(session, draft_id)
            if filename not in files:
                raise NotFound(f"The draft has no file {filename}.")
            return files[filename]

    def draft_bundle(self, draft_id: str, by: Principal) -> dict[str, bytes]:
        require_designer(by)
        with self.reading() as session:
            drafts.load_draft(session, draft_id, by)
            return drafts.draft_files(session, draft_id)

    def save_draft(
        self,
        draft_id: str,
        by: Principal,
        files: dict[str, bytes] | None = None,
        remove: list[str] | None = None,
        title: str | None = None,
    ) -> dict:
        """Add or replace files of the draft, remove some, rename it: what the editors' Save does."""
        require_designer(by)
        with self.transaction() as session:
            draft = drafts.load_draft(session, draft_id, by)
            if title is not None:
                if not title.strip():
                    raise RuleBroken("A draft needs a title.")
                draft.title = title.strip()[:200]
            drafts.write_files(session, draft, files or {}, remove or [])
            return drafts.draft_view(session, draft)

    def delete_draft(self, draft_id: str, by: Principal) -> None:
        require_designer(by)
        with self.transaction() as session:
            session.delete(drafts.load_draft(session, draft_id, by))

    def validate_draft(self, draft_id: str, by: Principal) -> dict:
        return self.validate_bundle(self.draft_bundle(draft_id, by), by=by)

    def deploy_draft(self, draft_id: str, by: Principal) -> dict:
        """Deploy the draft as a bundle (the next version of its process); the draft now follows that version."""
        result = self.deploy(self.draft_bundle(draft_id, by), by=by)
        with self.transaction() as session:
            draft = drafts.load_draft(session, draft_id, by)
            deployed = next((p for p in result["processes"] if p["key"] == draft.process_key), None)
            if deployed is not None:
                draft.base_version = deployed["version"]
        return result

    # --- the timer check the editor makes as the designer types ---------------------------------

    def check_timer_text(self, tag: str, text: str, by: Principal) -> dict:
        """{ok, problems, warnings, value}: the deploy checks of one timer, and what a rule it names gives now."""
        require_designer(by)
        if tag not in TIMER_TAGS:
            raise RuleBroken(f"A timer is one of {', '.join(TIMER_TAGS)}.")
        event = etree.Element(bpmn("intermediateCatchEvent"), id="timer", name="timer")
        definition = etree.SubElement(event, bpmn("timerEventDefinition"))
        try:
            etree.SubElement(definition, bpmn(tag)).text = text
        except ValueError:  # control characters, lone surrogates: nothing a BPMN file can hold
            raise RuleBroken("The timer text holds characters a BPMN file cannot hold.") from None
        findings = Findings()
        check_timer("timer", definition, findings, check_expression)
        value = None
        if not findings.problems:
            value, problem = self._timer_value(text)
            if problem:
                findings.problems.append(Problem("timer", problem, "timer", code="timer-rule"))
        return {
            "ok": not findings.problems,
            "problems": [p.as_dict() for p in findings.problems],
            "warnings": [w.as_dict() for w in findings.warnings],
            "value": value,
        }

    def _timer_value(self, text: str) -> tuple[str | None, str | None]:
        """For rule_period("k") / rule_deadline("k"): the value the rule gives today; or why it cannot."""
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except (SyntaxError, ValueError):
            return None, None
        call = tree.body
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
            return None, None
        args = [a.value for a in call.args if isinstance(a, ast.Constant)]
        if call.func.id in {"rule_period", "rule_deadline"} and args and isinstance(args[0], str):
            try:
                helper = self._rule_period if call.func.id == "rule_period" else self._rule_deadline
                return helper(args[0]), None
            except GovflowError as exc:
                return None, str(exc)
        if call.func.id == "working_days" and args and isinstance(args[0], int):
            return f"{args[0]} working days", None
        return None, None
