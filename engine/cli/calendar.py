"""`govflow calendar`: read and set the working-day calendar (holidays and make-up working days)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click

from engine.cli.support import command_errors, emit, engine_of, json_option
from engine.errors import RuleBroken
from engine.principal import Principal


@click.group()
def calendar() -> None:
    """The working-day calendar: weekends, public holidays and make-up working days (调休)."""


@calendar.command("show")
@click.argument("year", type=int)
@json_option
@click.pass_context
@command_errors
def calendar_show(ctx: click.Context, year: int) -> None:
    """A year's holidays and make-up working days, or the note that only weekends are known."""
    emit(ctx, engine_of(ctx).calendar_year(year), _human_year)


@calendar.command("set")
@click.argument("year", type=int)
@click.option(
    "--file",
    "path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSON: [{"day": "2027-10-01", "kind": "holiday", "name": "国庆节"}, ...]',
)
@json_option
@click.pass_context
@command_errors
def calendar_set(ctx: click.Context, year: int, path: Path) -> None:
    """Replace a year's schedule with the published one (the whole year at once)."""
    try:
        days = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise RuleBroken(f"{path} is not JSON: {exc}") from None
    if isinstance(days, dict):
        days = days.get("days")
    if not isinstance(days, list):
        raise RuleBroken(f"{path} must hold a list of days (or an object with a list under 'days').")
    emit(ctx, engine_of(ctx).set_calendar_year(year, days, by=Principal.system()), _human_year)


@calendar.command("add-days")
@click.argument("start", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.argument("count", type=int)
@json_option
@click.pass_context
@command_errors
def calendar_add_days(ctx: click.Context, start, count: int) -> None:  # noqa: ANN001 - click's datetime
    """The date COUNT working days after START (the start day not counted)."""
    working = engine_of(ctx).working_calendar()
    due = working.working_days_after(start.date(), count)
    assert isinstance(due, date)
    result = {
        "start": start.date().isoformat(),
        "working_days": count,
        "due": due.isoformat(),
        "assumed_years": working.assumed_years(start.date(), due),
    }
    emit(
        ctx,
        result,
        lambda r: r["due"] + (f"  (weekends only assumed for {r['assumed_years']})" if r["assumed_years"] else ""),
    )


def _human_year(view: dict) -> str:
    lines = [f"{view['year']}: " + (f"schedule from {view['source']}" if view["known"] else view["note"])]
    lines += [f"  {d['day']}  {'休' if d['kind'] == 'holiday' else '班'}  {d['name']}" for d in view["days"]]
    return "\n".join(lines)
