"""`govflow rules` and `govflow registry` as an operator uses them (in-process, on a SQLite file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

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
