"""What can be wrong with a form definition or with data submitted through a form."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any


@dataclass(frozen=True)
class FieldError:
    """One problem with one submitted field.

    `field` is the dotted path of the value ("title", "address.city", "attachments.0.name"); it is
    "" for a problem with the submission as a whole. `code` is stable so the web layer can translate
    `message`, which is a short English sentence.
    """

    field: str
    message: str
    code: str
    # The numbers the message names ({"max": 100}), so a translation can name them too.
    params: dict[str, Any] = dataclass_field(default_factory=dict, compare=False)

    def as_dict(self) -> dict[str, str]:
        """The error as a JSON-ready dict."""
        return {"field": self.field, "message": self.message, "code": self.code}


class FormDefinitionInvalid(Exception):
    """The form JSON itself is broken; `problems` holds one readable sentence per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__(" ".join(self.problems))

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return self.problems[0]
        return f"The form definition has {len(self.problems)} problems: " + " ".join(self.problems)


class SubmissionInvalid(Exception):
    """Submitted data breaks the form; `errors` holds every field error found, not just the first."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [f"{e.field}: {e.message}" if e.field else e.message for e in self.errors]
        return f"The submission has {len(self.errors)} problem(s): " + " ".join(parts)

    def as_dicts(self) -> list[dict[str, str]]:
        """All errors as JSON-ready dicts, in form order."""
        return [e.as_dict() for e in self.errors]
