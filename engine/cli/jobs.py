"""`govflow worker` and `govflow jobs`: the background side of the engine from a shell."""

from __future__ import annotations

import logging
import sys

import click

from engine.cli.support import command_errors, emit, engine_of, json_option
from engine.startup_heap import freeze_startup_heap


@click.command()
@click.option("--once", is_flag=True, help="Run the jobs due now, then exit (for cron or a test).")
@click.option("--batch", default=20, show_default=True, type=click.IntRange(1, 1000), help="jobs claimed at a time")
@click.option("--poll", default=1.0, show_default=True, type=click.FloatRange(0.05, 3600), help="seconds between looks")
@click.option("--name", default=None, help="this worker's name in logs and claims (default host:pid)")
@click.pass_context
@command_errors
def worker(ctx: click.Context, once: bool, batch: int, poll: float, name: str | None) -> None:
    """Fire due timers, deliver thrown messages and start timer-started processes; stop on SIGTERM."""
    from engine.worker import Worker

    # One line per job from govflow itself; libraries (SpiffWorkflow logs every task's state) say only warnings.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    govflow_log = logging.getLogger("govflow")
    govflow_log.addHandler(handler)
    govflow_log.setLevel(logging.INFO)
    govflow_log.propagate = False
    runner = Worker(engine_of(ctx), batch=batch, poll=poll, name=name)
    runner.install_signal_handlers()
    if not once:
        freeze_startup_heap()
    runner.run(once=once)


@click.group()
def jobs() -> None:
    """Timers and retries waiting, and incidents."""


def _human_jobs(result: dict) -> str:
    lines = [
        f"{j['id']}  {j['kind']:<11} {j['status']:<9} {j['due_at']}  {j['element_id']}"
        + (f"  attempts {j['attempts']}: {j['last_error']}" if j["attempts"] else "")
        for j in result["items"]
    ]
    return "\n".join(lines) or "No jobs."


@jobs.command("list")
@click.option("--instance", "instance_id", default=None, help="only this instance's jobs")
@click.option("--status", default=None, type=click.Choice(["waiting", "retrying", "incident"]))
@json_option
@click.pass_context
@command_errors
def jobs_list(ctx: click.Context, instance_id: str | None, status: str | None) -> None:
    """List jobs, soonest first."""
    from engine.principal import Principal

    engine = engine_of(ctx)
    if instance_id:
        items = [j for j in engine.waiting_jobs(instance_id, Principal.system()) if not status or j["status"] == status]
    else:
        items = engine.list_jobs(Principal.system(), status=status, limit=500)
    emit(ctx, {"items": items}, _human_jobs)


@jobs.command("run-now")
@click.argument("job_id")
@click.option("--user", "username", default=None, help="run as this admin (default: the operator)")
@json_option
@click.pass_context
@command_errors
def jobs_run_now(ctx: click.Context, job_id: str, username: str | None) -> None:
    """Run job JOB_ID now, whatever its due time; audited as done by the admin."""
    engine = engine_of(ctx)
    by = engine.principal(username) if username else None
    result = engine.run_job_now(job_id, by)
    emit(
        ctx,
        result,
        lambda r: f"Job {r['id']}: {r['status']}" + (f" ({r['last_error']})" if r.get("last_error") else ""),
    )
