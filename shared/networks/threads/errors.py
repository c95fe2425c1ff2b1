"""What Meta's errors mean for Threads, beyond what every network on Meta's Graph API reads the same way
(shared.networks.meta.graph_errors: the error object and the OAuth endpoints' flatter one, dead
credentials, a missing permission, rate limits and their usage headers, else `Retry-After`).

What a code means follows Meta's Graph API error handling (developers.facebook.com/docs/graph-api/guides/
error-handling), which the Threads API answers in:
- 1 (unknown error) and 2 (service temporarily unavailable) → Transient: Meta's own word is that they may
  be retried, unless the error says `"is_transient": false` (Graph answers a wrong app secret with code 1).
  Except to `threads_publish`, the one request that can make a post: there a 5xx stays OutcomeUnknown, and
  Crier asks the container's status before sending it again.
- 100 with subcode 33 (the object does not exist, or cannot be loaded) → PostGone where a post is read or
  deleted.
- Anything else (100 invalid parameter, THREADS_API__LINK_LIMIT_EXCEEDED…) climbs the toolkit's ladder by
  its HTTP status: a 4xx is a refusal (`failed`).
"""

from __future__ import annotations

import httpx

from shared.networks.meta.graph_errors import TRANSIENT_CODES, GraphDialect, GraphError
from shared.networks.ports import NetworkError, PostGone, Transient

# The path of the one request that makes a post out of a container.
PUBLISH_PATH_END = "/threads_publish"


class ThreadsDialect(GraphDialect):
    """Meta's codes first, then Threads' reading of passing failures and missing posts, then the ladder."""

    def by_code(self, response: httpx.Response, error: GraphError, said: str) -> NetworkError | None:
        common = super().by_code(response, error, said)
        if common is not None:
            return common
        if error.code in TRANSIENT_CODES and error.is_transient is not False and not _is_publish(response):
            return Transient(said + " (Meta says this may be retried)")
        if error.object_missing and response.request.method in ("GET", "DELETE"):
            return PostGone(said)
        return None


def _is_publish(response: httpx.Response) -> bool:
    return response.request.url.path.endswith(PUBLISH_PATH_END)
