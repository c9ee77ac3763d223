"""Parsing and checking deployment bundles: what a designer uploads, what the engine keeps, what is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.errors import BundleInvalid, Problem
from engine.spiff.parsing import ParsedBundle, UserTaskInfo, parse_bundle
from engine.spiff.timers import TimerKind, parse_iso_timer

TESTS = Path(__file__).resolve().parent
BUNDLES = TESTS / "data" / "bundles"
GOOD = BUNDLES / "good"
BAD = BUNDLES / "bad"
MIWG = (TESTS.parent / "../shared/conformance/miwg").resolve()
PROCESS_FILE = "committee_change.bpmn"
PROCESS_KEY = "committee_change_filing"


def good_files() -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(GOOD.iterdir())}


def good_xml() -> str:
    return (GOOD / PROCESS_FILE).read_text(encoding="utf-8")


def with_process(xml: str, **others: bytes) -> dict[str, bytes]:
    """The good bundle with its process file replaced (and other files added or replaced)."""
    files = good_files()
    files[PROCESS_FILE] = xml.encode("utf-8")
    files.update(others)
    return files


def edited(old: str, new: str) -> str:
    xml = good_xml()
    assert old in xml, old
    return xml.replace(old, new, 1)


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the first occurrence of `needle` in a fixture."""
    position = text.index(needle)
    return text.count("\n", 0, position) + 1


def refusal(files: dict[str, bytes], **kwargs: object) -> list[Problem]:
    with pytest.raises(BundleInvalid) as caught:
        parse_bundle(files, **kwargs)
    problems = caught.value.problems
    assert problems
    for problem in problems:
        assert problem.file and problem.message, problem
    return problems


def problem_at(problems: list[Problem], file: str, element_id: str | None) -> Problem:
    found = [p for p in problems if p.file == file and p.element_id == element_id]
    assert found, f"no problem on {file} [{element_id}] among {[str(p) for p in problems]}"
    return found[0]


def ready_user_tasks(workflow: BpmnWorkflow) -> list:
    return workflow.get_tasks(state=TaskState.READY, manual=True)


def complete(workflow: BpmnWorkflow, element_id: str, **data: object) -> None:
    [task] = [t for t in ready_user_tasks(workflow) if t.task_spec.bpmn_id == element_id]
    task.data.update(data)
    task.run()
    workflow.do_engine_steps()


# --- the good bundle -----------------------------------------------------------------------------------


def test_a_good_bundle_gives_its_process_forms_and_decision() -> None:
    bundle = parse_bundle(good_files())

    assert isinstance(bundle, ParsedBundle)
    assert set(bundle.processes) == {PROCESS_KEY}
    process = bundle.processes[PROCESS_KEY]
    assert process.name == "居委会调整备案"
    assert process.file == PROCESS_FILE
    assert process.xml == (GOOD / PROCESS_FILE).read_bytes()
    assert process.spec.name == PROCESS_KEY
    assert set(bundle.forms) == {"change_application", "legality_review"}
    assert bundle.forms["change_application"]["components"][0]["key"] == "reason"
    assert bundle.decisions == {"change_route"}
    assert bundle.warnings == []


def test_user_tasks_carry_the_role_of_their_lane_and_their_form() -> None:
    process = parse_bundle(good_files()).processes[PROCESS_KEY]
    xml = good_xml()

    assert process.user_tasks == [
        UserTaskInfo(
            "fill_application",
            "填写调整申请",
            "residents_committee",
            "Lane_residents_committee",
            "change_application",
            line_of(xml, 'id="fill_application"'),
        ),
        UserTaskInfo(
            "legality_review",
            "合法性审查",
            "subdistrict_office",
            "subdistrict_office",
            "legality_review",
            line_of(xml, '<bpmn:userTask id="legality_review"'),
        ),
        UserTaskInfo(
            "quick_record",
            "登记备案",
            "subdistrict_office",
            "subdistrict_office",
            "legality_review",
            line_of(xml, 'id="quick_record"'),
        ),
    ]


