"""Threads' Graph API at the operator's address (CRIER_THREADS_API_URL): every call's URL is made here.

The API's calls go to `{threads_api_url}/v1.0/…`; the OAuth endpoints (`/oauth/access_token`,
`/access_token`, `/refresh_access_token`) are not versioned. Tokens go in the Authorization header, which
the Graph API takes as it takes `access_token`, so that they stay out of URLs; where Meta's OAuth endpoints
want a token or the app secret in the query, the toolkit's Calls blanks them in httpx's log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from shared.networks.toolkit.answers import answer_object
from shared.networks.toolkit.calls import Calls, host_of

API_VERSION = "v1.0"


class Graph:
    """The Threads API at one address, through one adapter's Calls."""

    def __init__(self, calls: Calls, api_url: str) -> None:
        self.calls = calls
        self.api_url = api_url.rstrip("/")
        self.what = f"Threads ({host_of(self.api_url)})"

    def url(self, path: str) -> str:
        """A versioned API address: `{api_url}/v1.0/{path}`."""
        return f"{self.api_url}/{API_VERSION}/{path.lstrip('/')}"

    def unversioned(self, path: str) -> str:
        """An OAuth endpoint's address: `{api_url}/{path}`."""
        return f"{self.api_url}/{path.lstrip('/')}"

    def send(
        self,
        method: str,
        path: str,
        token: str,
        *,
        write: bool = False,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """One call of the versioned API, its answer whatever its status."""
        return self.calls.send(
            method,
            self.url(path),
            what=self.what,
            write=write,
            token=token,
            secrets=[token],
            params=params,
            data=data,
        )

    def read(self, path: str, token: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A GET's JSON object; the error an unsuccessful answer means."""
        response = self.send("GET", path, token, params=params)
        self.calls.check(response, what=self.what, secrets=[token])
        return answer_object(response, what=self.what, write=False)

    def post(self, path: str, token: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """A POST that makes no post (a container), and its JSON object."""
        response = self.send("POST", path, token, data=data)
        self.calls.check(response, what=self.what, secrets=[token])
        return answer_object(response, what=self.what, write=False)

    def oauth(
        self,
        method: str,
        path: str,
        *,
        secrets: Sequence[str],
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """An OAuth endpoint's JSON object. Nothing here makes a post, so no failure is a write's."""
        response = self.calls.send(
            method, self.unversioned(path), what=self.what, secrets=secrets, params=params, data=data
        )
        self.calls.check(response, what=self.what, secrets=secrets)
        return answer_object(response, what=self.what, write=False)
