"""The `govflow` command: set up, deploy, start, work tasks and verify the audit trail from a shell."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from engine.cli.calendar import calendar
from engine.cli.records import registry, rules
from engine.cli.support import command_errors, emit, engine_of, json_option
from engine.errors import GovflowError


@click.group()
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the REST API's shapes) for scripts.")
@click.pass_context
def main(ctx: click.Context, as_json: bool) -> None:
    """govflow: a persistent BPMN workflow engine for grassroots-governance procedures."""
    ctx.ensure_object(dict)
    ctx.obj["json"] = as_json


@main.command()
@click.option("--demo", is_flag=True, help="Also load the demo org, users and the process library.")
@json_option
@click.pass_context
@command_errors
def init(ctx: click.Context, demo: bool) -> None:
    """Create or upgrade the database schema (and load the demo)."""
    from engine import migrate
    from engine.db import maintenance_warnings

    engine = engine_of(ctx)
    migrate.upgrade(engine.sql)
    result: dict[str, Any] = {
        "database": engine.dialect,
        "migrated": True,
        "calendar_years_added": engine.seed_calendar(),
        "procedure_data_added": engine.seed_procedure_data(),
        "warnings": maintenance_warnings(engine.sql),
    }
    if demo:
        from engine.demo import load_demo

        result["demo"] = load_demo(engine, Path.cwd())
    emit(ctx, result, _human_init)


def _human_init(result: dict) -> str:
    lines = [f"Database ready ({result['database']})."]
    lines += [f"warning: {warning}" for warning in result["warnings"]]
    demo = result.get("demo")
    if demo:
        lines.append(f"Demo org: {demo['org_units']} org units.")
        for process in demo["processes"]:
            state = "unchanged" if process["unchanged"] else "deployed"
            lines.append(f"Process {process['key']} version {process['version']} {state}.")
        lines.append("Demo logins (password for all: " + demo["password"] + "):")
        for user in demo["users"]:
            lines.append(f"  {user['username']:<18} {user['role']:<26} {user['org_unit']:<14} {user['name']}")
    return "\n".join(lines)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn worker processes")
@json_option
@click.pass_context
@command_errors
def serve(ctx: click.Context, host: str, port: int, workers: int) -> None:
    """Serve the REST API and the workspace with gunicorn (a production WSGI server)."""
    from engine.serve import run_gunicorn

    serving = {"url": f"http://{host}:{port}", "workers": max(1, workers), "warnings": _server_warnings()}
    emit(
        ctx,
        serving,
        lambda s: "\n".join(
            [f"warning: {w}" for w in s["warnings"]]
            + [f"Serving {s['url']} with {s['workers']} gunicorn worker(s); Ctrl-C stops."]
        ),
    )
    run_gunicorn(host, port, workers)


def _server_warnings() -> list[str]:
    """The database server's settings that will slow govflow down; none when it cannot be reached now."""
    from sqlalchemy.exc import DBAPIError

    from engine.config import Settings
    from engine.db import maintenance_warnings, make_sql_engine

    sql = make_sql_engine(Settings.from_env().database_url)
    try:
        return maintenance_warnings(sql)
    except DBAPIError:  # the workers answer 503 until it is back, as they would later
        return []
    finally:
        sql.dispose()


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--user", "username", default=None, help="Deploy as this designer (default: the operator).")
@json_option
@click.pass_context
@command_errors
def deploy(ctx: click.Context, files: tuple[Path, ...], username: str | None) -> None:
    """Deploy a bundle of .bpmn, .dmn and .form.json files (all or nothing)."""
    engine = engine_of(ctx)
    by = engine.principal(username) if username else None
    result = engine.deploy({f.name: f.read_bytes() for f in files}, by=by)
    emit(
        ctx,
        result,
        lambda r: "\n".join(
            [f"Deployment {r['id']}"]
            + [f"  {p['key']} version {p['version']}{' (unchanged)' if p['unchanged'] else ''}" for p in r["processes"]]
            + [f"  form {f['id']} version {f['version']}" for f in r["forms"]]
            + [f"  warning: {w['file']} [{w['element_id']}]: {w['message']}" for w in r["warnings"]]
        ),
    )


@main.group()
def org() -> None:
    """Org units."""