def test_an_unquoted_iso_duration_is_handed_to_the_engine_as_a_string() -> None:
    process = parse_bundle(good_files()).processes[PROCESS_KEY]

    timer = process.spec.task_specs["review_overdue"].event_definition
    assert timer.expression == "'P3D'"


def test_an_application_from_a_small_committee_runs_through_the_quick_record() -> None:
    process = parse_bundle(good_files()).processes[PROCESS_KEY]
    workflow = BpmnWorkflow(process.spec, process.subprocess_specs)
    workflow.do_engine_steps()

    complete(workflow, "fill_application", reason="合并小区", households=800)
    assert [t.task_spec.bpmn_id for t in ready_user_tasks(workflow)] == ["quick_record"]
    complete(workflow, "quick_record", lawful=True)

    assert workflow.is_completed()
    assert workflow.data["route"] == "quick"
    assert workflow.data["size_band"] == "normal"


def test_the_unquoted_three_day_timer_waits_and_fires_at_run_time() -> None:
    process = parse_bundle(good_files()).processes[PROCESS_KEY]
    workflow = BpmnWorkflow(process.spec, process.subprocess_specs)
    workflow.do_engine_steps()
    complete(workflow, "fill_application", reason="拆分居委会", households=3500)
    assert [t.task_spec.bpmn_id for t in ready_user_tasks(workflow)] == ["legality_review"]

    [timer] = [t for t in workflow.get_tasks(state=TaskState.WAITING) if t.task_spec.bpmn_id == "review_overdue"]
    due = datetime.fromisoformat(timer.internal_data["event_value"])
    assert timedelta(days=2, hours=23) < due - datetime.now(UTC) <= timedelta(days=3)
    assert len(workflow.waiting_events()) == 1

    # Three days later (as the timer worker would see it): the review is overdue.
    timer._set_internal_data(event_value=(datetime.now(UTC) - timedelta(seconds=1)).isoformat())
    workflow.refresh_timers()
    workflow.do_engine_steps()
    assert workflow.is_completed()
    finished = {t.task_spec.bpmn_id for t in workflow.get_tasks(state=TaskState.COMPLETED)}
    assert "end_overdue" in finished
    assert "legality_review" not in finished


def test_camunda_modeler_form_keys_and_decision_refs_are_understood() -> None:
    camunda = 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"\n                  id="committee_change_defs"'
    xml = edited('id="committee_change_defs"', camunda)
    xml = xml.replace(
        """<bpmn:userTask id="fill_application" name="填写调整申请">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formKey" value="change_application"/>
        </spiffworkflow:properties>
      </bpmn:extensionElements>""",
        '<bpmn:userTask id="fill_application" name="填写调整申请" '
        'camunda:formKey="camunda-forms:bpmn:change_application">',
    )
    xml = xml.replace(
        """<bpmn:businessRuleTask id="decide_route" name="判定审查方式">
      <bpmn:extensionElements>
        <spiffworkflow:calledDecisionId>change_route</spiffworkflow:calledDecisionId>
      </bpmn:extensionElements>""",
        '<bpmn:businessRuleTask id="decide_route" name="判定审查方式" camunda:decisionRef="change_route">',
    )
    assert "calledDecisionId" not in xml

    process = parse_bundle(with_process(xml)).processes[PROCESS_KEY]

    assert process.user_tasks[0].form_key == "change_application"
    # The runtime reads the form from the spiffworkflow property, whichever modeler drew the task.
    assert process.spec.task_specs["fill_application"].extensions["properties"]["formKey"] == "change_application"
    workflow = BpmnWorkflow(process.spec, process.subprocess_specs)
    workflow.do_engine_steps()
    complete(workflow, "fill_application", reason="合并", households=100)
    [quick_record] = ready_user_tasks(workflow)
    assert quick_record.task_spec.bpmn_id == "quick_record"
    assert quick_record.data["route"] == "quick"


def test_a_timer_expression_that_the_sandbox_accepts_is_kept_as_written() -> None:
    xml = edited("<bpmn:timeDuration>P3D</bpmn:timeDuration>", "<bpmn:timeDuration>review_period</bpmn:timeDuration>")

    process = parse_bundle(with_process(xml)).processes[PROCESS_KEY]

    assert process.spec.task_specs["review_overdue"].event_definition.expression == "review_period"


