"""Unit tests for `forms`: compiling form-js JSON and validating submissions against it."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from forms import (
    CompiledForm,
    FieldError,
    FormDefinitionInvalid,
    SubmissionInvalid,
    compile_form,
    feel,
    load_form,
)

FORMS = Path(__file__).parent / "data" / "forms"


def read_form(name: str) -> CompiledForm:
    path = FORMS / f"{name}.form.json"
    return compile_form(load_form(path.read_bytes(), path.name))


@pytest.fixture(scope="module")
def issue_form() -> CompiledForm:
    return read_form("register_issue")


@pytest.fixture(scope="module")
def meeting_form() -> CompiledForm:
    return read_form("meeting_resolution")


def a_valid_issue(**changes: Any) -> dict[str, Any]:
    data = {
        "title": "3号楼加装电梯",
        "description": "多位老年居民提出加装电梯的诉求。",
        "category": "self_governance",
        "proposer_count": 12,
        "proposer_basis": "households",
        "received_on": "2024-05-06",
        "urgent": False,
        "areas": ["building_1"],
        "attachments": [{"name": "居民联名信", "url": "https://files.example.cn/letter.pdf"}],
    }
    data.update(changes)
    return data


def a_valid_meeting(**changes: Any) -> dict[str, Any]:
    data = {
        "meeting": {"held_at": "2024-05-06T19:30+08:00", "location": "居委会活动室"},
        "attendees": 30,
        "votes_for": 21,
        "votes_against": 5,
        "outcome": "passed",
        "confirmed": True,
    }
    data.update(changes)
    return data


def errors_of(form: CompiledForm, data: Any, **kwargs: Any) -> list[tuple[str, str]]:
    with pytest.raises(SubmissionInvalid) as caught:
        form.validate(data, **kwargs)
    return [(e.field, e.code) for e in caught.value.errors]


def problems_of(schema: Any) -> list[str]:
    with pytest.raises(FormDefinitionInvalid) as caught:
        compile_form(schema)
    return caught.value.problems


def form_with(*components: dict, form_id: str = "test_form") -> dict:
    return {"id": form_id, "type": "default", "components": list(components)}


# --- loading and compiling -------------------------------------------------------------------


def test_example_forms_compile_under_the_id_a_user_task_names(issue_form, meeting_form):
    assert issue_form.id == "register_issue"
    assert meeting_form.id == "meeting_resolution"


def test_fields_list_key_type_label_and_required_in_form_order(issue_form):
    fields = {f.key: f for f in issue_form.fields}
    assert [f.key for f in issue_form.fields][:3] == ["title", "description", "category"]
    assert fields["title"].label == "议题标题"
    assert fields["title"].required is True
    assert fields["description"].required is False
    assert fields["category"].type == "select"
    assert [o.value for o in fields["category"].options] == [
        "self_governance",
        "owners_matter",
        "government_referral",
        "convention",
    ]
    assert fields["category"].options[1].label == "业主共同事项"
    assert fields["owners_resolution_no"].hide_condition == '=category != "owners_matter"'
    assert fields["registrar"].readonly is True
    assert fields["attachments"].type == "dynamiclist"
    assert fields["attachments.*.url"].required is True


def test_display_only_components_are_not_fields(issue_form, meeting_form):
    types = {f.type for f in issue_form.fields + meeting_form.fields}
    assert types.isdisjoint({"text", "html", "separator", "spacer", "button", "expression", "group"})


def test_nested_group_fields_carry_their_path(meeting_form):
    keys = [f.key for f in meeting_form.fields]
    assert "meeting.held_at" in keys
    assert "speakers.*.email" in keys
    chair = next(f for f in meeting_form.fields if f.key == "chair")
    assert chair.options is None and chair.options_source == "committee_members"


def test_text_that_is_not_json_is_refused_with_line_and_column():
    with pytest.raises(FormDefinitionInvalid) as caught:
        load_form('{"id": "x", "components": [}', "broken.form.json")
    (problem,) = caught.value.problems
    assert "'broken.form.json' is not valid JSON" in problem
    assert "line 1" in problem


def test_json_that_is_not_an_object_is_refused():
    with pytest.raises(FormDefinitionInvalid, match="must be a JSON object, not a list"):
        load_form("[1, 2]")


def test_a_form_without_id_is_refused_with_the_reason():
    with pytest.raises(FormDefinitionInvalid) as caught:
        load_form(json.dumps({"components": []}))
    assert caught.value.problems == [
        'The form definition has no "id"; a BPMN user task names the form by this id (its formKey).'
    ]


def test_components_that_are_not_a_list_are_refused():
    with pytest.raises(FormDefinitionInvalid, match='"components" to be a list'):
        load_form(json.dumps({"id": "x", "components": {"type": "textfield"}}))


def test_bytes_with_a_utf8_bom_load_and_other_encodings_are_refused():
    text = json.dumps({"id": "议题", "components": []}, ensure_ascii=False)
    assert load_form(b"\xef\xbb\xbf" + text.encode("utf-8"))["id"] == "议题"
    with pytest.raises(FormDefinitionInvalid, match="not UTF-8"):
        load_form(text.encode("gbk"))


def test_the_same_name_twice_in_one_json_object_is_refused():
    with pytest.raises(FormDefinitionInvalid, match="'key' appears twice"):
        load_form('{"id": "x", "components": [{"type": "textfield", "key": "a", "key": "b"}]}')


def test_nan_is_not_accepted_as_json():
    with pytest.raises(FormDefinitionInvalid, match="NaN"):
        load_form('{"id": "x", "components": [], "n": NaN}')


def test_bad_regex_pattern_names_the_component():
    problems = problems_of(
        form_with({"type": "textfield", "key": "code", "id": "Field_1", "validate": {"pattern": "[A-Z"}})
    )
    assert len(problems) == 1
    assert problems[0].startswith("The textfield 'code' (id 'Field_1') has the pattern '[A-Z'")
    assert "not a valid regular expression" in problems[0]


def test_duplicate_keys_name_both_components():
    problems = problems_of(
        form_with(
            {"type": "textfield", "key": "title", "id": "Field_1"},
            {"type": "textarea", "key": "title", "id": "Field_2"},
        )
    )
    assert problems == [
        "The textarea 'title' (id 'Field_2') uses the key 'title', "
        "which the textfield 'title' (id 'Field_1') already uses."
    ]


def test_a_key_inside_a_dynamic_list_may_repeat_a_top_level_key():
    form = compile_form(
        form_with(
            {"type": "textfield", "key": "name"},
            {"type": "dynamiclist", "path": "items", "components": [{"type": "textfield", "key": "name"}]},
        )
    )
    assert [f.key for f in form.fields] == ["name", "items", "items.*.name"]


def test_a_key_used_for_a_value_and_as_a_group_path_conflicts():
    problems = problems_of(
        form_with(
            {"type": "textfield", "key": "address"},
            {"type": "group", "path": "address", "components": [{"type": "textfield", "key": "city"}]},
        )
    )
    assert problems == [
        "The group 'address' needs 'address' for its value, but the textfield 'address' uses it differently."
    ]


def test_unknown_validate_key_is_refused():
    problems = problems_of(form_with({"type": "textfield", "key": "a", "validate": {"mustBeNice": True}}))
    assert problems == ["The textfield 'a' has the unknown validation rule 'mustBeNice'."]


def test_a_rule_that_does_not_fit_the_field_type_is_refused():
    problems = problems_of(form_with({"type": "number", "key": "n", "validate": {"pattern": "^1"}}))
    assert problems == ["The validation rule 'pattern' does not apply to the number 'n'."]


def test_a_select_without_values_is_refused():
    problems = problems_of(form_with({"type": "select", "key": "category", "label": "类别"}))
    assert problems == [
        'The select \'category\' offers no options; give it "values", "valuesKey" or "valuesExpression".'
    ]


def test_an_option_value_listed_twice_is_refused():
    values = [{"label": "甲", "value": "a"}, {"label": "乙", "value": "a"}]
    problems = problems_of(form_with({"type": "radio", "key": "r", "values": values}))
    assert problems == ["The radio 'r' lists the option value 'a' twice."]


def test_a_component_type_the_server_does_not_know_is_refused():
    problems = problems_of(form_with({"type": "filepicker", "key": "upload", "id": "Field_9"}))
    assert problems == ["The component at components[0] has type 'filepicker', which this server cannot validate."]


def test_an_input_without_key_is_refused():
    problems = problems_of(form_with({"type": "textfield", "id": "Field_3", "label": "姓名"}))
    assert problems == ["The textfield with id 'Field_3' has no key; it needs one to carry a value."]


def test_min_above_max_is_refused():
    problems = problems_of(form_with({"type": "number", "key": "n", "validate": {"min": 10, "max": 1}}))
    assert problems == ["The number 'n' has min 10 above max 1."]


def test_datetime_needs_a_known_subtype():
    problems = problems_of(form_with({"type": "datetime", "key": "d", "subtype": "week"}))
    assert problems == ["The datetime 'd' needs \"subtype\" to be one of date, time or datetime."]


def test_two_components_with_the_same_id_are_refused():
    problems = problems_of(
        form_with({"type": "textfield", "key": "a", "id": "Field_1"}, {"type": "text", "id": "Field_1"})
    )
    assert problems == ["The text with id 'Field_1' reuses the id 'Field_1' of the textfield 'a' (id 'Field_1')."]


def test_every_problem_of_a_form_is_reported_at_once():
    problems = problems_of(
        {
            "id": "x",
            "components": [
                {"type": "textfield", "key": "a", "validate": {"pattern": "("}},
                {"type": "select", "key": "b"},
                {"type": "textfield", "key": "a"},
            ],
        }
    )
    assert len(problems) == 3


@pytest.mark.parametrize(
    "schema",
    [
        None,
        [],
        "form",
        {"id": 5, "components": []},
        {"id": "x", "components": [1, None, "text", []]},
        form_with({"type": 5}),
        form_with({"type": "group", "components": "nope"}),
        form_with({"type": "dynamiclist", "components": []}),
        form_with({"type": "select", "key": "s", "values": [{}, {"value": {"a": 1}}, None]}),
        form_with({"type": "select", "key": "s", "values": "a,b"}),
        form_with({"type": "textfield", "key": "a", "validate": ["required"]}),
        form_with({"type": "textfield", "key": "a", "validate": {"minLength": "many"}}),
        form_with({"type": "textfield", "key": "a", "validate": {"validationType": ["email"]}}),
        form_with({"type": "textfield", "key": "a", "validate": {"pattern": 5, "required": "yes"}}),
        form_with({"type": "number", "key": "n", "validate": {"min": "low"}}),
        form_with({"type": "datetime", "key": "d", "subtype": {"kind": "date"}}),
        form_with({"type": "textfield", "key": "has space"}),
        form_with({"type": "textfield", "key": "a..b"}),
        form_with({"type": "textfield", "key": ["a"]}),
        form_with({"type": "textfield", "key": "a", "readonly": "sometimes"}),
    ],
)
def test_broken_definitions_raise_only_form_definition_invalid(schema):
    problems = problems_of(schema)
    assert problems and all(isinstance(p, str) and p.endswith(".") for p in problems)


def test_a_deeply_nested_definition_is_refused_not_crashed():
    component: dict = {"type": "textfield", "key": "leaf"}
    for _ in range(2000):
        component = {"type": "group", "components": [component]}
    with pytest.raises(FormDefinitionInvalid, match="too deeply"):
        compile_form(form_with(component))


def test_a_hide_condition_beyond_the_feel_subset_is_a_warning_not_a_problem(meeting_form):
    assert meeting_form.warnings == [
        "The hide condition of the textfield 'notice_location' (id 'Field_noticeAt') is beyond the FEEL "
        "this server evaluates; the field is always validated as visible."
    ]


# --- validating submissions: register_issue ---------------------------------------------------


def test_a_valid_issue_comes_back_cleaned(issue_form):
    assert issue_form.validate(a_valid_issue()) == a_valid_issue()


def test_missing_required_title_is_reported_next_to_the_field(issue_form):
    data = a_valid_issue()
    del data["title"]
    with pytest.raises(SubmissionInvalid) as caught:
        issue_form.validate(data)
    assert caught.value.errors == [FieldError("title", "This field is required.", "required")]
    assert caught.value.as_dicts() == [{"field": "title", "message": "This field is required.", "code": "required"}]


def test_a_title_of_only_spaces_counts_as_missing(issue_form):
    assert errors_of(issue_form, a_valid_issue(title="   ")) == [("title", "required")]


def test_a_title_longer_than_100_characters_is_too_long(issue_form):
    assert issue_form.validate(a_valid_issue(title="议" * 100))["title"] == "议" * 100
    with pytest.raises(SubmissionInvalid) as caught:
        issue_form.validate(a_valid_issue(title="议" * 101))
    assert caught.value.errors == [FieldError("title", "Enter at most 100 characters.", "max_length")]


def test_all_field_errors_are_reported_at_once_in_form_order(issue_form):
    data = a_valid_issue(
        title="",
        category="complaint",
        proposer_count=-1,
        proposer_basis=None,
        received_on="2024-02-30",
        contact_phone="13812345678",
    )
    assert errors_of(issue_form, data) == [
        ("title", "required"),
        ("category", "choice"),
        ("proposer_count", "min"),
        ("proposer_basis", "required"),
        ("received_on", "date"),
        ("contact_phone", "phone"),
    ]


def test_a_category_outside_the_listed_values_is_a_choice_error(issue_form):
    with pytest.raises(SubmissionInvalid) as caught:
        issue_form.validate(a_valid_issue(category="Self_Governance"))
    assert caught.value.errors == [FieldError("category", "Choose one of the offered options.", "choice")]


@pytest.mark.parametrize(("submitted", "cleaned"), [("12", 12), (" 7 ", 7), (3.0, 3), ("2.5", 2.5), (0, 0)])
def test_numbers_and_numeric_strings_become_json_numbers(issue_form, submitted, cleaned):
    value = issue_form.validate(a_valid_issue(proposer_count=submitted))["proposer_count"]
    assert value == cleaned and type(value) is type(cleaned)


@pytest.mark.parametrize("submitted", [True, "twelve", "1e999", [12], {"n": 12}, "0x10", float("nan")])
def test_booleans_and_other_non_numbers_are_type_errors(issue_form, submitted):
    with pytest.raises(SubmissionInvalid) as caught:
        issue_form.validate(a_valid_issue(proposer_count=submitted))
    assert caught.value.errors == [FieldError("proposer_count", "Enter a number.", "type")]


def test_a_negative_proposer_count_is_below_the_minimum(issue_form):
    with pytest.raises(SubmissionInvalid) as caught:
        issue_form.validate(a_valid_issue(proposer_count="-3"))
    assert caught.value.errors == [FieldError("proposer_count", "The value must be at least 0.", "min")]


@pytest.mark.parametrize(("submitted", "cleaned"), [(True, True), ("true", True), ("false", False)])
def test_checkbox_values_become_booleans(issue_form, submitted, cleaned):
    assert issue_form.validate(a_valid_issue(urgent=submitted))["urgent"] is cleaned


def test_a_checkbox_rejects_values_that_are_not_yes_or_no(issue_form):
    assert errors_of(issue_form, a_valid_issue(urgent="maybe")) == [("urgent", "type")]


def test_a_checklist_keeps_known_options_once_and_rejects_others(issue_form):
    cleaned = issue_form.validate(a_valid_issue(areas=["building_2", "common_area", "building_2"]))
    assert cleaned["areas"] == ["building_2", "common_area"]
    assert errors_of(issue_form, a_valid_issue(areas=["building_9"])) == [("areas", "choice")]
    assert errors_of(issue_form, a_valid_issue(areas="building_1")) == [("areas", "type")]


def test_a_key_that_is_not_on_the_form_is_rejected(issue_form):
    with pytest.raises(SubmissionInvalid) as caught:
        issue_form.validate(a_valid_issue(approved=True))
    assert caught.value.errors == [FieldError("approved", "This field is not on the form.", "unknown")]


def test_a_key_of_an_expression_component_is_accepted_and_kept(issue_form):
    assert issue_form.validate(a_valid_issue(title_length=6))["title_length"] == 6


def test_the_owners_resolution_number_is_hidden_unless_the_category_is_owners_matter(issue_form):
    cleaned = issue_form.validate(a_valid_issue(owners_resolution_no="not checked because hidden"))
    assert "owners_resolution_no" not in cleaned


def test_the_owners_resolution_number_is_required_for_owners_matters(issue_form):
    assert errors_of(issue_form, a_valid_issue(category="owners_matter")) == [("owners_resolution_no", "required")]
    assert errors_of(issue_form, a_valid_issue(category="owners_matter", owners_resolution_no="2024-1")) == [
        ("owners_resolution_no", "pattern")
    ]
    cleaned = issue_form.validate(a_valid_issue(category="owners_matter", owners_resolution_no="YZ-2024-007"))
    assert cleaned["owners_resolution_no"] == "YZ-2024-007"


def test_a_readonly_field_value_is_dropped_silently(issue_form):
    assert "registrar" not in issue_form.validate(a_valid_issue(registrar="张三"))


def test_dynamic_list_errors_carry_the_entry_index(issue_form):
    attachments = [
        {"name": "照片", "url": "https://files.example.cn/1.jpg"},
        {"name": "", "url": "ftp://files.example.cn/2.jpg", "size": 10},
        "not an entry",
    ]
    assert errors_of(issue_form, a_valid_issue(attachments=attachments)) == [
        ("attachments.1.name", "required"),
        ("attachments.1.url", "pattern"),
        ("attachments.1.size", "unknown"),
        ("attachments.2", "type"),
    ]


def test_a_dynamic_list_must_be_a_list(issue_form):
    assert errors_of(issue_form, a_valid_issue(attachments={"name": "x"})) == [("attachments", "type")]


def test_an_empty_dynamic_list_is_fine(issue_form):
    assert issue_form.validate(a_valid_issue(attachments=[]))["attachments"] == []


def test_optional_fields_may_be_left_out_or_empty(issue_form):
    data = a_valid_issue(description="", contact_phone=None, areas=[])
    del data["urgent"]
    cleaned = issue_form.validate(data)
    assert cleaned["description"] == "" and cleaned["contact_phone"] is None and cleaned["areas"] == []
    assert "urgent" not in cleaned


def test_an_international_phone_number_passes(issue_form):
    assert issue_form.validate(a_valid_issue(contact_phone="+8613812345678"))["contact_phone"] == "+8613812345678"


@pytest.mark.parametrize("submitted", [["title"], "title=x", None, 5])
def test_a_submission_that_is_not_an_object_is_one_error(issue_form, submitted):
    assert errors_of(issue_form, submitted) == [("", "type")]


def test_validate_does_not_change_the_submitted_data(issue_form):
    data = a_valid_issue(proposer_count="12", registrar="张三", category="owners_matter")
    before = copy.deepcopy(data)
    with pytest.raises(SubmissionInvalid):
        issue_form.validate(data)
    assert data == before


# --- validating submissions: meeting_resolution -----------------------------------------------


def test_a_valid_meeting_comes_back_cleaned(meeting_form):
    assert meeting_form.validate(a_valid_meeting()) == a_valid_meeting(votes_against="5")


def test_group_paths_nest_values_and_errors(meeting_form):
    data = a_valid_meeting(meeting={"held_at": "2024-05-06 19:30", "location": "室", "room": 3})
    assert errors_of(meeting_form, data) == [
        ("meeting.held_at", "datetime"),
        ("meeting.location", "min_length"),
        ("meeting.room", "unknown"),
    ]
    assert errors_of(meeting_form, a_valid_meeting(meeting="居委会")) == [
        ("meeting.held_at", "required"),
        ("meeting.location", "required"),
        ("meeting", "type"),
    ]


@pytest.mark.parametrize("held_at", ["2024-05-06T19:30", "2024-05-06T11:30Z", "2024-05-06T19:30:00+08:00"])
def test_datetime_values_in_form_js_formats_are_kept_as_iso_strings(meeting_form, held_at):
    meeting = {"held_at": held_at, "location": "活动室", "ended_at": "21:05"}
    assert meeting_form.validate(a_valid_meeting(meeting=meeting))["meeting"] == meeting


@pytest.mark.parametrize("ended_at", ["9:05", "24:00", "21:60", "2024-05-06T21:05"])
def test_impossible_or_malformed_times_are_rejected(meeting_form, ended_at):
    meeting = {"held_at": "2024-05-06T19:30", "location": "活动室", "ended_at": ended_at}
    with pytest.raises(SubmissionInvalid) as caught:
        meeting_form.validate(a_valid_meeting(meeting=meeting))
    assert caught.value.errors == [FieldError("meeting.ended_at", "Enter a time as HH:MM.", "time")]


def test_a_feel_maximum_reads_another_field(meeting_form):
    with pytest.raises(SubmissionInvalid) as caught:
        meeting_form.validate(a_valid_meeting(votes_for="31"))
    assert caught.value.errors == [FieldError("votes_for", "The value must be at most 30.", "max")]


def test_serialize_to_string_keeps_the_number_as_text(meeting_form):
    assert meeting_form.validate(a_valid_meeting(votes_against=" 4 "))["votes_against"] == "4"
    assert errors_of(meeting_form, a_valid_meeting(votes_against="four")) == [("votes_against", "type")]


def test_the_deferral_reason_is_required_only_when_the_outcome_is_deferred(meeting_form):
    assert "deferral_reason" not in meeting_form.validate(a_valid_meeting(deferral_reason="仍需讨论"))
    assert errors_of(meeting_form, a_valid_meeting(outcome="deferred")) == [("deferral_reason", "required")]
    cleaned = meeting_form.validate(a_valid_meeting(outcome="deferred", deferral_reason="待业委会意见"))
    assert cleaned["deferral_reason"] == "待业委会意见"


def test_follow_up_is_hidden_when_the_outcome_is_rejected(meeting_form):
    cleaned = meeting_form.validate(a_valid_meeting(outcome="rejected", follow_up=["not", "checked"]))
    assert "follow_up" not in cleaned


def test_a_field_with_a_condition_beyond_the_subset_is_validated_as_visible(meeting_form):
    assert errors_of(meeting_form, a_valid_meeting(notice_location="长" * 41)) == [("notice_location", "max_length")]
    assert meeting_form.validate(a_valid_meeting(notice_location="门口"))["notice_location"] == "门口"


def test_a_condition_inside_a_dynamic_list_reads_its_own_entry(meeting_form):
    speakers = [
        {"name": "王阿姨", "role": "resident", "email": "ignored, hidden"},
        {"name": "李科长", "role": "official"},
        {"name": "赵干事", "role": "official", "email": "zhao@street.gov.cn"},
        {"name": "钱干事", "role": "official", "email": "qian at street"},
    ]
    assert errors_of(meeting_form, a_valid_meeting(speakers=speakers)) == [
        ("speakers.1.email", "required"),
        ("speakers.3.email", "email"),
    ]
    cleaned = meeting_form.validate(a_valid_meeting(speakers=speakers[:1] + speakers[2:3]))
    assert cleaned["speakers"] == [
        {"name": "王阿姨", "role": "resident"},
        {"name": "赵干事", "role": "official", "email": "zhao@street.gov.cn"},
    ]


def test_a_required_checkbox_must_be_ticked(meeting_form):
    assert errors_of(meeting_form, a_valid_meeting(confirmed=False)) == [("confirmed", "required")]


def test_dynamic_options_accept_any_value_of_the_right_type(meeting_form):
    cleaned = meeting_form.validate(a_valid_meeting(chair="li_wei", tags=["电梯", "加装"]))
    assert cleaned["chair"] == "li_wei" and cleaned["tags"] == ["电梯", "加装"]
    assert errors_of(meeting_form, a_valid_meeting(chair={"id": 1}, tags="电梯")) == [
        ("chair", "type"),
        ("tags", "type"),
    ]


def test_a_button_key_is_not_something_a_submitter_can_send(meeting_form):
    assert errors_of(meeting_form, a_valid_meeting(submit=True)) == [("submit", "unknown")]


def test_a_hide_condition_can_read_instance_variables():
    form = compile_form(
        form_with(
            {"type": "textfield", "key": "street_opinion", "conditional": {"hide": '=stage != "street"'}},
        )
    )
    assert form.validate({"street_opinion": "同意"}) == {}
    assert form.validate({"street_opinion": "同意"}, variables={"stage": "street"}) == {"street_opinion": "同意"}


def test_a_readonly_expression_protects_the_stored_value():
    form = compile_form(
        form_with(
            {"type": "select", "key": "status", "values": ["open", "closed"], "readonly": "=locked = true"},
            {"type": "checkbox", "key": "locked", "disabled": True},
        )
    )
    assert form.validate({"status": "closed"}) == {"status": "closed"}
    assert form.validate({"status": "closed", "locked": False}, variables={"locked": True}) == {}


def test_a_hidden_group_drops_all_its_fields():
    form = compile_form(
        form_with(
            {"type": "checkbox", "key": "has_agent"},
            {
                "type": "group",
                "path": "agent",
                "conditional": {"hide": "=not(has_agent)"},
                "components": [{"type": "textfield", "key": "name", "validate": {"required": True}}],
            },
        )
    )
    assert form.validate({"has_agent": False, "agent": {"name": "x"}}) == {"has_agent": False}
    assert errors_of(form, {"has_agent": True}) == [("agent.name", "required")]
    assert form.validate({"has_agent": True, "agent": {"name": "周"}}) == {"has_agent": True, "agent": {"name": "周"}}


def test_a_readonly_expression_beyond_the_subset_keeps_the_field_read_only():
    form = compile_form(
        form_with(
            {"type": "textfield", "key": "decision", "readonly": "=is defined(decided_at)"},
            {"type": "textfield", "key": "note", "conditional": {"hide": "decided = true"}},
        )
    )
    assert form.validate({"decision": "同意", "note": "备注"}) == {"note": "备注"}
    assert len(form.warnings) == 2


def test_values_that_json_cannot_store_are_rejected(meeting_form, issue_form):
    assert errors_of(meeting_form, a_valid_meeting(chair=float("inf"))) == [("chair", "type")]
    assert errors_of(issue_form, a_valid_issue(title_length=[float("nan")])) == [("title_length", "type")]


def test_dotted_keys_nest_values_like_group_paths():
    form = compile_form(form_with({"type": "number", "key": "household.size", "validate": {"min": 1}}))
    assert form.validate({"household": {"size": "3"}}) == {"household": {"size": 3}}
    assert errors_of(form, {"household": {"size": 0}}) == [("household.size", "min")]


def test_prefill_returns_only_what_the_form_shows(meeting_form):
    variables = {
        "meeting": {"held_at": "2024-05-06T19:30", "location": "活动室", "budget": 5000},
        "attendees": 30,
        "committee_members": [{"label": "李伟", "value": "li_wei"}],
        "applicant_id_number": "310101199001010000",
        "speakers": [{"name": "王阿姨", "phone": "+8613800000000"}],
    }
    assert meeting_form.prefill(variables) == {
        "meeting": {"held_at": "2024-05-06T19:30", "location": "活动室"},
        "attendees": 30,
        "committee_members": [{"label": "李伟", "value": "li_wei"}],
        "speakers": [{"name": "王阿姨"}],
    }


def test_a_warning_text_gets_the_variables_its_template_and_hide_condition_show():
    form = compile_form(
        form_with(
            {
                "type": "text",
                "text": "拟实施日期 {{ intended_start }} 早于 {{lead_deadline}}{{#if emergency}}（应急）{{/if}}",
                "conditional": {"hide": "=not(late_request)"},
            },
            {"type": "text", "text": "=decision_reason"},
            {"type": "checkbox", "key": "request_complete", "label": "材料齐全"},
        )
    )
    variables = {
        "intended_start": "2027-01-04",
        "lead_deadline": "2027-02-01",
        "late_request": True,
        "emergency": False,
        "decision_reason": "均通过",
        "funding_amount": 20000,  # shown by no component
    }
    assert form.prefill(variables) == {k: v for k, v in variables.items() if k != "funding_amount"}


def test_field_error_as_dict_has_field_message_and_code():
    error = FieldError("items.0.name", "This field is required.", "required")
    assert error.as_dict() == {"field": "items.0.name", "message": "This field is required.", "code": "required"}


def test_the_forms_package_does_not_import_flask_or_the_engine():
    code = (
        "import sys, forms; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'flask', 'engine', 'api', 'web'}); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=FORMS.parents[2])
    assert result.returncode == 0, result.stdout + result.stderr


# --- the FEEL subset ----------------------------------------------------------------------------

DATA = {"category": "owners_matter", "count": 12, "flag": True, "address": {"city": "上海"}, "none": None}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('category = "owners_matter"', True),
        ('category != "owners_matter"', False),
        ("count > 10 and count <= 12", True),
        ("count < 10 or flag = true", True),
        ("not(count >= 12)", False),
        ('(category = "x" or count = 12) and not(flag = false)', True),
        ('address.city = "上海"', True),
        ("missing = null", True),
        ("none != null", False),
        ("count = 12.0", True),
        ("count > -1", True),
        ('count = "12"', None),  # different kinds compare to null in FEEL
        ('count > "a"', None),
        ("missing > 3", None),
        ("missing > 3 or flag", True),
        ("missing > 3 and flag", None),
        ("not(missing > 3)", None),
        ("flag", True),
        ('"a\\"b" = "a\\"b"', True),
    ],
)
def test_feel_subset_evaluates_like_feel(expression, expected):
    def lookup(path):
        value: Any = DATA
        for name in path:
            value = value.get(name) if isinstance(value, dict) else None
        return value

    assert feel.evaluate(feel.parse(expression), lookup) is expected


@pytest.mark.parametrize(
    "expression",
    [
        'list contains(tags, "a")',
        "count in [1, 2]",
        "if flag then true else false",
        "count between 1 and 3",
        "1 < count < 3",
        "count + 1 > 2",
        "'single quotes'",
        "(count > 1",
        "",
        "not flag",
        "a.",
    ],
)
def test_feel_beyond_the_subset_is_reported_as_unsupported(expression):
    with pytest.raises(feel.FeelUnsupported):
        feel.parse(expression)
