"""`govflow audit verify-export FILE`, as an auditor runs it on a copy of an export: an untouched file
passes, a file with one changed byte is refused, and so is one signed with another key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine import Engine
from tests.conftest import ROOT, who

pytestmark = pytest.mark.slow

ISSUE = {"title": "加装电梯", "proposer_count": 30, "eligible_count": 100}


def verify_export(path: Path, data_dir: Path, *options: str) -> subprocess.CompletedProcess:
    """The command as an auditor runs it, on a machine that holds the installation's key (or is given it)."""
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", "audit", "verify-export", str(path), *options],
        cwd=data_dir,
        env={k: v for k, v in os.environ.items() if k != "GOVFLOW_EXPORT_KEY"}
        | {"GOVFLOW_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def printable_case_file(engine: Engine, instance_id: str) -> bytes:
    """The printable case file as the auditor downloads it from the case page."""
    from api import create_app
    from tests.test_web import Browser

    answer = Browser(create_app({"GOVFLOW_ENGINE": engine, "TESTING": True}), "auditor").get(
        f"/audit/instances/{instance_id}/case-file?download=1"
    )
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    return answer.get_data()


def test_verify_export_accepts_an_untouched_export_and_rejects_a_changed_byte(petition: Engine, tmp_path: Path) -> None:
    instance = petition.start("petition_review", "qiaoyi", by=who(petition, "wang"), business_key="YT-1")
    petition.complete(instance["tasks"][0]["id"], who(petition, "wang"), ISSUE)
    auditor = who(petition, "auditor")
    exports = tmp_path / "exports"
    exports.mkdir()
    signed = {format: petition.signed_export(instance["id"], auditor, format=format) for format in ("json", "csv")}
    signed["html"] = printable_case_file(petition, instance["id"])
    for format, data in signed.items():
        untouched = exports / f"case.{format}"
        untouched.write_bytes(data)
        passed = verify_export(untouched, tmp_path)
        assert passed.returncode == 0, passed.stderr
        assert f"Export intact: case {instance['id']}" in passed.stdout and "Traceback" not in passed.stderr

        data = bytearray(untouched.read_bytes())
        position = data.index(b"wang")
        data[position + 1] = ord("e")  # "weng" did it, says the copy
        changed = exports / f"changed.{format}"
        changed.write_bytes(bytes(data))
        refused = verify_export(changed, tmp_path)
        assert refused.returncode == 1 and "Export REJECTED" in refused.stdout, refused.stdout
        assert "Traceback" not in refused.stderr

    # another machine, given only the public key: the same verdicts; a wrong key refuses the export
    public = petition.export_public_key()["public_key"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert verify_export(exports / "case.json", elsewhere, "--public-key", public).returncode == 0
    other = verify_export(exports / "case.json", elsewhere, "--public-key", "A" * 43 + "=")
    assert other.returncode == 1 and "not with the trusted key" in other.stdout
    keyless = verify_export(exports / "case.json", elsewhere, "--json")
    assert keyless.returncode == 1 and "--public-key" in " ".join(json.loads(keyless.stdout)["problems"])
    garbage = exports / "notes.txt"
    garbage.write_text("hello")
    assert verify_export(garbage, tmp_path).returncode == 1


def test_the_audit_commands_keep_cases_for_the_retention_purge_the_rest_and_print_the_key(
    petition: Engine, db_url: str, tmp_path: Path
) -> None:
    from tests.test_audit_workspace import ended_long_ago, reviewed_petition, tamper
    from tests.test_cli import govflow

    def cli(*args: str) -> subprocess.CompletedProcess:
        done = govflow(db_url, *args, cwd=tmp_path)  # the data directory (the signing key) is tmp_path
        assert "Traceback" not in done.stderr
        return done

    key = petition.export_public_key()
    shown = cli("audit", "public-key")
    assert shown.returncode == 0 and shown.stdout.strip() == f"{key['public_key']}  (Ed25519, key id {key['key_id']})"

    assert cli("audit", "retention").stdout.strip() == "Finished instances are kept for ever."
    refused = cli("audit", "retention", "--days", "0")
    assert refused.returncode == 1 and refused.stderr.startswith("govflow: Retention is a number of days")
    assert cli("audit", "retention", "--days", "365").stdout.strip() == "Finished instances are kept 365 days."

    old, kept = reviewed_petition(petition, "YT-OLD"), reviewed_petition(petition, "YT-KEPT")
    ended_long_ago(petition, old["id"])
    purged = cli("audit", "purge")
    assert purged.returncode == 0 and purged.stdout.startswith("Purged 1 instances that ended before "), purged.stdout
    assert petition.verify(who(petition, "auditor"))["ok"]  # the tombstone keeps the chain verifiable

    tamper(petition, "DELETE FROM audit_event WHERE stream = :s", s=kept["id"])
    emptied = cli("audit", "verify", "--instance", kept["id"])
    assert emptied.returncode == 1 and "none of its rows is left" in emptied.stdout, emptied.stdout