def test_a_quoted_iso_duration_stays_quoted() -> None:
    xml = edited("<bpmn:timeDuration>P3D</bpmn:timeDuration>", '<bpmn:timeDuration>"PT36H"</bpmn:timeDuration>')

    process = parse_bundle(with_process(xml)).processes[PROCESS_KEY]

    assert process.spec.task_specs["review_overdue"].event_definition.expression == '"PT36H"'


def test_a_called_process_deployed_earlier_resolves_the_call_activity() -> None:
    files = {"missing_called_process.bpmn": (BAD / "missing_called_process.bpmn").read_bytes()}
    library = {
        "resident_consultation.bpmn": (BAD / "resident_consultation.bpmn").read_bytes(),
        "broken_earlier.bpmn": b"<not xml",  # problems in earlier deployments are not this bundle's
    }

    bundle = parse_bundle(files, library=library)

    assert set(bundle.processes) == {"boundary_adjustment"}  # the library's processes are not returned
    process = bundle.processes["boundary_adjustment"]
    assert set(process.subprocess_specs) == {"resident_consultation"}
    workflow = BpmnWorkflow(process.spec, process.subprocess_specs)
    workflow.do_engine_steps()
    complete(workflow, "publish_notice")  # a task of the called process
    assert workflow.is_completed()


def test_a_called_process_in_the_same_bundle_resolves_the_call_activity() -> None:
    files = {name: (BAD / name).read_bytes() for name in ("missing_called_process.bpmn", "resident_consultation.bpmn")}

    bundle = parse_bundle(files)

    assert set(bundle.processes) == {"boundary_adjustment", "resident_consultation"}
    assert set(bundle.processes["boundary_adjustment"].subprocess_specs) == {"resident_consultation"}


def test_a_form_deployed_earlier_satisfies_a_user_task() -> None:
    files = good_files()
    del files["legality_review.form.json"]

    bundle = parse_bundle(files, known_forms={"legality_review"})

    assert set(bundle.forms) == {"change_application"}


def test_user_tasks_without_form_or_known_lane_role_deploy_with_warnings() -> None:
    xml = edited('<spiffworkflow:property name="formKey" value="change_application"/>', "")
    xml = xml.replace('<bpmn:lane id="subdistrict_office" name="街道办事处">', '<bpmn:lane id="Lane_2" name="审核组">')
    xml = xml.replace("<bpmn:flowNodeRef>quick_record</bpmn:flowNodeRef>", "")

    bundle = parse_bundle(with_process(xml))

    warnings = {(w.element_id, w.line): w.message for w in bundle.warnings}
    assert "names no form" in warnings["fill_application", line_of(xml, 'id="fill_application"')]
    assert "names no known role" in warnings["legality_review", line_of(xml, '<bpmn:userTask id="legality_review"')]
    assert "is in no lane" in warnings["quick_record", line_of(xml, 'id="quick_record"')]
    tasks = {t.element_id: t for t in bundle.processes[PROCESS_KEY].user_tasks}
    assert tasks["legality_review"].role is None and tasks["legality_review"].lane == "Lane_2"
    assert tasks["quick_record"].lane is None
    assert tasks["fill_application"].form_key is None


# --- refused bundles -----------------------------------------------------------------------------------


def test_a_file_that_is_not_xml_is_refused_at_the_line_lxml_reports() -> None:
    problems = refusal({"not_xml.bpmn": (BAD / "not_xml.bpmn").read_bytes()})

    [problem] = problems
    assert problem.file == "not_xml.bpmn"
    assert problem.line == 5
    assert "not well-formed XML" in problem.message
    assert "Opening and ending tag mismatch" in problem.message


def test_xml_that_is_not_bpmn_is_refused() -> None:
    [problem] = refusal({"not_bpmn.bpmn": (BAD / "not_bpmn.bpmn").read_bytes()})

    assert problem.file == "not_bpmn.bpmn"
    assert problem.line == 2
    assert "not BPMN 2.0" in problem.message
    assert "<svg>" in problem.message


