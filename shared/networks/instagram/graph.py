"""What Meta's Graph API errors mean for Instagram's content publishing, beyond what every network on the
Graph API reads the same way (shared.networks.meta.graph_errors: dead credentials, a missing permission,
rate limits and their usage headers).

Followed: the Instagram Platform's "Error Codes" (subcodes 2207xxx of content publishing; 2207042 with code
9: the account's publishing limit is reached), and Graph API "Rate Limiting" (code 9, the application
request limit that content publishing answers too; code 80002 for Instagram's business use case limit,
among Meta's 80000-80099).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from shared.networks.meta.graph_errors import (
    RATE_LIMIT_CODES,
    TRANSIENT_CODES,
    GraphDialect,
    GraphError,
    credentials_refused,
    throttled,
)
from shared.networks.ports import NetworkError, RateLimited, Rejected, Transient

APPLICATION_REQUEST_LIMIT = 9
INSTAGRAM_RATE_LIMIT_CODES = RATE_LIMIT_CODES | {APPLICATION_REQUEST_LIMIT}
PUBLISHING_LIMIT_REACHED = 2207042
# Content publishing's subcodes whose documented remedy is "try again" (with a new container where the old
# one is spent): the request did nothing a later attempt could not redo. Every other 2207xxx is a problem
# with the media or the account that a person must fix.
# 2207027: the media is not ready for publishing yet (with code 9007, "Media ID is not available").
TRY_AGAIN_SUBCODES = frozenset({2207001, 2207003, 2207020, 2207027, 2207032, 2207053})
PUBLISHING_SUBCODES = range(2207000, 2208000)


class InstagramDialect(GraphDialect):
    """Meta's codes, with content publishing's subcodes read before the rate limits."""

    def by_code(self, response: httpx.Response, error: GraphError, said: str) -> NetworkError | None:
        refused = credentials_refused(error, said)
        if refused is not None:
            return refused
        if error.subcode == PUBLISHING_LIMIT_REACHED:
            # The rolling 24 hours: the oldest post of the window leaves it within the day.
            return RateLimited(said, datetime.now(UTC) + timedelta(hours=1))
        if error.subcode in TRY_AGAIN_SUBCODES:
            return Transient(said)
        # Before the rate-limit codes: 2207051 comes with code 4, and is an account restricted as spam,
        # which waiting does not lift.
        if error.subcode in PUBLISHING_SUBCODES:
            return Rejected(said)
        limited = throttled(response, error, said, INSTAGRAM_RATE_LIMIT_CODES)
        if limited is not None:
            return limited
        if error.code in TRANSIENT_CODES and response.status_code < 500:
            return Transient(said)
        return None
