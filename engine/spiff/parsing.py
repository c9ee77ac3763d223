"""Parsing and checking a deployment bundle: .bpmn, .dmn and .form.json files deployed together.

`parse_bundle` either returns everything the engine needs to store and run the bundle's processes, or
raises `BundleInvalid` with every problem it could find in one pass, each naming the file, the element
and the line, in sentences a process designer understands. Nothing else escapes it: SpiffWorkflow's
exceptions, lxml's and any library bug become problems.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec

import forms
from engine.errors import BundleInvalid, Problem
from engine.spiff import safe_xml
from engine.spiff.bpmn_checks import (
    Findings,
    Known,
    ProcessOutline,
    UserTaskInfo,
    check_data_stores,
    check_dmn,
    check_process,
    check_schema,
    check_unique_ids,
    dmn_decisions,
    element_index,
    process_outlines,
)
from engine.spiff.bpmn_parser import GovflowBpmnParser
from engine.spiff.safe_xml import BPMN_NS, XmlRefused
from engine.spiff.sandbox_policy import check_expression, check_script
from engine.spiff.spec_rewrites import rewrite_specs
from engine.spiff.spiff_errors import problem_from_exception, reported_by_checks

__all__ = ["ParsedBundle", "ParsedProcess", "UserTaskInfo", "parse_bundle"]

log = logging.getLogger(__name__)

BUNDLE = "(bundle)"  # the Problem.file of a problem with the bundle as a whole
FORM_SUFFIX = ".form.json"
_FAILED = object()  # what _guarded returns when the step raised


@dataclass
class ParsedProcess:
    """One executable process of the bundle: its spec for BpmnWorkflow and what the work queue needs."""

    key: str  # the BPMN process id
    name: str  # the process name (Chinese allowed), else the id
    file: str  # the bundle file it came from
    spec: BpmnProcessSpec
    subprocess_specs: dict  # called and embedded processes, as BpmnWorkflow wants them
    user_tasks: list[UserTaskInfo]
    xml: bytes  # the original file


@dataclass
class ParsedBundle:
    """Everything a valid bundle deploys; `warnings` do not block the deployment."""

    processes: dict[str, ParsedProcess]  # every executable process of the bundle's BPMN files, by key
    forms: dict[str, dict]  # form id -> form-js schema
    decisions: set[str]  # DMN decision ids in the bundle
    warnings: list[Problem] = field(default_factory=list)


def parse_bundle(
    files: Mapping[str, bytes],
    library: Mapping[str, bytes] | None = None,
    known_forms: Collection[str] = (),
) -> ParsedBundle:
    """Parse and check a bundle; raise BundleInvalid listing every problem found.

    `library` holds .bpmn/.dmn files deployed earlier: they only resolve call activities and decisions
    the bundle does not contain (the bundle's own processes win), and problems inside them are ignored.
    `known_forms` are the ids of forms deployed earlier.
    """
    try:
        return _BundleParser(files, library or {}, known_forms).parse()
    except BundleInvalid:
        raise
    except Exception as exc:  # the last net: no traceback ever reaches a designer
        log.exception("parse_bundle failed on %s", sorted(files))
        raise BundleInvalid(
            [
                Problem(
                    BUNDLE,
                    "The bundle could not be checked because of an internal error "
                    f"({exc.__class__.__name__}); nothing was deployed. Please report this with the files.",
                )
            ]
        ) from None


@dataclass
class _Document:
    file: str
    data: bytes
    root: etree._Element
    index: dict[str, etree._Element]
    outlines: list[ProcessOutline] = field(default_factory=list)
    spiff_ready: bool = True  # handed to SpiffWorkflow (False when its process ids clash)


class _BundleParser:
    def __init__(self, files: Mapping[str, bytes], library: Mapping[str, bytes], known_forms: Collection[str]):
        self.files = files
        self.library = library
        self.known_forms = set(known_forms)
        self.findings = Findings()
        self.bpmn: list[_Document] = []
        self.dmn: list[_Document] = []
        self.forms: dict[str, dict] = {}
        self.form_ids: set[str] = set()  # also forms that failed to compile: no cascade of "form not found"
        self.library_bpmn: list[tuple[str, etree._Element]] = []
        self.library_dmn: list[tuple[str, etree._Element]] = []

    def parse(self) -> ParsedBundle:
        """All checks over all files; raise BundleInvalid if any problem was found."""
        if not self.files:
            self.findings.problem(BUNDLE, "The bundle is empty: add at least one .bpmn file.")
        for filename, data in self.files.items():
            self._read(str(filename), data)
        decisions = self._decisions()
        self._read_library()
        known = Known(
            processes={o.key for d in self.bpmn for o in d.outlines if o.key} | self._library_processes(),
            decisions=decisions | self._library_decisions(),
            forms=self.form_ids | self.known_forms,
        )
        for document in self.bpmn:
            for outline in document.outlines:
                if outline.has_flow_nodes:
                    check_process(outline, known, self.findings, check_expression, check_script)
        processes = self._run_spiffworkflow()
        if self.findings.problems:
            raise BundleInvalid(self._in_file_order(self.findings.problems))
        return ParsedBundle(
            processes=processes,
            forms=self.forms,
            decisions=decisions,
            warnings=self._in_file_order(self.findings.warnings),
        )

    # --- reading the files ------------------------------------------------------------------------

    def _read(self, filename: str, data: Any) -> None:
        lower = filename.lower()
        if not isinstance(data, bytes | bytearray | str):
            self.findings.problem(filename, "The file has no content the server can read.")
        elif lower.endswith(FORM_SUFFIX):
            self._read_form(filename, data)
        elif lower.endswith((".bpmn", ".dmn")):
            self._read_xml(filename, bytes(data) if not isinstance(data, str) else data, lower.endswith(".dmn"))
        else:
            self.findings.problem(
                filename,
                "govflow does not know this kind of file: a bundle holds .bpmn (processes), .dmn (decision "
                "tables) and .form.json (forms) files.",
            )

    def _read_xml(self, filename: str, data: bytes | str, is_dmn: bool) -> None:
        try:
            root = safe_xml.read_xml(data)
        except XmlRefused as refused:
            self.findings.problem(filename, refused.message, line=refused.line)
            return
        raw = data.encode("utf-8") if isinstance(data, str) else data
        if is_dmn and safe_xml.dmn_namespace(root) is None:
            hint = " It looks like BPMN: name it .bpmn." if safe_xml.is_bpmn(root) else ""
            self.findings.problem(
                filename,
                f"The file is not a DMN 1.1-1.5 decision model: its root element is "
                f"{safe_xml.describe_root(root)}.{hint}",
                line=root.sourceline,
            )
            return
        if not is_dmn and not safe_xml.is_bpmn(root):
            hint = " It looks like DMN: name it .dmn." if safe_xml.dmn_namespace(root) else ""
            self.findings.problem(
                filename,
                f"The file is not BPMN 2.0: its root element is {safe_xml.describe_root(root)}, where a BPMN "
                f"file has <definitions> in the namespace {BPMN_NS}.{hint}",
                line=root.sourceline,
            )
            return
        index, _ = element_index(root)
        document = _Document(filename, raw, root, index)
        check_unique_ids(filename, root, self.findings)
        if is_dmn:
            before = len(self.findings.problems)
            check_dmn(filename, root, self.findings)
            document.spiff_ready = len(self.findings.problems) == before
            self.dmn.append(document)
            return
        check_schema(filename, root, self.findings)
        check_data_stores(filename, root, self.findings)
        document.outlines = process_outlines(filename, root)
        self._check_process_ids(document)
        self.bpmn.append(document)

    def _check_process_ids(self, document: _Document) -> None:
        for outline in document.outlines:
            for other in self.bpmn:
                if any(o.key == outline.key for o in other.outlines):
                    self.findings.problem(
                        document.file,
                        f"The process id '{outline.key}' is also used in {other.file}; each process of a "
                        "bundle needs its own id.",
                        outline.element,
                    )
                    document.spiff_ready = False

    def _read_form(self, filename: str, data: bytes | str) -> None:
        try:
            schema = forms.load_form(data, filename=filename)
        except forms.FormDefinitionInvalid as invalid:
            self._form_problems(filename, invalid)
            self._remember_form_id(data)
            return
        except Exception as exc:  # a bug in the form loader must not hide the other files' problems
            self.findings.problem(filename, f"The form could not be read ({exc.__class__.__name__}).")
            self._remember_form_id(data)
            return
        if isinstance(schema, dict) and isinstance(schema.get("id"), str):
            self.form_ids.add(schema["id"])
        try:
            compiled = forms.compile_form(schema)
        except forms.FormDefinitionInvalid as invalid:
            self._form_problems(filename, invalid)
            return
        except Exception as exc:
            self.findings.problem(filename, f"The form could not be compiled ({exc.__class__.__name__}).")
            return
        if compiled.id in self.forms:
            self.findings.problem(
                filename,
                f"The form id '{compiled.id}' is used by two form files of the bundle; each form needs its own id.",
            )
            return
        self.form_ids.add(compiled.id)
        self.forms[compiled.id] = schema

    def _remember_form_id(self, data: bytes | str) -> None:
        """The id of a form that failed to load, if it has one: its tasks need no second problem."""
        try:
            schema = json.loads(data)
        except (ValueError, TypeError, RecursionError):
            return
        if isinstance(schema, dict) and isinstance(schema.get("id"), str):
            self.form_ids.add(schema["id"])

    def _form_problems(self, filename: str, invalid: forms.FormDefinitionInvalid) -> None:
        for sentence in invalid.problems or [str(invalid)]:
            self.findings.problem(filename, str(sentence))

    def _decisions(self) -> set[str]:
        decisions: dict[str, str] = {}
        for document in self.dmn:
            for decision in dmn_decisions(document.root):
                decision_id = decision.get("id")
                if not decision_id:
                    continue
                if decision_id in decisions:
                    self.findings.problem(
                        document.file,
                        f"The decision id '{decision_id}' is also used in {decisions[decision_id]}; each "
                        "decision needs its own id.",
                        decision,
                    )
                    document.spiff_ready = False
                decisions.setdefault(decision_id, document.file)
        return set(decisions)

    def _read_library(self) -> None:
        for filename, data in self.library.items():
            lower = str(filename).lower()
            if not lower.endswith((".bpmn", ".dmn")):
                continue
            try:
                root = safe_xml.read_xml(data)
            except Exception:  # problems inside earlier deployments are not this bundle's
                continue
            if lower.endswith(".dmn") and safe_xml.dmn_namespace(root):
                self.library_dmn.append((str(filename), root))
            elif safe_xml.is_bpmn(root):
                self.library_bpmn.append((str(filename), root))

    def _library_processes(self) -> set[str]:
        return {
            process.get("id")
            for _, root in self.library_bpmn
            for process in root.findall(f"{{{BPMN_NS}}}process")
            if process.get("id") and process.get("isExecutable", "true") == "true"
        }

    def _library_decisions(self) -> set[str]:
        # SpiffWorkflow registers a DMN file under its (only) decision.
        found = set()
        for _, root in self.library_dmn:
            decisions = dmn_decisions(root)
            if len(decisions) == 1 and decisions[0].get("id"):
                found.add(decisions[0].get("id"))
        return found

    # --- SpiffWorkflow ----------------------------------------------------------------------------

    def _run_spiffworkflow(self) -> dict[str, ParsedProcess]:
        parser = GovflowBpmnParser()
        self._add_library(parser)
        for document in self.bpmn:
            if document.spiff_ready:
                added = self._guarded(
                    document.file, lambda d=document: parser.add_bpmn_xml(d.root.getroottree(), d.file)
                )
                # A document SpiffWorkflow could not take has no processes to ask for.
                document.spiff_ready = added is not _FAILED
        for document in self.dmn:
            if document.spiff_ready:
                self._guarded(document.file, lambda d=document: self._add_dmn(parser, d))
        parsed: dict[str, ParsedProcess] = {}
        for document in self.bpmn:
            if not document.spiff_ready:
                continue
            for outline in document.outlines:
                if not (outline.has_flow_nodes and outline.executable and outline.key):
                    continue
                spec = self._guarded(document.file, lambda key=outline.key: parser.get_spec(key))
                if spec is not _FAILED:
                    parsed[outline.key] = ParsedProcess(
                        outline.key, outline.name, document.file, spec, {}, outline.user_tasks, document.data
                    )
        if self.findings.problems:
            return {}  # the bundle is refused: called processes need not be resolved
        for process in parsed.values():
            subprocess_specs = self._guarded(process.file, lambda key=process.key: parser.get_subprocess_specs(key))
            process.subprocess_specs = subprocess_specs if isinstance(subprocess_specs, dict) else {}
            rewrite_specs([process.spec, *process.subprocess_specs.values()], self._all_elements)
        return parsed

    def _add_library(self, parser: GovflowBpmnParser) -> None:
        """Earlier deployments, minus whatever the bundle redefines (the bundle's version wins)."""
        taken = {o.key for d in self.bpmn for o in d.outlines}
        for filename, root in self.library_bpmn:
            tree = copy.deepcopy(root)
            for process in tree.findall(f"{{{BPMN_NS}}}process"):
                if process.get("id") in taken:
                    tree.remove(process)
                else:
                    taken.add(process.get("id"))
            try:
                parser.add_bpmn_xml(tree.getroottree(), filename)
            except Exception:  # problems inside earlier deployments are not this bundle's
                continue
        bundle_decisions = {d.get("id") for doc in self.dmn for d in dmn_decisions(doc.root)}
        for filename, root in self.library_dmn:
            decisions = dmn_decisions(root)
            if len(decisions) == 1 and decisions[0].get("id") not in bundle_decisions:
                try:
                    parser.add_dmn_xml(root, filename)
                except Exception:
                    continue

    def _add_dmn(self, parser: GovflowBpmnParser, document: _Document) -> None:
        parser.add_dmn_xml(document.root, document.file)
        decision_id = dmn_decisions(document.root)[0].get("id")
        # SpiffWorkflow reads a decision table only when a task first calls it; read it now instead.
        parser.dmn_parsers[decision_id].parse()

    def _guarded(self, file: str, action: Any) -> Any:
        """Run one SpiffWorkflow step; any exception becomes a problem placed on its element."""
        try:
            return action()
        except Exception as exc:
            if reported_by_checks(exc):
                return _FAILED
            problem = problem_from_exception(exc, file, self._indexes())
            # SpiffWorkflow stops at the first error of a process, often one govflow already reported
            # with a better sentence (a missing decision, a non-executable process).
            duplicate = problem.element_id is not None and self.findings.has_problem_at(
                problem.file, problem.element_id
            )
            if not duplicate and problem not in self.findings.problems:
                self.findings.problems.append(problem)
            return _FAILED

    def _indexes(self) -> dict[str, dict[str, etree._Element]]:
        return {d.file: d.index for d in [*self.bpmn, *self.dmn]}

    @functools.cached_property
    def _all_elements(self) -> dict[tuple[str, str], etree._Element]:
        """(file, id) -> element over the bundle's and the library's BPMN files."""
        elements: dict[tuple[str, str], etree._Element] = {}
        for filename, root in [(d.file, d.root) for d in self.bpmn] + self.library_bpmn:
            for element_id, element in element_index(root)[0].items():
                elements.setdefault((filename, element_id), element)
        return elements

    def _in_file_order(self, problems: list[Problem]) -> list[Problem]:
        """Problems by file (in the bundle's order) and line, as a designer reads them."""
        position = {name: n for n, name in enumerate(self.files)}
        return sorted(problems, key=lambda p: (p.file != BUNDLE, position.get(p.file, len(position)), p.line or 0))
