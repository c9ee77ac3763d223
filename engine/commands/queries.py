"""Reading: the inbox, instance search, audit events, the path on the diagram and case exports."""

from __future__ import annotations

from engine.commands.base import EngineBase


class Queries(EngineBase):
    """Reads answered from indexed columns; every read checks the caller's reach."""
