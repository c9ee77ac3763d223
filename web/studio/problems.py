"""Validation findings and migration obstacles as the studio shows them: in the page's language when the
catalogue knows the check (by its code), else in the engine's own words."""

from __future__ import annotations

from web import i18n


def _params(params: dict | None) -> dict[str, str]:
    # The engine quotes names ('登记议题'); the catalogues put their own marks around them.
    return {key: str(value).strip("'") for key, value in (params or {}).items()}


def shown_problem(problem: dict, severity: str) -> dict:
    code = problem.get("code")
    message = problem["message"]
    if code:
        params = _params(problem.get("params"))
        params.setdefault("detail", message)  # checks whose reasons vary keep the engine's sentence inside
        message = i18n.t_or(f"studio.problem.{code}", message, **params)
        if params.get("role") and code == "unknown-role":
            message += i18n.t("studio.problem.did_you_mean", role=params["role"])
    return {
        "severity": severity,
        "severity_label": i18n.t(f"studio.severity.{severity}"),
        "file": problem.get("file") or "",
        "element_id": problem.get("element_id") or "",
        "line": problem.get("line"),
        "code": code or "",
        "message": message,
    }


def shown_report(report: dict) -> dict:
    """{ok, problems: errors then warnings, each with severity and a sentence, errors, warnings: counts}."""
    problems = [shown_problem(p, "error") for p in report["errors"]]
    problems += [shown_problem(p, "warning") for p in report["warnings"]]
    return {
        "ok": report["ok"],
        "problems": problems,
        "errors": len(report["errors"]),
        "warnings": len(report["warnings"]),
    }


def shown_reason(reason: dict) -> str:
    return i18n.t_or(f"studio.migrate.reason.{reason['code']}", reason["message"], name=reason.get("name") or "")
