"""Connecting a Facebook Page to Crier: Facebook Login's code flow, then the Page's own access token.

Followed: Facebook Login, "Manually Build a Login Flow" (the dialog at
`{facebook_dialog_url}/{version}/dialog/oauth` with client_id, redirect_uri, state, response_type=code and
scope; the code exchanged at `/oauth/access_token` with the app's secret), "Long-Lived Access Tokens"
(`grant_type=fb_exchange_token` turns the user's hour-long token into one of about 60 days), and Pages API
"Page Access Tokens" (`GET /me/accounts` lists the Pages the person manages with each one's
`access_token`; a Page token got from a long-lived user token has no expiry). So a channel keeps only its
Page token, which needs no refreshing: a person reconnects when Facebook invalidates it (190).

PKCE: Facebook Login takes a code challenge only in its OpenID Connect flow, which Meta marks "still in
testing" and which is for signing people in, not for Page permissions. Crier is a confidential client:
the code is bound to Crier by the app secret, which never leaves Crier, and to the person's session by the
state Crier checks. So the challenge Crier makes is not sent, and the verifier not used.

The secret and the codes go in POST bodies, which Graph takes as it takes the query the guide shows, so
that no secret stands in a URL a log keeps.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

from shared.networks.facebook.channel import CREDENTIAL_KEY, ChannelSettings
from shared.networks.facebook.graph import GraphCalls
from shared.networks.meta.graph_errors import graph_error
from shared.networks.ports import AuthorizationStart, Rejected
from shared.networks.toolkit.answers import reading, required_text

WHAT = "Facebook Login"
# Listing the Pages (pages_show_list), posting and commenting as them (pages_manage_posts,
# pages_manage_engagement), reading posts, comments and counts (pages_read_engagement,
# pages_read_user_content) and views (read_insights).
SCOPES = (
    "pages_show_list",
    "pages_manage_posts",
    "pages_manage_engagement",
    "pages_read_engagement",
    "pages_read_user_content",
    "read_insights",
)
ACCOUNT_PAGES = 10


class Authorizations:
    """The operator's Meta app, and the steps that connect a Page with it."""

    def __init__(
        self,
        calls: GraphCalls,
        *,
        dialog_url: str,
        version: str,
        client_id: str | None,
        client_secret: str | None,
    ) -> None:
        self._calls = calls
        self._dialog = f"{dialog_url.rstrip('/')}/{version}/dialog/oauth"
        self._client_id = client_id
        self._client_secret = client_secret

    def begin(self, channel: ChannelSettings, *, redirect_uri: str, state: str) -> AuthorizationStart:
        client_id, _ = self._app()
        query = {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "response_type": "code",
            "scope": ",".join(SCOPES),
        }
        url = f"{self._dialog}?{urllib.parse.urlencode(query, quote_via=urllib.parse.quote)}"
        return AuthorizationStart(url=url, app_credentials={"page_id": channel.page_id})

    def complete(self, channel: ChannelSettings, *, code: str, redirect_uri: str) -> dict[str, Any]:
        """The Page's access token, for the code the person brought back."""
        client_id, client_secret = self._app()
        short = self._token(
            {
                "client_id": client_id,
                "client_secret": client_secret,
                "redirect_uri": redirect_uri,
                "code": code,
            },
            secrets=(client_secret, code),
        )
        long_lived = self._token(
            {
                "grant_type": "fb_exchange_token",
                "client_id": client_id,
                "client_secret": client_secret,
                "fb_exchange_token": short,
            },
            secrets=(client_secret, short),
        )
        return {CREDENTIAL_KEY: self._page_token(channel, long_lived)}

    def _app(self) -> tuple[str, str]:
        if not self._client_id or not self._client_secret:
            raise Rejected(
                "Facebook needs the operator's Meta app to connect a Page: set CRIER_FACEBOOK_CLIENT_ID and "
                "CRIER_FACEBOOK_CLIENT_SECRET"
            )
        return self._client_id, self._client_secret

    def _token(self, fields: Mapping[str, str], *, secrets: tuple[str, ...]) -> str:
        response = self._calls.send(
            "POST", self._calls.url("oauth", "access_token"), what=WHAT, data=fields, secrets=secrets
        )
        error = graph_error(response)
        if error is not None and error.type == "OAuthException" and error.code in (1, 100, 101):
            # A wrong app secret is code 1 here, which elsewhere is a passing failure: here it is not.
            raise Rejected(f"{WHAT} refused: {error.words}")
        body = self._calls.answer(response, what=WHAT)
        with reading(WHAT, write=False):
            return required_text(body["access_token"])

    def _page_token(self, channel: ChannelSettings, user_token: str) -> str:
        """The Page's token among the Pages the person manages; Rejected, naming them, when it is not."""
        seen: list[str] = []
        after: str | None = None
        for _ in range(ACCOUNT_PAGES):
            params = {"fields": "id,name,access_token,tasks", "limit": 100} | (
                {"after": after} if after else {}
            )
            page = self._calls.graph("GET", ("me", "accounts"), what=WHAT, token=user_token, params=params)
            with reading(WHAT, write=False):
                for account in page["data"]:
                    page_id = str(account["id"])
                    if page_id == channel.page_id:
                        tasks = account.get("tasks")
                        if isinstance(tasks, list) and "CREATE_CONTENT" not in tasks:
                            raise Rejected(
                                f"the person who approved Crier cannot create content on the Page "
                                f"{channel.page_id}: ask a Page admin to connect it"
                            )
                        return required_text(account["access_token"])
                    seen.append(f"{account.get('name')} ({page_id})")
                paging = page.get("paging") or {}
                after = (paging.get("cursors") or {}).get("after") if paging.get("next") else None
            if not after:
                break
        managed = ", ".join(seen) if seen else "none that Crier was allowed to see"
        raise Rejected(
            f"the person who approved Crier does not manage the Page {channel.page_id}, or did not let Crier "
            f"use it; the Pages they let Crier use: {managed}"
        )
