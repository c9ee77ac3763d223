"""Known hazards of SpiffWorkflow 3.2 (issue 10): each either works or fails the case naming the element.

- A process that is a chain of a thousand steps deploys and a case runs through it (the parser and the
  library's prediction of a branch used to recurse once per element: a RecursionError, a 500).
- A multi-instance element with no collection, or a loop cardinality that is not a whole number, fails
  the case at that element with a sentence; the official's completion that led there is kept, and an
  admin's retry with the missing values finishes the case. So do a data object read before any step
  wrote it and a call activity whose called process is missing at run time.
- A library error with no sentence of its own (a bare TypeError deep in SpiffWorkflow) still names the
  element it happened in.

The long loop (2,000 rounds) is in test_long_loops.py; unquoted ISO timers in test_bundle_parsing.py and
test_timers.py; the script sandbox in test_sandbox.py and test_hostile_scripts.py.
"""

from __future__ import annotations

import pytest
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import ParallelMultiInstanceTask

from engine import Engine
from engine.spiff import multi_instance, runtime
from engine.spiff.parsing import parse_bundle
from engine.spiff.sandbox import SandboxedScriptEngine
from tests.conftest import who

NAMESPACES = (
    'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    ' xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"'
)
# The committee's own affairs: a process giving committees work must say what matter it is.
SELF_GOVERNANCE = (
    "<bpmn:extensionElements><spiffworkflow:properties>"
    '<spiffworkflow:property name="matterKind" value="self_governance"/>'
    "</spiffworkflow:properties></bpmn:extensionElements>"
)


def process(key: str, name: str, steps: list[str], extra: str = "") -> bytes:
    """A process of the residents' committee: start, `steps` in a row (each an element's XML), end."""
    ids = ["start", *[step.split('id="', 1)[1].split('"', 1)[0] for step in steps], "end"]
    flows = "".join(
        f'<bpmn:sequenceFlow id="f_{n}" sourceRef="{ids[n]}" targetRef="{ids[n + 1]}"/>' for n in range(len(ids) - 1)
    )
    refs = "".join(f"<bpmn:flowNodeRef>{i}</bpmn:flowNodeRef>" for i in ids)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {NAMESPACES} id="{key}_defs" targetNamespace="http://govflow.example/test">
  <bpmn:process id="{key}" name="{name}" isExecutable="true">
    {SELF_GOVERNANCE}
    <bpmn:laneSet id="lanes"><bpmn:lane id="residents_committee" name="居民委员会">{refs}</bpmn:lane></bpmn:laneSet>
    {extra}
    <bpmn:startEvent id="start"/>
    {"".join(steps)}
    <bpmn:endEvent id="end" name="走访结束"/>
    {flows}
  </bpmn:process>
