"""Deploying bundles: parse and check, store files and specs once by sha256, number versions per key."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, bindparam, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from engine import admission, rules
from engine.audit import Actor, AuditLog
from engine.errors import BundleInvalid, NotFound, Problem
from engine.models import Blob, Deployment, DeploymentFile, FormDefinition, ProcessDefinition, utcnow
from engine.roles import role_of_lane
from engine.spiff.bpmn_checks import lane_index
from engine.spiff.parsing import ParsedBundle, parse_bundle
from engine.spiff.safe_xml import BPMN_NS, read_xml
from engine.spiff.serialization import spec_to_json
from engine.store import SpecCache

# Each file of a bundle may be at most this large; a bundle at most MAX_BUNDLE_FILES files.
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_BUNDLE_FILES = 200


@dataclass
class DeployedProcess:
    key: str
    version: int
    name: str
    unchanged: bool = False

    def as_dict(self) -> dict:
        return {"key": self.key, "version": self.version, "name": self.name, "unchanged": self.unchanged}


@dataclass
class DeploymentResult:
    id: str
    processes: list[DeployedProcess] = field(default_factory=list)
    forms: list[dict] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "processes": [p.as_dict() for p in self.processes],
            "forms": self.forms,
            "warnings": [w.as_dict() for w in self.warnings],
        }


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def store_blob(session: Session, content: bytes) -> str:
    digest = sha256(content)
    if session.get(Blob, digest) is None:
        session.add(Blob(sha256=digest, content=content))
        session.flush()
    return digest


def check_sizes(files: dict[str, bytes]) -> None:
    problems = [
        Problem(name, f"The file is {len(body)} bytes; at most {MAX_FILE_BYTES} are accepted.")
        for name, body in files.items()
        if len(body) > MAX_FILE_BYTES
    ]
    if len(files) > MAX_BUNDLE_FILES:
        problems.append(Problem("(bundle)", f"A bundle holds at most {MAX_BUNDLE_FILES} files."))
    if problems:
        raise BundleInvalid(problems)


def library_files(session: Session) -> dict[str, bytes]:
    """BPMN of the latest version of every process key, and the newest DMN file of each name."""
    rows = session.execute(
        select(ProcessDefinition.key, Blob.content)
        .join(Blob, Blob.sha256 == ProcessDefinition.bpmn_sha256)
        .where(is_latest(ProcessDefinition.key, ProcessDefinition.version))
    )
    library = {f"library/{key}.bpmn": content for key, content in rows}
    dmn_rows = session.execute(
        select(DeploymentFile.filename, Blob.content, Deployment.deployed_at)
        .join(Blob, Blob.sha256 == DeploymentFile.sha256)
        .join(Deployment, Deployment.id == DeploymentFile.deployment_id)
        .where(DeploymentFile.filename.like("%.dmn"))
        .order_by(Deployment.deployed_at)
    )
    for filename, content, _at in dmn_rows:
        library[f"library/{filename}"] = content
    return library


def known_form_ids(session: Session) -> set[str]:
    return set(session.execute(select(FormDefinition.form_id).distinct()).scalars())


def validate(session: Session, files: dict[str, bytes]) -> ParsedBundle:
    """Parse and check a bundle against what is deployed; raises BundleInvalid."""
    check_sizes(files)
    parsed = parse_bundle(files, library=library_files(session), known_forms=known_form_ids(session))
    # The admission list is enforced on deployment too: committees get no work for a matter not admitted.
    refused = admission.check_bundle(session, parsed.processes, rules.today())
    if refused:
        raise BundleInvalid(refused)
    return parsed


def deploy(session: Session, files: dict[str, bytes], actor: Actor, specs: SpecCache) -> DeploymentResult:
    parsed = validate(session, files)
    deployment = Deployment(id=str(uuid.uuid4()), deployed_by=actor.username, deployed_at=utcnow())
    session.add(deployment)
    session.flush()
    file_shas: dict[str, str] = {}
    for filename, content in sorted(files.items()):
        file_shas[filename] = store_blob(session, content)
        session.add(DeploymentFile(deployment_id=deployment.id, filename=filename, sha256=file_shas[filename]))

    result = DeploymentResult(id=deployment.id, warnings=list(parsed.warnings))
    form_shas = _deploy_forms(session, parsed, deployment.id, result)

    for key, process in sorted(parsed.processes.items()):
        spec_json = spec_to_json(process.spec, process.subprocess_specs)
        spec_sha = store_blob(session, spec_json)
        specs.put(spec_sha, (process.spec, process.subprocess_specs))
        latest = session.execute(
            select(ProcessDefinition)
            .where(ProcessDefinition.key == key)
            .order_by(ProcessDefinition.version.desc())
            .limit(1)
        ).scalar_one_or_none()
        # User tasks of called processes in the same bundle run inside this instance too.
        user_tasks = list(process.user_tasks)
        for called in process.subprocess_specs:
            if called in parsed.processes and called != key:
                user_tasks.extend(parsed.processes[called].user_tasks)
        forms = {t.form_key: form_shas[t.form_key] for t in user_tasks if t.form_key in form_shas}
        if latest is not None and latest.spec_sha256 == spec_sha and latest.forms == forms:
            result.processes.append(DeployedProcess(key, latest.version, latest.name, unchanged=True))
            continue
        version = (latest.version + 1) if latest else 1
        session.add(
            ProcessDefinition(
                id=f"{key}:{version}",
                key=key,
                version=version,
                name=process.name,
                deployment_id=deployment.id,
                bpmn_sha256=store_blob(session, process.xml),
                spec_sha256=spec_sha,
                user_tasks={
                    t.element_id: {"name": t.name, "role": t.role, "lane": t.lane, "form_key": t.form_key}
                    for t in user_tasks
                },
                forms=forms,
                sequence_flows=sequence_flows(process.xml, key),
                deployed_by=actor.username,
                deployed_at=deployment.deployed_at,
            )
        )
        result.processes.append(DeployedProcess(key, version, process.name))
    session.flush()
    AuditLog(session).append_system(
        actor,
        "deployment_made",
        data={
            "deployment_id": deployment.id,
            "files": [{"name": n, "sha256": s} for n, s in sorted(file_shas.items())],
            "processes": [p.as_dict() for p in result.processes],
            "forms": result.forms,
        },
    )
    return result


_LATEST_ID = (
    select(ProcessDefinition.id)
    .where(ProcessDefinition.key == bindparam("key"))
    .order_by(ProcessDefinition.version.desc())
    .limit(1)
)
_PINNED_ID = select(ProcessDefinition.id).where(
    ProcessDefinition.key == bindparam("key"), ProcessDefinition.version == bindparam("version")
)


def find_definition_id(session: Session, key: str, version: int | None = None) -> str:
    """The id of the pinned version of a process, or of its latest; NotFound with a sentence otherwise.

    The id alone: a start takes the definition from the per-process cache of deployed definitions
    (`InstanceStore.definition`), which never change once deployed.
    """
    if version is None:
        found = session.execute(_LATEST_ID, {"key": key}).scalar_one_or_none()
    else:
        found = session.execute(_PINNED_ID, {"key": key, "version": version}).scalar_one_or_none()
    if found is None:
        pinned = f" version {version}" if version is not None else ""
        raise NotFound(f"There is no deployed process {key!r}{pinned}.", code="no_process", process=key)
    return found


def find_definition(session: Session, key: str, version: int | None = None) -> ProcessDefinition:
    """The pinned version of a process, or its latest, as a row of this session; NotFound otherwise."""
    return session.get(ProcessDefinition, find_definition_id(session, key, version))


def latest_definitions(session: Session) -> list[ProcessDefinition]:
    """The newest version of every process key."""
    query = select(ProcessDefinition).where(is_latest(ProcessDefinition.key, ProcessDefinition.version))
    return list(session.execute(query.order_by(ProcessDefinition.key)).scalars())


def lane_roles(xml: bytes, process_id: str) -> dict[str, str | None]:
    """The role each flow node's lane names (element id -> role, None for a lane naming no role)."""
    root = read_xml(xml)
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        if process.get("id") == process_id:
            return {
                node: role_of_lane(lane.get("id"), (lane.get("name") or "").strip() or None)
                for node, lane in lane_index(process).items()
            }
    return {}


