"""Drafts: a designer's bundle in the making (a BPMN file with its forms and DMN files), kept in the database
per designer until it is deployed; and the files of a deployed version, to open or download them."""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.deployments import MAX_BUNDLE_FILES, MAX_FILE_BYTES
from engine.errors import NotAllowed, NotFound, RuleBroken
from engine.models import Blob, Deployment, DeploymentFile, Draft, DraftFile, FormDefinition, ProcessDefinition, utcnow
from engine.principal import Principal
from engine.roles import ADMIN
from engine.spiff.bpmn_checks import dmn_decisions
from engine.spiff.bpmn_parser import decision_ref
from engine.spiff.findings import bpmn
from engine.spiff.safe_xml import XmlRefused, is_bpmn, read_xml

SUFFIXES = (".bpmn", ".dmn", ".form.json")
_FILENAME = re.compile(r"^[\w\-. ]{1,200}$", re.UNICODE)
_PROCESS_ID = re.compile(r"^[A-Za-z_][\w\-.]{0,99}$")


def check_filename(name: str) -> str:
    """A file name a bundle may hold: no folders, a known suffix; RuleBroken with a sentence otherwise."""
    name = (name or "").strip()
    if not _FILENAME.match(name) or name.startswith("."):
        raise RuleBroken(f"The file name {name!r} is not allowed: use letters, digits, '-', '_' and '.' only.")
    if not name.lower().endswith(SUFFIXES):
        raise RuleBroken(f"The file {name} is not a .bpmn, .dmn or .form.json file.")
    return name


def check_files(files: dict[str, bytes]) -> None:
    for name, content in files.items():
        check_filename(name)
        if len(content) > MAX_FILE_BYTES:
            raise RuleBroken(f"The file {name} is {len(content)} bytes; at most {MAX_FILE_BYTES} are accepted.")


def may_edit(draft: Draft, by: Principal) -> bool:
    return by.is_system or draft.owner == by.username or by.person.has_role(ADMIN)


def load_draft(session: Session, draft_id: str, by: Principal) -> Draft:
    draft = session.get(Draft, draft_id)
    if draft is None:
        raise NotFound(f"There is no draft {draft_id}.")
    if not may_edit(draft, by):
        raise NotAllowed("A draft belongs to the designer who made it; open the deployed version to make your own.")
    return draft


def draft_files(session: Session, draft_id: str) -> dict[str, bytes]:
    rows = session.execute(
        select(DraftFile.filename, DraftFile.content).where(DraftFile.draft_id == draft_id).order_by(DraftFile.filename)
    )
    return {name: bytes(content) for name, content in rows}


def write_files(session: Session, draft: Draft, files: dict[str, bytes], remove: Iterable[str] = ()) -> None:
    """Add or replace files of a draft, remove others; the draft's process follows its BPMN file."""
    check_files(files)
    existing = {
        f.filename: f for f in session.execute(select(DraftFile).where(DraftFile.draft_id == draft.id)).scalars()
    }
    now = utcnow()
    for name in remove:
        if name in existing:
            session.delete(existing.pop(name))
    for name, content in files.items():
        row = existing.get(name)
        if row is None:
            session.add(DraftFile(draft_id=draft.id, filename=name, content=content, updated_at=now))
        else:
            row.content, row.updated_at = content, now
    session.flush()
    if len(existing) + len([n for n in files if n not in existing]) > MAX_BUNDLE_FILES:
        raise RuleBroken(f"A bundle holds at most {MAX_BUNDLE_FILES} files.")
    key = process_key_of(draft_files(session, draft.id))
    if key:
        draft.process_key = key
    draft.updated_at = now


def process_key_of(files: dict[str, bytes]) -> str | None:
    """The first executable process of the bundle's BPMN files (None when there is none or it cannot be read)."""
    for name, content in sorted(files.items()):
        if not name.lower().endswith(".bpmn"):
            continue
        try:
            root = read_xml(content)
        except XmlRefused:
            continue
        for process in root.iter(bpmn("process")):
            if process.get("isExecutable") == "true" and process.get("id"):
                return process.get("id")
    return None


def draft_view(session: Session, draft: Draft, with_files: bool = True) -> dict:
    view = {
        "id": draft.id,
        "title": draft.title,
        "owner": draft.owner,
        "process_key": draft.process_key,
        "base_version": draft.base_version,
        "created_at": draft.created_at.isoformat(),
        "updated_at": draft.updated_at.isoformat(),
    }
    if with_files:
        rows = session.execute(
            select(DraftFile.filename, DraftFile.content, DraftFile.updated_at)
            .where(DraftFile.draft_id == draft.id)
            .order_by(DraftFile.filename)
        )
        view["files"] = [
            {"filename": name, "size": len(content), "kind": kind_of(name), "updated_at": at.isoformat()}
            for name, content, at in rows
        ]
    return view


def kind_of(filename: str) -> str:
    lower = filename.lower()
    return "form" if lower.endswith(".form.json") else "dmn" if lower.endswith(".dmn") else "bpmn"