@org.command("add")
@click.argument("code")
@click.option("--name", required=True)
@click.option("--level", required=True, type=click.Choice(["city", "district", "subdistrict", "township", "committee"]))
@click.option("--parent", default=None)
@click.option("--kind", default=None, type=click.Choice(["residents", "villagers"]), help="for committees")
@json_option
@click.pass_context
@command_errors
def org_add(ctx: click.Context, code: str, name: str, level: str, parent: str | None, kind: str | None) -> None:
    """Add an org unit under its parent."""
    result = engine_of(ctx).add_org_unit(code, name, level, parent, kind)
    emit(ctx, result, lambda u: f"Org unit {u['code']} ({u['name']}, {u['level']}) added.")


@org.command("list")
@json_option
@click.pass_context
@command_errors
def org_list(ctx: click.Context) -> None:
    """List org units."""
    units = engine_of(ctx).list_org_units()
    emit(
        ctx,
        {"items": units},
        lambda r: "\n".join(
            f"{u['code']:<16} {u['level']:<12} {u['parent'] or '-':<16} {u['name']}" for u in r["items"]
        ),
    )


@main.group()
def user() -> None:
    """Users and their roles."""


@user.command("add")
@click.argument("username")
@click.option("--password", required=True)
@click.option("--org", "org_code", required=True, help="the org unit where the roles are held")
@click.option("--role", "roles", multiple=True, required=True)
@click.option("--name", "display_name", default=None)
@json_option
@click.pass_context
@command_errors
def user_add(
    ctx: click.Context,
    username: str,
    password: str,
    org_code: str,
    roles: tuple[str, ...],
    display_name: str | None,
) -> None:
    """Add a user holding ROLEs at an org unit."""
    result = engine_of(ctx).add_user(username, password, [(r, org_code) for r in roles], display_name)
    emit(
        ctx,
        result,
        lambda u: f"User {u['username']} added with " + ", ".join(f"{r['role']}@{r['org_unit']}" for r in u["roles"]),
    )


