"""`govflow rules` and `govflow registry` as an operator uses them (in-process, on a SQLite file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from engine.cli import main


@pytest.fixture
def govflow(tmp_path: Path):  # noqa: ANN201
    env = {"GOVFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'govflow.db'}", "GOVFLOW_PASSWORD_PROFILE": "fast"}
    runner = CliRunner()

    def run(*args: str, ok: bool = True):  # noqa: ANN202
        result = runner.invoke(main, list(args), env=env)
        assert (result.exit_code == 0) is ok, result.output
        assert "Traceback" not in result.output
        return result

    run("init")
    return run


def test_an_operator_lists_shows_and_versions_rules_and_a_statute_needs_a_new_legal_basis(govflow) -> None:  # noqa: ANN001
    listed = json.loads(govflow("rules", "list", "--prefix", "deliberation.owners", "--json").output)["items"]
    assert {r["key"] for r in listed} >= {"deliberation.owners_assembly.special_approval"}
    human = govflow("rules", "list", "--prefix", "deliberation.coordination").output
    assert "deliberation.coordination_max_rounds" in human and "[A]" in human
    changed = json.loads(
        govflow(
            "--json", "rules", "set", "deliberation.coordination_max_rounds", "--value", "4", "--from", "2027-01-01"
        ).output
    )
    assert (changed["version"], changed["value"]) == (2, 4)
    shown = json.loads(govflow("rules", "show", "deliberation.coordination_max_rounds", "--json").output)
    assert [v["valid_to"] for v in shown["versions"]] == ["2026-12-31", None]
    refused = govflow(
        "rules", "set", "deliberation.residents_assembly.quorum", "--value", "> 1/3", "--from", "2027-01-01", ok=False
    )
    assert "statutory" in refused.output
    assert "no rule" in govflow("rules", "show", "no.such.rule", ok=False).output


def test_an_operator_reads_the_registries(govflow) -> None:  # noqa: ANN001
    govflow("init", "--demo")
    committees = json.loads(govflow("registry", "committees", "--json").output)["items"]
    assert {c["org_unit"] for c in committees} == {"qiaoyi", "ruinan", "yunnan", "xinye"}
    assert "elderly_care_subsidy" in govflow("registry", "items").output
    items = json.loads(govflow("registry", "items", "--json").output)["items"]
    assert {i["code"]: i["competent_level"] for i in items}["special_hardship_support"] == "district"
    matters = json.loads(govflow("registry", "matters", "--json").output)
    assert matters["version"] == 1 and "household_verification_assist" in {m["code"] for m in matters["matters"]}
    assert "No filings." in govflow("registry", "conventions").output
    assert json.loads(govflow("registry", "benefits", "--json").output) == {"items": []}
    assert "has versions 1 to 1" in govflow("registry", "matters", "--version", "3", ok=False).output


def test_statutory_numbers_no_step_uses_yet_are_listed_and_an_old_citation_is_corrected_on_init(
    govflow, tmp_path: Path
) -> None:  # noqa: ANN001
    listed = json.loads(govflow("rules", "list", "--prefix", "composition.", "--json").output)["items"]
    assert {r["key"]: r["value"] for r in listed}["composition.supervision_committee.members"] == [3, 7]
    human = govflow("rules", "list", "--prefix", "deliberation.elevator_retrofit").output
    assert "max_subsidy_yuan" in human and "240000" in human and "[A]" in human
    assert (
        "deliberation.village_query_answer_days" in govflow("rules", "list", "--prefix", "deliberation.village_").output
    )

    # A database seeded by an earlier release still cites 沪民基发〔2021〕7号 for the disability amounts.
    sql = create_engine(f"sqlite:///{tmp_path / 'govflow.db'}")
    with sql.begin() as conn:
        conn.execute(
            text(
                "UPDATE rule_set SET law = '沪民基发〔2021〕7号' WHERE key = 'service.severe_disability.monthly_amount'"
            )
        )
        conn.execute(
            text("UPDATE rule_set SET law = '管理员的依据', changed_by = 'admin' WHERE key = 'admission.review_days'")
        )
    sql.dispose()
    govflow("init")
    shown = json.loads(govflow("rules", "show", "service.severe_disability.monthly_amount", "--json").output)
    assert [v["law"] for v in shown["versions"]] == ["上海市残疾人联合会、上海市民政局困难残疾人生活补贴标准调整"] * 2
    kept = json.loads(govflow("rules", "show", "admission.review_days", "--json").output)
    assert kept["versions"][0]["law"] == "管理员的依据"  # what an admin wrote is never changed
