"""govflow's workflow engine: persistent SpiffWorkflow on SQLite or PostgreSQL. `Engine` is the door."""

from engine.core import Engine, Principal

__all__ = ["Engine", "Principal"]