def sequence_flows(xml: bytes, process_id: str) -> list[list[str]]:
    """[flow id, source, target] of every sequence flow in the process (subprocesses included)."""
    root = read_xml(xml)
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        if process.get("id") == process_id:
            return [
                [flow.get("id", ""), flow.get("sourceRef", ""), flow.get("targetRef", "")]
                for flow in process.iter(f"{{{BPMN_NS}}}sequenceFlow")
            ]
    return []


def _deploy_forms(
    session: Session, parsed: ParsedBundle, deployment_id: str, result: DeploymentResult
) -> dict[str, str]:
    """Store new form versions; returns form id -> sha256 for every form a process may pin."""
    shas = _latest_form_shas(session)
    for form_id, schema in sorted(parsed.forms.items()):
        content = json.dumps(schema, ensure_ascii=False, sort_keys=True).encode()
        digest = store_blob(session, content)
        if shas.get(form_id) == digest:
            continue
        version = (
            session.execute(
                select(func.max(FormDefinition.version)).where(FormDefinition.form_id == form_id)
            ).scalar_one_or_none()
            or 0
        ) + 1
        session.add(FormDefinition(form_id=form_id, version=version, sha256=digest, deployment_id=deployment_id))
        shas[form_id] = digest
        result.forms.append({"id": form_id, "version": version})
    return shas


def _latest_form_shas(session: Session) -> dict[str, str]:
    rows = session.execute(
        select(FormDefinition.form_id, FormDefinition.sha256).where(
            is_latest(FormDefinition.form_id, FormDefinition.version)
        )
    )
    return dict(rows.all())


def is_latest(key: InstrumentedAttribute, version: InstrumentedAttribute) -> ColumnElement[bool]:
    """True for the row with the highest version of its key (processes and forms are versioned alike)."""
    table = key.class_
    newest = aliased(table)
    newer = select(newest).where(getattr(newest, key.key) == key, getattr(newest, version.key) > version)
    return ~newer.exists()