def test_a_dmn_file_named_bpmn_and_a_bpmn_file_named_dmn_are_refused_with_a_hint() -> None:
    files = {
        "change_route.bpmn": (GOOD / "change_route.dmn").read_bytes(),
        "committee_change.dmn": (GOOD / PROCESS_FILE).read_bytes(),
    }

    problems = refusal(files)

    assert "name it .dmn" in problem_at(problems, "change_route.bpmn", None).message
    assert "name it .bpmn" in problem_at(problems, "committee_change.dmn", None).message


def test_a_call_to_a_process_that_exists_nowhere_is_refused_at_the_call_activity() -> None:
    text = (BAD / "missing_called_process.bpmn").read_text(encoding="utf-8")

    problems = refusal({"missing_called_process.bpmn": text.encode()})

    problem = problem_at(problems, "missing_called_process.bpmn", "consult_residents")
    assert problem.line == line_of(text, 'id="consult_residents"')
    assert "resident_consultation" in problem.message
    assert "neither in this bundle nor deployed earlier" in problem.message


@pytest.mark.parametrize("value", ["P1X", "PT", "P", "P2W3D", "R/P", "2026-13-40"])
def test_a_timer_that_looks_iso_but_is_not_is_refused_at_the_timer(value: str) -> None:
    xml = edited("<bpmn:timeDuration>P3D</bpmn:timeDuration>", f"<bpmn:timeDuration>{value}</bpmn:timeDuration>")

    problems = refusal(with_process(xml))

    problem = problem_at(problems, PROCESS_FILE, "review_overdue")
    assert problem.line == line_of(xml, "<bpmn:timeDuration>")
    assert "三日未审" in problem.message
    assert value in problem.message
    assert "P3D" in problem.message  # an example of what to write


def test_a_quoted_timer_value_is_checked_as_well() -> None:
    xml = edited("<bpmn:timeDuration>P3D</bpmn:timeDuration>", '<bpmn:timeDuration>"P1X"</bpmn:timeDuration>')

    problem = problem_at(refusal(with_process(xml)), PROCESS_FILE, "review_overdue")

    assert "'P1X' is not a duration" in problem.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-01T09:00:00+08:00", "is a date"),
        ("R/P1D", "is a cycle"),
        ("3600", "number"),
        ("__import__('os').system('id')", "cannot run"),
    ],
)
def test_a_timer_of_the_wrong_kind_or_an_unsafe_expression_is_refused(text: str, expected: str) -> None:
    xml = edited("<bpmn:timeDuration>P3D</bpmn:timeDuration>", f"<bpmn:timeDuration>{text}</bpmn:timeDuration>")

    problem = problem_at(refusal(with_process(xml)), PROCESS_FILE, "review_overdue")

    assert expected in problem.message


def test_a_user_task_whose_form_exists_nowhere_is_refused_at_the_task() -> None:
    xml = edited('value="change_application"', 'value="residence_proof"')

    problems = refusal(with_process(xml), known_forms={"household_register"})

    [problem] = problems
    assert (problem.file, problem.element_id) == (PROCESS_FILE, "fill_application")
    assert problem.line == line_of(xml, 'id="fill_application"')
    assert "residence_proof" in problem.message
    assert "neither in this bundle nor deployed earlier" in problem.message


def test_an_xxe_payload_is_refused_without_reading_the_named_file() -> None:
    payload = (BAD / "xxe.bpmn").read_bytes()

    with pytest.raises(BundleInvalid) as caught:
        parse_bundle({"xxe.bpmn": payload})

    [problem] = caught.value.problems
    assert (problem.file, problem.line) == ("xxe.bpmn", 2)
    assert "DOCTYPE" in problem.message
    passwd = Path("/etc/passwd").read_text(errors="replace") if Path("/etc/passwd").exists() else "root:x:0:0"
    first_entry = passwd.splitlines()[0]
    assert first_entry not in str(caught.value)
    assert "root:" not in str(caught.value)


