"""One row per figure of issue 9: the figure, the baseline measured in the same run, their ratio, the target.

`bench/run.py` collects rows from every part, prints them as one table and writes them to
bench/results.json (a list of {name, value, unit, baseline, ratio, target, met}).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class Row:
    """A measured figure. `target` reads like "ratio >= 0.4" or "value <= 50": which side of the row the
    target bounds, the comparison and the bound; `met` is worked out from it."""

    name: str
    value: float
    unit: str
    baseline: float | None
    target: str
    note: str = ""
    # Requests the measured runs saw fail: such a figure measured failures too, so it meets no target.
    errors: int = 0

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline

    @property
    def met(self) -> bool | None:
        if self.errors:
            return False
        side, op, bound = self.target.split()
        measured = self.ratio if side == "ratio" else self.value
        if measured is None:
            return None
        limit = float(bound)
        return {"<=": measured <= limit, ">=": measured >= limit, "<": measured < limit, ">": measured > limit}[op]

    def as_dict(self) -> dict:
        out = asdict(self)
        out["ratio"] = self.ratio
        out["met"] = self.met
        return {k: out[k] for k in ("name", "value", "unit", "baseline", "ratio", "target", "met", "note", "errors")}


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}"


def table(rows: list[Row]) -> str:
    """The rows as one fixed-width table; the note (what the baseline is, the load) below each name."""
    width = max([50, *(len(row.name) for row in rows)])
    head = f"{'figure':<{width}} {'value':>10} {'unit':<12} {'baseline':>10} {'ratio':>8} {'target':<14} met"
    lines = [head, "-" * len(head)]
    for row in rows:
        ratio = "-" if row.ratio is None else f"{row.ratio:.2f}x"
        met = {True: "yes", False: "NO", None: "-"}[row.met]
        lines.append(
            f"{row.name:<{width}} {_number(row.value):>10} {row.unit:<12} {_number(row.baseline):>10} {ratio:>8} "
            f"{row.target:<14} {met}"
        )
        if row.note:
            lines.append(f"    {row.note}")
    return "\n".join(lines)


def write(rows: list[Row], path: Path) -> None:
    path.write_text(json.dumps([r.as_dict() for r in rows], indent=2, ensure_ascii=False) + "\n")
