"""Counts for monitoring (/metrics): cheap aggregate reads over indexed columns."""

from __future__ import annotations

from sqlalchemy import func, select

from engine.commands.base import EngineBase
from engine.models import ProcessInstance


class StatsQueries(EngineBase):
    def instance_counts(self) -> dict[str, int]:
        """Instances by status, every status listed (zero when there are none)."""
        counts = dict.fromkeys(("running", "completed", "cancelled", "suspended", "failed"), 0)
        with self.reading() as session:
            for status, count in session.execute(
                select(ProcessInstance.status, func.count()).group_by(ProcessInstance.status)
            ):
                counts[status] = count
        return counts