def test_an_xxe_payload_in_utf16_is_refused_too() -> None:
    payload = (BAD / "xxe.bpmn").read_text(encoding="utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')

    [problem] = refusal({"xxe.bpmn": payload.encode("utf-16")})

    assert "DOCTYPE" in problem.message


def test_a_billion_laughs_payload_is_refused_without_expanding_it() -> None:
    [problem] = refusal({"billion_laughs.bpmn": (BAD / "billion_laughs.bpmn").read_bytes()})

    assert (problem.file, problem.line) == ("billion_laughs.bpmn", 2)
    assert "DOCTYPE" in problem.message
    assert "lollol" not in problem.message


def test_a_process_not_marked_executable_is_refused() -> None:
    xml = edited('isExecutable="true"', 'isExecutable="false"')

    problems = refusal(with_process(xml))

    problem = problem_at(problems, PROCESS_FILE, PROCESS_KEY)
    assert problem.line == line_of(xml, "<bpmn:process ")
    assert "not marked executable" in problem.message


def test_a_script_that_imports_os_is_refused_at_its_line() -> None:
    script = '<bpmn:script>size_band = "normal"\nimport os\nos.system("id")</bpmn:script>'
    xml = edited('<bpmn:script>size_band = "large" if households &gt; 3000 else "normal"</bpmn:script>', script)

    problems = refusal(with_process(xml))

    problem = problem_at(problems, PROCESS_FILE, "compute_size_band")
    assert problem.line == line_of(xml, "import os")
    assert "计算规模" in problem.message
    assert "import" in problem.message.lower()


def test_a_gateway_condition_the_sandbox_refuses_is_refused_at_its_flow() -> None:
    xml = edited('route == "full"', "route.__class__ is str")

    problem = problem_at(refusal(with_process(xml)), PROCESS_FILE, "flow_full")

    assert problem.line == line_of(xml, "<bpmn:conditionExpression")
    assert "全面审查" in problem.message


def test_a_business_rule_task_whose_decision_exists_nowhere_is_refused() -> None:
    files = good_files()
    del files["change_route.dmn"]

    problems = refusal(files)

    [problem] = problems
    assert (problem.file, problem.element_id) == (PROCESS_FILE, "decide_route")
    assert problem.line == line_of(good_xml(), 'id="decide_route"')
    assert "change_route" in problem.message


def test_a_flow_to_an_element_that_does_not_exist_is_refused_at_the_flow() -> None:
    xml = edited(
        '<bpmn:sequenceFlow id="flow_reviewed" sourceRef="legality_review" targetRef="end_filed"/>',
        '<bpmn:sequenceFlow id="flow_reviewed" sourceRef="legality_review" targetRef="end_archived"/>',
    )

    problem = problem_at(refusal(with_process(xml)), PROCESS_FILE, "flow_reviewed")

    assert problem.line == line_of(xml, 'id="flow_reviewed"')
    assert "end_archived" in problem.message


def test_a_decision_deployed_earlier_resolves_the_business_rule_task() -> None:
    files = good_files()
    library = {"change_route.dmn": files.pop("change_route.dmn")}

    bundle = parse_bundle(files, library=library)

    assert bundle.decisions == set()
    process = bundle.processes[PROCESS_KEY]
    workflow = BpmnWorkflow(process.spec, process.subprocess_specs)
    workflow.do_engine_steps()
    complete(workflow, "fill_application", reason="拆分", households=5000)
    assert [t.task_spec.bpmn_id for t in ready_user_tasks(workflow)] == ["legality_review"]


def test_a_dmn_file_with_two_decisions_is_refused() -> None:
    dmn = (GOOD / "change_route.dmn").read_text(encoding="utf-8")
    decision = dmn[dmn.index("  <decision ") : dmn.index("</definitions>")]
    second = decision.replace('id="change_route', 'id="change_scope').replace('id="in_', 'id="in2_')
    second = second.replace('id="out_', 'id="out2_').replace('id="rule_', 'id="rule2_')
    files = {**good_files(), "change_route.dmn": dmn.replace("</definitions>", second + "</definitions>").encode()}

    problem = problem_at(refusal(files), "change_route.dmn", "change_scope")

    assert "one decision per DMN file" in problem.message


def test_a_date_timer_without_utc_offset_deploys_with_a_warning() -> None:
    xml = edited("<bpmn:timeDuration>P3D</bpmn:timeDuration>", "<bpmn:timeDate>2026-12-01T09:00:00</bpmn:timeDate>")

    bundle = parse_bundle(with_process(xml))

    [warning] = bundle.warnings
    assert (warning.element_id, warning.line) == ("review_overdue", line_of(xml, "<bpmn:timeDate>"))
    assert "+08:00" in warning.message
    timer = bundle.processes[PROCESS_KEY].spec.task_specs["review_overdue"].event_definition
    assert timer.expression == "'2026-12-01T09:00:00'"


def test_a_linear_chain_of_1000_tasks_deploys() -> None:
    bundle = parse_bundle({"long_chain.bpmn": chain_of_tasks(1000)})

    spec = bundle.processes["long_chain"].spec
    assert {f"task_{n}" for n in range(1000)} <= set(spec.task_specs)
    assert [s.name for s in spec.task_specs["task_0"].outputs] == ["task_1"]


def test_a_loop_of_1000_tasks_is_refused_with_a_sentence_or_deploys() -> None:
    try:
        parse_bundle({"long_loop.bpmn": chain_of_tasks(1000, loop=True)})
    except BundleInvalid as invalid:
        [problem] = invalid.problems
        assert problem.file == "long_loop.bpmn"
        assert problem.element_id and problem.line
        assert "too long" in problem.message
        assert "RecursionError" not in problem.message


def test_duplicate_form_and_process_ids_are_refused() -> None:
    files = good_files()
    files["copy.form.json"] = files["legality_review.form.json"]
    files["copy.bpmn"] = files[PROCESS_FILE]

    problems = refusal(files)

    assert "legality_review" in problem_at(problems, "copy.form.json", None).message
    duplicate = problem_at(problems, "copy.bpmn", PROCESS_KEY)
    assert PROCESS_FILE in duplicate.message


def test_an_empty_bundle_and_unknown_kinds_of_file_are_refused() -> None:
    [empty] = refusal({})
    assert "empty" in empty.message

    [unknown] = refusal({**good_files(), "notes.docx": b"PK\x03\x04"})
    assert unknown.file == "notes.docx"
    assert ".bpmn" in unknown.message


def test_a_broken_form_is_refused_with_the_form_checkers_sentence() -> None:
    broken = json.dumps({"id": "legality_review", "type": "default", "components": "not a list"}).encode()

    problems = refusal({**good_files(), "legality_review.form.json": broken})

    # One problem, in the form file: the user tasks that use the form get no second one.
    [problem] = problems
    assert problem.file == "legality_review.form.json"
    assert "components" in problem.message


def test_problems_in_several_files_are_reported_in_one_pass() -> None:
    xml = edited('value="change_application"', 'value="residence_proof"')
    xml = xml.replace("<bpmn:timeDuration>P3D</bpmn:timeDuration>", "<bpmn:timeDuration>P1X</bpmn:timeDuration>")
    files = with_process(xml, **{"not_xml.bpmn": (BAD / "not_xml.bpmn").read_bytes()})

    problems = refusal(files)

    assert {(p.file, p.element_id) for p in problems} >= {
        (PROCESS_FILE, "fill_application"),
        (PROCESS_FILE, "review_overdue"),
        ("not_xml.bpmn", None),
    }


def test_a_truncated_or_mangled_file_is_refused_never_crashes() -> None:
    text = good_xml()
    cuts = range(0, len(text), max(1, len(text) // 60))
    mangles = [
        text.replace('targetRef="end_filed"', 'targetRef="nowhere"'),
        text.replace('sourceRef="start" ', ""),
        text.replace('attachedToRef="legality_review"', 'attachedToRef="ghost"'),
        text.replace('name="formKey" value="change_application"', 'name="formKey"'),
        text.replace('<bpmn:timerEventDefinition id="review_overdue_timer">', "<bpmn:timerEventDefinition>"),
        text.replace('id="legality_review"', 'id="quick_record"'),
        text.replace("<bpmn:startEvent", "<bpmn:intermediateThrowEvent").replace(
            "</bpmn:startEvent>", "</bpmn:intermediateThrowEvent>"
        ),
    ]
    for variant in [text[:cut] for cut in cuts] + mangles:
        try:
            parse_bundle(with_process(variant))
        except BundleInvalid as invalid:
            assert all(p.file and p.message for p in invalid.problems)


# --- ISO 8601 timer values -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("P3D", TimerKind.DURATION),
        ("PT1H", TimerKind.DURATION),
        ("P1Y2M10DT2H30M", TimerKind.DURATION),
        ("P2W", TimerKind.DURATION),
        ("PT0.5S", TimerKind.DURATION),
        ("2026-01-01", TimerKind.DATE),
        ("2026-01-01T09:00:00+08:00", TimerKind.DATE),
        ("2026-01-01T01:00:00Z", TimerKind.DATE),
        ("R/P1Y", TimerKind.CYCLE),
        ("R3/PT10M", TimerKind.CYCLE),
        ("R/2026-01-01T00:00:00/P1D", TimerKind.CYCLE),
        (" P3D\n", TimerKind.DURATION),
    ],
)
def test_parse_iso_timer_reads_what_designers_write(text: str, kind: TimerKind) -> None:
    assert parse_iso_timer(text) == kind


@pytest.mark.parametrize(
    "text", ["P1X", "PT", "P", "R/P", "R", "P1DT", "P2W1D", "P99999Y", "2026-02-30", "R/2026-01-01/2026-02-01", ""]
)
def test_parse_iso_timer_refuses_what_looks_iso_but_is_not(text: str) -> None:
    with pytest.raises(ValueError):
        parse_iso_timer(text)


# --- the BPMN MIWG conformance files ----------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(MIWG.glob("*.bpmn")) if MIWG.is_dir() else [], ids=lambda p: p.name)
def test_each_miwg_conformance_file_parses_or_is_refused_with_sentences(path: Path) -> None:
    try:
        bundle = parse_bundle({path.name: path.read_bytes()})
    except BundleInvalid as invalid:
        assert invalid.problems
        for problem in invalid.problems:
            assert problem.file == path.name
            assert problem.message.strip()
            assert "Traceback" not in problem.message
    else:
        assert isinstance(bundle, ParsedBundle)
        for process in bundle.processes.values():
            BpmnWorkflow(process.spec, process.subprocess_specs)


# --- helpers -------------------------------------------------------------------------------------------


def chain_of_tasks(count: int, loop: bool = False) -> bytes:
    """A process of `count` tasks in a row (optionally looping back to the first)."""
    nodes = ['<bpmn:startEvent id="start"/>', '<bpmn:endEvent id="end"/>']
    flows = []
    previous = "start"
    for n in range(count):
        nodes.append(f'<bpmn:task id="task_{n}" name="步骤 {n}"/>')
        flows.append(f'<bpmn:sequenceFlow id="flow_{n}" sourceRef="{previous}" targetRef="task_{n}"/>')
        previous = f"task_{n}"
    if loop:
        nodes.append('<bpmn:exclusiveGateway id="again" default="flow_out"/>')
        flows.append(f'<bpmn:sequenceFlow id="flow_again" sourceRef="{previous}" targetRef="again"/>')
        flows.append(
            '<bpmn:sequenceFlow id="flow_back" sourceRef="again" targetRef="task_0">'
            "<bpmn:conditionExpression>repeat</bpmn:conditionExpression></bpmn:sequenceFlow>"
        )
        previous = "again"
    flows.append(f'<bpmn:sequenceFlow id="flow_out" sourceRef="{previous}" targetRef="end"/>')
    body = "\n".join(nodes + flows)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="chain_defs" '
        'targetNamespace="http://govflow.example/bundles">\n'
        f'<bpmn:process id="long_{"loop" if loop else "chain"}" isExecutable="true">\n{body}\n</bpmn:process>\n'
        "</bpmn:definitions>\n"
    ).encode()
