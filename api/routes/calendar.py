"""The working-day calendar: everyone signed in reads it; city admins set a year's schedule."""

from __future__ import annotations

from flask.views import MethodView

from api import auth
from api.parsing import Blueprint
from api.schemas import CalendarYearInSchema, CalendarYearSchema, WorkingDaysArgsSchema, WorkingDaysSchema

blp = Blueprint("calendar", __name__, url_prefix="/api/v1", description="The working-day calendar")


@blp.route("/calendar/<int:year>")
class CalendarYear(MethodView):
    @blp.response(200, CalendarYearSchema)
    def get(self, year: int) -> dict:
        """A year's holidays and make-up working days (调休); `known` is false where only weekends are assumed."""
        auth.current()
        return auth.engine().calendar_year(year)

    @blp.arguments(CalendarYearInSchema)
    @blp.response(200, CalendarYearSchema)
    def put(self, body: dict, year: int) -> dict:
        """Replace a year's schedule with the published one (admins at city level); audited."""
        days = [{"day": d["day"].isoformat(), "kind": d["kind"], "name": d["name"]} for d in body["days"]]
        return auth.engine().set_calendar_year(year, days, by=auth.current())


@blp.route("/calendar/working-days")
class WorkingDays(MethodView):
    @blp.arguments(WorkingDaysArgsSchema, location="query")
    @blp.response(200, WorkingDaysSchema)
    def get(self, args: dict) -> dict:
        """The date a number of working days after a start date (the start day not counted)."""
        auth.current()
        working = auth.engine().working_calendar()
        due = working.working_days_after(args["start"], args["days"])
        return {
            "start": args["start"],
            "working_days": args["days"],
            "due": due,
            "assumed_years": working.assumed_years(args["start"], due),
        }
