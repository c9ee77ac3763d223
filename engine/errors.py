"""What can go wrong in a govflow command, in domain words.

Every error carries a sentence a user can read (`str(err)`, English: the API's `detail` and the CLI's
line); `api/errors.py` maps each class to an HTTP status once, and the CLI prints the sentence and exits
non-zero. An error an official can meet in the workspace also carries a stable `code` and the `params`
its sentence names (`NotAllowed("...", code="not_candidate", user="wu", task="街道审核", ...)`): the
workspace says it in the page's language from its catalogues (`error.<code>`, web/messages.py), and a
test checks every code raised in engine/ has a text in each catalogue.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


class GovflowError(Exception):
    """Base of every error a command raises on purpose."""

    status = 400

    def __init__(self, message: str, code: str | None = None, **params: object) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.params = params

    def __str__(self) -> str:
        return self.message


class NotFound(GovflowError):
    status = 404


class Conflict(GovflowError):
    """The state changed under the caller: already completed, claimed by someone else, stale version."""

    status = 409


class NotAllowed(GovflowError):
    status = 403


class RuleBroken(GovflowError):
    """Valid input that breaks a rule of the procedure or the engine."""

    status = 422


class DatabaseUnavailable(GovflowError):
    """The database cannot be reached or cannot write (down, locked too long, disk full, read-only)."""

    status = 503


class DatabaseFull(DatabaseUnavailable):
    """The database's disk is full: nothing was written; it works again once space is freed."""

    status = 507


class TaskClosed(Conflict):
    pass


class StaleInstance(Conflict):
    pass


class UnknownUser(NotFound):
    pass


class UnknownOrgUnit(NotFound):
    pass


@dataclass(frozen=True)
class Problem:
    """One problem in an uploaded file: where it is and what is wrong, for a designer to read.

    `code` names the check that found it (a lint rule such as `gateway-default`) and `params` the values its
    sentence was made from, so the workspace can say it again in the page's language.
    """

    file: str
    message: str
    element_id: str | None = None
    line: int | None = None
    code: str | None = None
    params: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict:
        found = asdict(self)
        found["params"] = dict(self.params)
        return found

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}"
        if self.element_id:
            where += f" [{self.element_id}]"
        return f"{where}: {self.message}"


class BundleInvalid(RuleBroken):
    """A deployment bundle was refused; nothing of it was deployed."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        lines = "; ".join(str(p) for p in self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(f"The bundle was not deployed: {lines}{more}", code="bundle_invalid", count=len(problems))


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict:
        return asdict(self)


class FormInvalid(RuleBroken):
    """Submitted form data does not satisfy the form; one message per field."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = list(errors)
        detail = "; ".join(f"{e.field}: {e.message}" for e in self.errors[:5])
        super().__init__(f"The form has errors: {detail}", code="form_invalid")


class ScriptRefused(GovflowError):
    """The sandbox refused a script or expression before or while running it."""

    status = 422


def unexpected(exc: BaseException) -> str:
    """An unexpected error in one line for an operator or a requester: its class and its message's first line."""
    text = str(exc)
    return f"{exc.__class__.__name__}: {text.splitlines()[0] if text else ''}"
