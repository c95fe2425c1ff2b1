"""The core's errors: a small family with no HTTP in it. The API maps each to one problem document."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class CrierError(Exception):
    """Base of every error the core raises on purpose."""

    title = "Crier error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(CrierError):
    title = "Not found"

    def __init__(self, kind: str, identifier: object) -> None:
        super().__init__(f"There is no {kind} with id {identifier} in this workspace.")
        self.kind = kind


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where (a JSON pointer into the request body) and what."""

    pointer: str
    detail: str


class InvalidInput(CrierError):
    """The input has the right shape but breaks a rule; each problem names its field."""

    title = "Invalid input"

    def __init__(self, problems: Sequence[Problem], detail: str = "The request breaks a rule.") -> None:
        super().__init__(detail)
        self.problems = list(problems)


class Conflict(CrierError):
    """The action does not fit the thing's current state (cancelling what is being published, say)."""

    title = "Conflict"


class Unavailable(CrierError):
    """Something Crier depends on (a network, the broker) did not answer; trying again later may work."""

    title = "Unavailable"


class Busy(CrierError):
    """The caller already has as much under way as is allowed at once; trying again shortly may work."""

    title = "Busy"

    def __init__(self, detail: str, *, retry_after_seconds: int) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class Unauthenticated(CrierError):
    title = "Unauthenticated"


class Forbidden(CrierError):
    """The caller is known, but their role or their token's scope does not allow the action."""

    title = "Forbidden"


class PreconditionFailed(CrierError):
    """The caller's copy is stale: someone changed the thing since they read it (If-Match)."""

    title = "Precondition failed"