def new_draft(session: Session, owner: str, title: str, key: str | None, version: int | None) -> Draft:
    now = utcnow()
    draft = Draft(
        id=str(uuid.uuid4()),
        owner=owner,
        title=title[:200],
        process_key=key,
        base_version=version,
        created_at=now,
        updated_at=now,
    )
    session.add(draft)
    session.flush()
    return draft


# --- the files of a deployed version ---------------------------------------------------------------


def version_files(session: Session, definition: ProcessDefinition) -> dict[str, bytes]:
    """The version's BPMN, the forms it was deployed with and the DMN files of the decisions it calls."""
    files = {f"{definition.key}.bpmn": _blob(session, definition.bpmn_sha256)}
    for form_id, sha in sorted((definition.forms or {}).items()):
        files[f"{form_id}.form.json"] = _pretty_json(_blob(session, sha))
    wanted = _called_decisions(files[f"{definition.key}.bpmn"])
    if wanted:
        # The DMN files deployed up to this version, newest first: the decision as it stood then.
        rows = session.execute(
            select(DeploymentFile.filename, DeploymentFile.sha256)
            .join(Deployment, Deployment.id == DeploymentFile.deployment_id)
            .where(DeploymentFile.filename.like("%.dmn"), Deployment.deployed_at <= definition.deployed_at)
            .order_by(Deployment.deployed_at.desc())
        )
        for filename, sha in rows:
            if not wanted:
                break
            content = _blob(session, sha)
            try:
                ids = {d.get("id") for d in dmn_decisions(read_xml(content))}
            except XmlRefused:
                continue
            if ids & wanted and filename not in files:
                files[filename] = content
                wanted -= ids
    return files


def _called_decisions(xml: bytes) -> set[str]:
    root = read_xml(xml)
    return {ref for task in root.iter(bpmn("businessRuleTask")) if (ref := decision_ref(task))}


def _blob(session: Session, sha: str) -> bytes:
    blob = session.get(Blob, sha)
    if blob is None:
        raise NotFound(f"The stored file {sha[:12]} is missing from the database.")
    return bytes(blob.content)


def _pretty_json(content: bytes) -> bytes:
    """Forms are stored in one canonical line; designers get them indented."""
    try:
        return json.dumps(json.loads(content), ensure_ascii=False, indent=2).encode() + b"\n"
    except ValueError:
        return content


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in sorted(files.items()):
            archive.writestr(name, content)
    return buffer.getvalue()


def form_ids(files: dict[str, bytes]) -> set[str]:
    """The ids of the bundle's forms (by file name, as the editor names them)."""
    return {name.removesuffix(".form.json") for name in files if name.lower().endswith(".form.json")}


def decision_ids(files: dict[str, bytes]) -> set[str]:
    """The decisions of the bundle's DMN files (files that cannot be read name none)."""
    found: set[str] = set()
    for name, content in files.items():
        if name.lower().endswith(".dmn"):
            try:
                found |= {d.get("id") for d in dmn_decisions(read_xml(content)) if d.get("id")}
            except XmlRefused:
                continue
    return found


def deployed_form_ids(session: Session) -> list[str]:
    return sorted(set(session.execute(select(FormDefinition.form_id)).scalars()))


# --- a new process -------------------------------------------------------------------------------


def new_process_xml(key: str, name: str, role: str = "residents_committee") -> bytes:
    """A pool with one lane, a start event and an end event joined by a flow: where a new process begins."""
    if not _PROCESS_ID.match(key):
        raise RuleBroken(
            f"The process id {key!r} is not allowed: start with a letter and use letters, digits and '_' only."
        )
    name = name.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" \
xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" \
xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" \
id="{key}_definitions" targetNamespace="https://govflow.example/bpmn" exporter="govflow studio" exporterVersion="1">
  <bpmn:collaboration id="{key}_collaboration">
    <bpmn:participant id="{key}_participant" name="{name}" processRef="{key}"/>
  </bpmn:collaboration>
  <bpmn:process id="{key}" name="{name}" isExecutable="true">
    <bpmn:laneSet id="{key}_lanes">
      <bpmn:lane id="{role}" name="{role}">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" name="开始"><bpmn:outgoing>flow_start_end</bpmn:outgoing></bpmn:startEvent>
    <bpmn:endEvent id="end" name="结束"><bpmn:incoming>flow_start_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="flow_start_end" sourceRef="start" targetRef="end"/>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="{key}_diagram">
    <bpmndi:BPMNPlane id="{key}_plane" bpmnElement="{key}_collaboration">
      <bpmndi:BPMNShape id="{key}_participant_di" bpmnElement="{key}_participant" isHorizontal="true">
        <dc:Bounds x="120" y="80" width="700" height="200"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="{role}_di" bpmnElement="{role}" isHorizontal="true">
        <dc:Bounds x="150" y="80" width="670" height="200"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="start_di" bpmnElement="start">
        <dc:Bounds x="212" y="162" width="36" height="36"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="end_di" bpmnElement="end">
        <dc:Bounds x="712" y="162" width="36" height="36"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="flow_start_end_di" bpmnElement="flow_start_end">
        <di:waypoint x="248" y="180"/><di:waypoint x="712" y="180"/>
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
""".encode()


def is_bpmn_file(content: bytes) -> bool:
    try:
        return is_bpmn(read_xml(content))
    except XmlRefused:
        return False
