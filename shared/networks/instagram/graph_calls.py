"""One Instagram account's calls to the Graph API: its address, its token, and reading each answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from shared.networks.ports import Account, AuthExpired
from shared.networks.toolkit.calls import Calls

WHAT = "Instagram"


@dataclass(frozen=True)
class Graph:
    """The Graph API at `{instagram_graph_url}/{facebook_graph_version}`, as one account calls it."""

    calls: Calls
    base: str
    ig_user_id: str
    token: str = field(repr=False)

    def send(self, method: str, path: str, *, write: bool = False, **request: Any) -> httpx.Response:
        return self.calls.send(
            method,
            f"{self.base}/{path}",
            what=WHAT,
            write=write,
            token=self.token,
            secrets=[self.token],
            **request,
        )

    def read(self, path: str, **params: Any) -> dict[str, Any]:
        """A GET's JSON object; the error its answer means otherwise (a read: Transient, not unknown)."""
        return self.calls.answer(self.send("GET", path, params=params), what=WHAT)

    def write(self, path: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """A POST's JSON object: a failure after sending is OutcomeUnknown, for the caller to settle."""
        response = self.send("POST", path, write=True, data=dict(fields))
        return self.calls.answer(response, what=WHAT, write=True)


def graph_of(calls: Calls, base: str, account: Account) -> Graph:
    """The account's Graph calls, from its credentials: the page's access token and the Instagram user id."""
    token = account.credentials.get("access_token")
    ig_user_id = account.credentials.get("ig_user_id")
    if not isinstance(token, str) or not token or not isinstance(ig_user_id, str | int) or not ig_user_id:
        raise AuthExpired("The Instagram channel has no access token or Instagram account id: reconnect it.")
    return Graph(calls, base, str(ig_user_id), token)
