"""`govflow migrate`: move running instances of a process to a newer version, or only see what would happen."""

from __future__ import annotations

import click

from engine.cli.support import command_errors, emit, engine_of, json_option


def _human_report(report: dict) -> str:
    verb = "would move" if report["dry_run"] else "moved"
    lines = []
    for item in report["instances"]:
        where = ", ".join(item["active"]) or "-"
        line = (
            f"{item['instance_id']}  v{item['from_version']} -> v{item['to_version']}  {item['outcome']:<8} at {where}"
        )
        lines.extend([line] + [f"    {r['message']}" for r in item["reasons"]])
    counts = report["counts"]
    moved = counts["ok"] if report["dry_run"] else counts["migrated"]
    lines.append(
        f"{report['process_key']} version {report['to_version']}: {verb} {moved}, blocked {counts['blocked']}."
    )
    return "\n".join(lines)


@click.command()
@click.argument("process_key")
@click.option("--to", "to_version", type=click.IntRange(1), default=None, help="target version (default: latest)")
@click.option("--from", "from_version", type=click.IntRange(1), default=None, help="only instances on this version")
@click.option("--instance", "instance_ids", multiple=True, help="only this instance (repeatable)")
@click.option("--dry-run", is_flag=True, help="say what would happen to each instance; move nothing")
@click.option("--user", "username", default=None, help="act as this designer or admin (default: the operator)")
@json_option
@click.pass_context
@command_errors
def migrate(
    ctx: click.Context,
    process_key: str,
    to_version: int | None,
    from_version: int | None,
    instance_ids: tuple[str, ...],
    dry_run: bool,
    username: str | None,
) -> None:
    """Move the unfinished instances of PROCESS_KEY to a newer version, each in its own transaction.

    An instance at or past an element the new version removes is blocked, with the reason, and stays where
    it is; every move is audited (instance_migrated). Exit code 1 when any instance was blocked.
    """
    from engine.principal import Principal

    engine = engine_of(ctx)
    by = engine.principal(username) if username else Principal.system()
    report = engine.migrate_instances(
        process_key,
        by,
        to_version=to_version,
        from_version=from_version,
        instance_ids=list(instance_ids) or None,
        dry_run=dry_run,
    )
    emit(ctx, report, _human_report)
    if report["counts"]["blocked"]:
        ctx.exit(1)
