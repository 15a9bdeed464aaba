"""Use cases shared by the web pages, the API, the command line and (later) the task queue.

Every service takes an explicit session and actor, decides, and either returns the result or
raises a ``ServiceError`` that carries the decision: its ``status`` (the HTTP status both doors
answer with) and its ``problems`` (every field or item concerned, each with its message). The
pages put each problem beside its field; the API lists them all in one JSON body. No page or
endpoint re-checks what a service checks.

=======  ============================================================  ==================
status   meaning                                                       raised as
=======  ============================================================  ==================
422      the input is wrong: ``problems`` names every field or item    ``ServiceError``
403      this person may not do this                                   ``Forbidden``
404      there is no such thing                                        ``NotFound``
409      not in this state (closed, not submitted, not ready, taken)   ``Conflict``
412      the client's copy is stale (someone else saved first)         ``StaleRevision``
401      the API token is not valid                                    ``InvalidToken``
=======  ============================================================  ==================
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a request: the input it concerns and what to do about it.

    ``field`` is a form or JSON field name (``title``), an item ref (``SO-2.3``), or ``""`` for
    the request as a whole; ``kind`` tells machines what it is (``invalid``, ``taken``,
    ``unanswered``, ``comment_required`` ...); ``ref`` is set when the problem is with one
    checklist item.
    """

    field: str
    message: str
    kind: str = "invalid"
    ref: str | None = None

    def as_dict(self) -> dict[str, str]:
        """JSON-ready form (``ref`` only for a problem with an item)."""
        data = {"field": self.field, "kind": self.kind, "message": self.message}
        if self.ref is not None:
            data["ref"] = self.ref
        return data


class ServiceError(Exception):
    """A request the rules refuse. ``status`` is the HTTP status that fits it.

    Raise it with one message and the field it concerns, or with ``problems`` naming several;
    ``Problems.check()`` does the latter for a whole request.
    """

    status = 422

    def __init__(
        self, message: str, field: str | None = None, *, problems: Iterable[Problem] = ()
    ) -> None:
        super().__init__(message)
        self.message = message
        found = tuple(problems)
        if not found and field is not None:
            found = (Problem(field, message),)
        self.problems: tuple[Problem, ...] = found

    @property
    def field(self) -> str | None:
        """The field of the first problem, if the refusal names one."""
        return self.problems[0].field if self.problems else None

    def by_field(self) -> dict[str, list[str]]:
        """Messages grouped by the field they concern, in the order they were found."""
        grouped: dict[str, list[str]] = {}
        for problem in self.problems:
            grouped.setdefault(problem.field, []).append(problem.message)
        return grouped


class NotFound(ServiceError):
    status = 404


class Forbidden(ServiceError):
    status = 403


class Conflict(ServiceError):
    status = 409


class StaleRevision(ServiceError):
    """The client's copy is out of date; nothing was written."""

    status = 412


#: Problem kinds that are conflicts with stored data rather than malformed input.
CONFLICT_KINDS = frozenset({"taken", "in_use"})


class Problems:
    """Collects every problem of one request, so that a refusal names them all at once.

    ::

        problems = Problems()
        if not name:
            problems.add("name", "the legal name is required")
        ...
        problems.check()  # raises one ServiceError listing all of them, if any
    """

    def __init__(self) -> None:
        self._found: list[Problem] = []

    def add(self, field: str, message: str, kind: str = "invalid") -> None:
        """Note a problem with ``field``."""
        self._found.append(Problem(field, message, kind))

    def __bool__(self) -> bool:
        return bool(self._found)

    def __contains__(self, field: object) -> bool:
        """Whether a problem with ``field`` was already noted (to skip checks that depend on it)."""
        return any(problem.field == field for problem in self._found)

    def check(self) -> None:
        """Raise a refusal naming every problem noted, if there is any.

        The status is 422, or 409 when every problem is a clash with stored data (a name
        already taken, a record still in use), which input alone cannot fix.
        """
        if not self._found:
            return
        error = Conflict if all(p.kind in CONFLICT_KINDS for p in self._found) else ServiceError
        raise error(summary(self._found), problems=self._found)


def summary(problems: Iterable[Problem]) -> str:
    """One sentence for a list of problems: the message itself, or ``N problems: a; b``."""
    found = list(problems)
    if len(found) == 1:
        return found[0].message
    return f"{len(found)} problems: " + "; ".join(p.message for p in found)
