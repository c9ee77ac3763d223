"""Who calls a command."""

from __future__ import annotations

from dataclasses import dataclass

from engine.audit import Actor
from engine.people import Person


@dataclass(frozen=True)
class Principal:
    """Who calls a command: a person, or the operator's CLI acting for the system (trusted)."""

    person: Person | None
    system_name: str | None = None

    @classmethod
    def system(cls, name: str = "cli") -> Principal:
        return cls(None, name)

    @property
    def username(self) -> str:
        return self.person.username if self.person else (self.system_name or "system")

    @property
    def is_system(self) -> bool:
        return self.person is None

    def actor(self, role: str | None = None, org_code: str | None = None) -> Actor:
        return Actor(self.username, role if self.person else "system", org_code)
