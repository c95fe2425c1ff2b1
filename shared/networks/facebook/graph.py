"""Meta's Graph API as Facebook Pages calls it: one address for every call, and what Graph's errors mean
for a Page's posts.

Graph's error object, its common codes (dead credentials, a missing permission, rate limits) and its usage
headers are read in shared.networks.meta.graph_errors, as for Instagram and Threads. What is read here, in
this order after those:

- 1 and 2 (an unknown or service error, "a temporary issue due to downtime") and any error marked
  `is_transient` → for a write OutcomeUnknown (the post may have been made before the failure), for a
  read Transient.
- 506 (duplicate post) → DuplicatePost; 100 with subcode 33 (an object that does not exist, or cannot be
  seen) → ObjectMissing; 100 naming an insights metric → RetiredMetric: each a Rejected the caller may read
  further (reconcile the post, the post is gone, leave the metric out).
- 368 (temporarily blocked for policy violations) and anything else: the ladder, by HTTP status.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from shared.networks.meta.graph_errors import (
    INVALID_PARAMETER,
    TRANSIENT_CODES,
    GraphDialect,
    GraphError,
    graph_error,
)
from shared.networks.ports import NetworkError, OutcomeUnknown, Rejected, Transient
from shared.networks.toolkit.calls import Calls

DUPLICATE_POST = 506


class DuplicatePost(Rejected):
    """Graph's 506: the Page posted this same message just before; an earlier attempt may have made it."""


class ObjectMissing(Rejected):
    """Graph's 100/33: the object does not exist, or this token cannot see it."""


class RetiredMetric(Rejected):
    """Graph's 100 for an insights metric it no longer has (Meta retires metrics on every version)."""


def facebook_refusal(error: GraphError, said: str, *, write: bool) -> NetworkError | None:
    """The error a Graph error object means for a Page's call, after Meta's common codes; None leaves it to
    the ladder."""
    if error.code in TRANSIENT_CODES or error.is_transient is True:
        if write:
            return OutcomeUnknown(
                said + " (a passing failure; the post may exist all the same, and Crier checks)"
            )
        return Transient(said)
    if error.code == DUPLICATE_POST:
        return DuplicatePost(said)
    if error.object_missing:
        return ObjectMissing(said)
    if error.code == INVALID_PARAMETER and "metric" in error.message.lower():
        return RetiredMetric(said)
    return None


class GraphCalls(Calls):
    """Calls to `{graph_url}/{version}/…`: every Graph address is made here, every answer read by code."""

    def __init__(self, *args: Any, graph_url: str, version: str, **kwargs: Any) -> None:
        self.graph_dialect = GraphDialect()
        super().__init__(*args, dialect=self.graph_dialect, **kwargs)
        self.base = f"{graph_url.rstrip('/')}/{version}"

    def url(self, *path: str) -> str:
        """The Graph address of `path` (an id, then an edge): `{graph_url}/{version}/{id}/{edge}`."""
        return "/".join((self.base, *(segment.strip("/") for segment in path if segment)))

    def graph(
        self,
        method: str,
        path: Sequence[str],
        *,
        what: str,
        write: bool = False,
        token: str | None = None,
        **request: Any,
    ) -> dict[str, Any]:
        """One Graph call's JSON object; the error its refusal means."""
        response = self.send(method, self.url(*path), what=what, write=write, token=token, **request)
        return self.answer(response, what=what, write=write)

    def refusal(
        self, response: httpx.Response, *, what: str, write: bool, secrets: Sequence[str] = ()
    ) -> NetworkError:
        error = graph_error(response)
        if error is not None:
            said = f"{what} answered {response.status_code}: {error.words}"
            own = self.graph_dialect.by_code(response, error, said) or facebook_refusal(
                error, said, write=write
            )
            if own is not None:
                return own
        return super().refusal(response, what=what, write=write, secrets=secrets)