def _parse_var(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise GovflowError(f"--var expects k=v, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


@main.command()
@click.argument("key")
@click.option("--org", "org_code", required=True)
@click.option("--var", "variables", multiple=True, help="k=v; v is read as JSON when it parses, else text")
@click.option("--business-key", default=None)
@click.option("--version", type=int, default=None, help="pin a version (default: latest)")
@click.option("--user", "username", default=None, help="start as this user (default: the operator)")
@json_option
@click.pass_context
@command_errors
def start(
    ctx: click.Context,
    key: str,
    org_code: str,
    variables: tuple[str, ...],
    business_key: str | None,
    version: int | None,
    username: str | None,
) -> None:
    """Start an instance of process KEY for an org unit."""
    engine = engine_of(ctx)
    by = engine.principal(username) if username else None
    result = engine.start(
        key,
        org_code,
        by=by,
        business_key=business_key,
        variables=dict(_parse_var(v) for v in variables),
        version=version,
    )
    emit(ctx, result, _human_instance)


def _human_instance(i: dict) -> str:
    lines = [f"Instance {i['id']}: {i['process_key']} v{i['version']} {i['status']} ({i['org_unit']})"]
    if i.get("error"):
        e = i["error"]
        lines.append(f"  failed at {e.get('element_id')} line {e.get('line')}: {e.get('message')}")
    for t in i.get("tasks", []):
        lines.append(f"  task {t['id']} {t['name']} -> {t['candidate']['role']}@{t['candidate']['org_unit']}")
    return "\n".join(lines)


@main.command()
@click.option("--user", "username", required=True)
@click.option("--scope", default="all", type=click.Choice(["mine", "candidate", "all"]), show_default=True)
@click.option("--status", default="open", type=click.Choice(["open", "completed"]), show_default=True)
@json_option
@click.pass_context
@command_errors
def tasks(ctx: click.Context, username: str, scope: str, status: str) -> None:
    """The task inbox of a user."""
    engine = engine_of(ctx)
    items = engine.inbox(engine.principal(username), scope=scope, status=status, limit=500)["items"]
    emit(
        ctx,
        {"items": items, "next_cursor": None},
        lambda r: (
            "\n".join(
                f"{t['id']}  {t['process_key']:<20} {t['name']:<20} {t['assignee'] or '-':<10} "
                f"{t['candidate']['role']}@{t['candidate']['org_unit']}"
                for t in r["items"]
            )
            or "No tasks."
        ),
    )


@main.command()
@click.argument("task_id")
@click.option("--user", "username", required=True)
@click.option("--data", default="{}", help="the form data as a JSON object")
@json_option
@click.pass_context
@command_errors
def complete(ctx: click.Context, task_id: str, username: str, data: str) -> None:
    """Complete a task as USER with form DATA."""
    try:
        values = json.loads(data)
    except json.JSONDecodeError as exc:
        raise GovflowError(f"--data is not valid JSON: {exc.msg} at character {exc.pos}") from exc
    engine = engine_of(ctx)
    result = engine.complete(task_id, engine.principal(username), values)
    emit(
        ctx,
        result,
        lambda r: "\n".join(
            [f"Completed. Instance {r['instance']['id']} is {r['instance']['status']}."]
            + [
                f"  next: {t['id']} {t['name']} -> {t['candidate']['role']}@{t['candidate']['org_unit']}"
                for t in r["next_tasks"]
            ]
        ),
    )


@main.command()
@click.argument("instance_id")
@json_option
@click.pass_context
@command_errors
def show(ctx: click.Context, instance_id: str) -> None:
    """Show an instance with its open tasks."""
    emit(ctx, engine_of(ctx).get_instance(instance_id), _human_instance)


@main.command()
@click.argument("instance_id")
@click.option("--var", "variables", multiple=True, help="k=v fixes applied before the retry")
@json_option
@click.pass_context
@command_errors
def retry(ctx: click.Context, instance_id: str, variables: tuple[str, ...]) -> None:
    """Retry a failed instance (after a fix), optionally setting variables first."""
    result = engine_of(ctx).retry(instance_id, variables=dict(_parse_var(v) for v in variables))
    emit(ctx, result, _human_instance)


@main.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
@click.option("--instance", "instance_id", default=None)
@json_option
@click.pass_context
@command_errors
def audit_verify(ctx: click.Context, instance_id: str | None) -> None:
    """Recompute the hash chains; exit 1 naming every broken row and when it was written."""
    result = engine_of(ctx).verify_audit(instance_id)
    emit(
        ctx,
        result.as_dict(),
        lambda r: (
            f"Audit trail intact: {r['checked']} events checked."
            if r["ok"]
            else "\n".join(
                [f"Audit trail BROKEN ({r['checked']} events checked):"]
                + [
                    f"  {b['stream']} row {b['seq']}"
                    + (f" (written {b['at']})" if b["at"] else "")
                    + f": {b['reason']}"
                    for b in r["broken"]
                ]
            )
        ),
    )
    if not result.ok:
        sys.exit(1)


@audit.command("history")
@click.argument("instance_id")
@json_option
@click.pass_context
@command_errors
def audit_history(ctx: click.Context, instance_id: str) -> None:
    """Every audit event of an instance, in order."""
    items = engine_of(ctx).history(instance_id)
    emit(
        ctx,
        {"items": items},
        lambda r: "\n".join(
            f"{e['seq']:>4} {e['at']} {e['actor']['username']:<12} {e['action']:<20} {e['element_id'] or ''}"
            for e in r["items"]
        ),
    )


main.add_command(calendar)

# rule tables and registries (engine/cli/records.py)
main.add_command(rules)
main.add_command(registry)

# --- time and events: the worker and its jobs ---------------------------------------------------------
from engine.cli.jobs import jobs, worker  # noqa: E402

main.add_command(worker)
main.add_command(jobs)

# --- the designer studio: moving running instances to a newer version -------------------------------
from engine.cli.studio import migrate as _migrate_instances  # noqa: E402

main.add_command(_migrate_instances, name="migrate")


# --- admins' operations on people and units: user list|show|rename|disable|enable|password|roles, org rename -----
from engine.cli.people import register as _register_people_commands  # noqa: E402

_register_people_commands(user, org)


# --- the auditor workspace: verify-export, public-key, retention, purge ------------------------------
from engine.cli.auditing import register as _register_audit_commands  # noqa: E402

_register_audit_commands(audit)

if __name__ == "__main__":
    main()
