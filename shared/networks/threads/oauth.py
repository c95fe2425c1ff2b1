"""Connecting a Threads account to Crier, and keeping its token alive (get-started, "Get access tokens and
permissions" and "Long-lived access tokens").

1. The person approves Crier's Threads app at `threads_authorize_url` (`client_id`, `redirect_uri`, `scope`,
   `response_type=code`, `state`); Threads sends them back with a code, valid for an hour and once.
2. `POST {threads_api_url}/oauth/access_token` (client id and secret, `grant_type=authorization_code`, the
   redirect URI, the code) answers a short-lived token (an hour) and the user id.
3. `GET {threads_api_url}/access_token?grant_type=th_exchange_token&client_secret=…&access_token=…` answers a
   long-lived token, valid 60 days (`expires_in` seconds).
4. `GET {threads_api_url}/refresh_access_token?grant_type=th_refresh_token&access_token=…` renews a long-lived
   token that is at least 24 hours old and not expired, for 60 days more.

Meta documents no PKCE for Threads: the challenge Crier makes is not sent, and the app secret, which never
leaves Crier, binds the code to Crier's app. The scopes are those Crier uses: threads_basic (every call),
threads_content_publish (posting), threads_manage_replies (a thread's replies), threads_read_replies (finding
them after an uncertain attempt), threads_manage_insights (counts, followers), threads_delete (deleting).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from shared.networks.ports import AuthorizationStart, Rejected
from shared.networks.threads.graph import Graph
from shared.networks.toolkit.answers import identifier, reading, required_text
from shared.networks.toolkit.tokens import token_credentials

SCOPES = (
    "threads_basic",
    "threads_content_publish",
    "threads_manage_replies",
    "threads_read_replies",
    "threads_manage_insights",
    "threads_delete",
)
NO_APP = (
    "Threads accounts connect through the operator's Threads app: set CRIER_THREADS_CLIENT_ID and "
    "CRIER_THREADS_CLIENT_SECRET"
)


class Authorizations:
    """The operator's Threads app, and the steps that connect an account with it and renew its token."""

    def __init__(
        self,
        graph: Graph,
        *,
        authorize_url: str,
        client_id: str | None,
        client_secret: str | None,
        clock: Callable[[], datetime],
    ) -> None:
        self._graph = graph
        self._authorize_url = authorize_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock

    def begin(self, *, redirect_uri: str, state: str) -> AuthorizationStart:
        client_id, _ = self._app()
        query = {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": ",".join(SCOPES),
            "response_type": "code",
            "state": state,
        }
        return AuthorizationStart(url=f"{self._authorize_url}?{urllib.parse.urlencode(query)}")

    def complete(self, *, code: str, redirect_uri: str) -> dict[str, Any]:
        """The channel's credentials: a long-lived token, its user id, and when the token expires."""
        client_id, client_secret = self._app()
        short = self._graph.oauth(
            "POST",
            "oauth/access_token",
            secrets=[client_secret, code],
            data={
                "client_id": client_id,
                "client_secret": client_secret,
                "grant_type": "authorization_code",
                "redirect_uri": redirect_uri,
                "code": code,
            },
        )
        with reading(self._graph.what, write=False):
            short_token = required_text(short["access_token"])
            user_id = identifier(short["user_id"])
        long = self._graph.oauth(
            "GET",
            "access_token",
            secrets=[client_secret, short_token],
            params={
                "grant_type": "th_exchange_token",
                "client_secret": client_secret,
                "access_token": short_token,
            },
        )
        return {"user_id": user_id, **self._token(long)}

    def refresh(self, credentials: Mapping[str, Any]) -> dict[str, Any]:
        """The credentials with their long-lived token renewed for 60 days more."""
        token = str(credentials.get("access_token") or "")
        renewed = self._graph.oauth(
            "GET",
            "refresh_access_token",
            secrets=[token],
            params={"grant_type": "th_refresh_token", "access_token": token},
        )
        return {**credentials, **self._token(renewed)}

    def _token(self, answer: Mapping[str, Any]) -> dict[str, Any]:
        return token_credentials(answer, self._clock(), what=self._graph.what)

    def _app(self) -> tuple[str, str]:
        if not self._client_id or not self._client_secret:
            raise Rejected(NO_APP)
        return self._client_id, self._client_secret