</bpmn:definitions>""".encode()


REGISTER = '<bpmn:userTask id="register" name="登记走访对象"/>'


def visits(characteristics: str) -> str:
    return (
        '<bpmn:scriptTask id="visit_households" name="逐户走访">'
        f"<bpmn:multiInstanceLoopCharacteristics {characteristics}</bpmn:multiInstanceLoopCharacteristics>"
        "<bpmn:script>visited = household</bpmn:script></bpmn:scriptTask>"
    )


def over_households(sequential: bool) -> str:
    return (
        f'isSequential="{str(sequential).lower()}"><bpmn:loopDataInputRef>households</bpmn:loopDataInputRef>'
        '<bpmn:inputDataItem id="household"/>'
    )


def test_a_chain_of_1000_script_steps_deploys_and_a_case_runs_through_it_to_the_end(org: Engine) -> None:
    steps = [
        f'<bpmn:scriptTask id="step_{n}" name="核对第 {n} 项"><bpmn:script>checked = checked + 1</bpmn:script>'
        "</bpmn:scriptTask>"
        for n in range(1000)
    ]
    org.deploy({"checklist.bpmn": process("checklist", "千项核对", steps)}, by=who(org, "designer"))

    case = org.start("checklist", "qiaoyi", by=who(org, "wang"), variables={"checked": 0})

    assert (case["status"], case["error"]) == ("completed", None)
    assert case["variables"]["checked"] == 1000
    path = org.path(case["id"], by=who(org, "wang"))
    assert {"step_0", "step_999", "end"} <= set(path["completed"])
    assert org.verify_audit(case["id"]).ok


@pytest.mark.parametrize("sequential", [False, True], ids=["parallel", "sequential"])
def test_visits_without_a_household_list_fail_the_case_at_the_visits_and_a_retry_with_the_list_finishes_it(
    org: Engine, sequential: bool
) -> None:
    org.deploy({"visits.bpmn": process("visits", "入户走访", [REGISTER, visits(over_households(sequential))])})
    wang = who(org, "wang")
    case = org.start("visits", "qiaoyi", by=wang)

    done = org.complete(case["tasks"][0]["id"], wang, {"note": "名单待定"})  # no `households` yet

    assert done["instance"]["status"] == "failed"
    error = org.get_instance(case["id"], by=wang)["error"]
    assert (error["element_id"], error["element_name"]) == ("visit_households", "逐户走访")
    assert error["message"] == (
        "The collection 'households' that this element runs once per item of is missing from the process data."
    )
    actions = [(e["action"], e["element_id"]) for e in org.history(case["id"])]
    assert actions[-2:] == [("task_completed", "register"), ("instance_failed", "visit_households")]

    retried = org.retry(case["id"], by=who(org, "admin"), variables={"households": ["1号楼101", "1号楼102"]})

    assert (retried["status"], retried["error"]) == ("completed", None)
    assert retried["variables"]["households"] == ["1号楼101", "1号楼102"]
    assert retried["variables"]["visited"] == "1号楼102"
    assert org.verify_audit(case["id"]).ok


@pytest.mark.parametrize(
    ("households", "says"),
    [
        (None, "is None, not a list or a map"),
        (12, "is 12, not a list or a map"),
    ],
)
def test_a_household_list_that_is_not_a_list_fails_the_case_naming_the_visits(
    org: Engine, households: object, says: str
) -> None:
    org.deploy({"visits.bpmn": process("visits", "入户走访", [visits(over_households(sequential=False))])})

    case = org.start("visits", "qiaoyi", by=who(org, "wang"), variables={"households": households})

    assert case["status"] == "failed"
    assert case["error"]["element_id"] == "visit_households"
    assert says in case["error"]["message"]


@pytest.mark.parametrize(
    ("rounds", "says"),
    [
        ('"三"', "gave '三'; it must be a whole number, 0 or more"),
        ("-1", "gave -1; it must be a whole number, 0 or more"),
        ("2.5", "gave 2.5; it must be a whole number, 0 or more"),
        ("10 ** 9", "gave 1,000,000,000; an element may run at most 10,000 times"),
    ],
)
@pytest.mark.parametrize("sequential", [False, True], ids=["parallel", "sequential"])
def test_a_loop_cardinality_that_is_not_a_sound_count_fails_the_case_naming_the_element(
    org: Engine, rounds: str, says: str, sequential: bool
) -> None:
    cardinality = f'isSequential="{str(sequential).lower()}"><bpmn:loopCardinality>{rounds}</bpmn:loopCardinality>'
    step = visits(cardinality).replace("visited = household", "visited = 1")
    org.deploy({"rounds.bpmn": process("rounds", "多轮走访", [step])})

    case = org.start("rounds", "qiaoyi", by=who(org, "wang"))

    assert case["status"] == "failed"
    assert (case["error"]["element_id"], case["error"]["element_name"]) == ("visit_households", "逐户走访")
    assert says in case["error"]["message"]
    assert org.verify_audit(case["id"]).ok


def test_a_ledger_read_before_any_step_wrote_it_fails_the_reading_step_and_a_retry_with_it_finishes(
    org: Engine,
) -> None:
    reading = (
        '<bpmn:scriptTask id="count_households" name="统计户数">'
        '<bpmn:property id="ledger_in" name="ledger_in"/>'
        '<bpmn:dataInputAssociation id="read_ledger"><bpmn:sourceRef>ledger_ref</bpmn:sourceRef>'
        "<bpmn:targetRef>ledger_in</bpmn:targetRef></bpmn:dataInputAssociation>"
        "<bpmn:script>households = len(ledger)</bpmn:script></bpmn:scriptTask>"
    )
    ledger = (
        '<bpmn:dataObject id="ledger" name="台账"/><bpmn:dataObjectReference id="ledger_ref" dataObjectRef="ledger"/>'
    )
    org.deploy({"ledger.bpmn": process("ledger_count", "台账统计", [reading], extra=ledger)})

    case = org.start("ledger_count", "qiaoyi", by=who(org, "wang"))

    assert case["status"] == "failed"
    assert (case["error"]["element_id"], case["error"]["line"]) == ("count_households", 1)
    assert "TypeError" in case["error"]["message"]
    retried = org.retry(case["id"], by=who(org, "admin"), variables={"ledger": ["甲", "乙", "丙"]})
    assert retried["status"] == "completed" and retried["variables"]["households"] == 3


CALLING = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {NAMESPACES} id="calling_defs" targetNamespace="http://govflow.example/test">
  <bpmn:process id="annual_review" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:callActivity id="call_inspection" name="调用入户核查" calledElement="home_inspection"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call_inspection"/>
    <bpmn:sequenceFlow id="f2" sourceRef="call_inspection" targetRef="end"/>
  </bpmn:process>
  <bpmn:process id="home_inspection" isExecutable="true">
    <bpmn:startEvent id="inspection_start"/>
    <bpmn:endEvent id="inspection_end"/>
    <bpmn:sequenceFlow id="g1" sourceRef="inspection_start" targetRef="inspection_end"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


def test_a_call_activity_whose_process_is_missing_at_run_time_fails_naming_the_call_activity() -> None:
    """Deploy refuses a call to a process that exists nowhere; a spec stored without it fails, it does not crash."""
    parsed = parse_bundle({"calling.bpmn": CALLING}).processes["annual_review"]
    assert "home_inspection" in parsed.subprocess_specs  # as deployed: the run below drops it
    workflow = runtime.new_workflow(parsed.spec, {}, SandboxedScriptEngine())

    failure = runtime.run_engine(workflow, [])

    assert failure is not None
    assert (failure.element_id, failure.element_name) == ("call_inspection", "调用入户核查")
    assert "home_inspection" in failure.message and "not found" in failure.message


def test_a_bare_type_error_deep_in_the_library_still_names_the_element(monkeypatch: pytest.MonkeyPatch) -> None:
    """The library's own parallel multi-instance, without govflow's check, fails with a bare TypeError."""
    monkeypatch.setattr(ParallelMultiInstanceTask, "create_children", multi_instance._parallel_create_children)
    bpmn = process("visits", "入户走访", [visits(over_households(sequential=False))])
    parsed = parse_bundle({"visits.bpmn": bpmn}).processes["visits"]
    workflow = runtime.new_workflow(parsed.spec, parsed.subprocess_specs, SandboxedScriptEngine())

    failure = runtime.run_engine(workflow, [])

    assert failure is not None
    assert (failure.element_id, failure.element_name) == ("visit_households", "逐户走访")
    assert failure.message == "The engine could not run “逐户走访”: TypeError: 'NoneType' object is not iterable"


def test_a_script_that_piles_up_memory_fails_its_step_within_the_budget_and_the_next_case_runs(org: Engine) -> None:
    hoard = (
        '<bpmn:scriptTask id="collect_records" name="汇总台账">'
        "<bpmn:script>records = []\nwhile True:\n    records.append('记' * 3000000)</bpmn:script></bpmn:scriptTask>"
    )
    org.deploy({"hoard.bpmn": process("hoard", "汇总台账", [hoard])})
    org.deploy({"visits.bpmn": process("visits", "入户走访", [REGISTER])})

    case = org.start("hoard", "qiaoyi", by=who(org, "wang"))

    assert case["status"] == "failed"
    assert case["error"]["element_id"] == "collect_records"
    limit = org.settings.script_memory_limit
    assert f"Script used more than {limit} MB of memory and was stopped" in case["error"]["message"]
    assert org.start("visits", "qiaoyi", by=who(org, "wang"))["status"] == "running"
