"""Connecting an Instagram business or creator account through Facebook Login, with the operator's Meta app
(CRIER_INSTAGRAM_CLIENT_ID and CRIER_INSTAGRAM_CLIENT_SECRET).

Followed: Facebook Login, "Manually Build a Login Flow" (the dialog at `{facebook_dialog_url}/<version>/
dialog/oauth` with client_id, redirect_uri, state, scope and `response_type=code`; the code exchanged at
GET /<version>/oauth/access_token with the app's secret, which binds the code to the app, so no PKCE is
sent), "Long-Lived Access Tokens" (`grant_type=fb_exchange_token`: a user token of 60 days; a page token
read with it does not expire), and "Instagram API with Facebook Login: Getting Started" (GET /me/accounts
with `instagram_business_account`: the pages the person manages and the Instagram account linked to each).

The person picks the page when they approve Crier in the dialog; when they manage several pages linked to
Instagram accounts, the channel's `page_id` setting says which one this channel is.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

from shared.networks.instagram.channel import PAGE_SETTING
from shared.networks.instagram.graph_calls import WHAT
from shared.networks.ports import AuthorizationStart, Rejected
from shared.networks.toolkit.answers import identifier, reading, required_text
from shared.networks.toolkit.calls import Calls

SCOPES = (
    "instagram_basic",
    "instagram_content_publish",
    "instagram_manage_comments",
    "instagram_manage_insights",
    "instagram_manage_contents",
    "pages_show_list",
    "pages_read_engagement",
    "business_management",
)


class FacebookLogin:
    """The two steps of Facebook Login for an Instagram channel."""

    def __init__(
        self,
        calls: Calls,
        *,
        graph_base: str,
        dialog_base: str,
        client_id: str | None,
        client_secret: str | None,
    ) -> None:
        self._calls = calls
        self._graph_base = graph_base
        self._dialog_base = dialog_base
        self._client_id = client_id
        self._client_secret = client_secret

    def begin(self, *, redirect_uri: str, state: str) -> AuthorizationStart:
        client_id, _ = self._app()
        query = {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "scope": ",".join(SCOPES),
            "response_type": "code",
        }
        return AuthorizationStart(url=f"{self._dialog_base}/dialog/oauth?{urllib.parse.urlencode(query)}")

    def complete(self, settings: Mapping[str, Any], *, code: str, redirect_uri: str) -> dict[str, Any]:
        """The page token and the Instagram account id of the page the person picked."""
        client_id, client_secret = self._app()
        short = self._token(
            client_id=client_id, client_secret=client_secret, redirect_uri=redirect_uri, code=code
        )
        user_token = self._token(
            grant_type="fb_exchange_token",
            client_id=client_id,
            client_secret=client_secret,
            fb_exchange_token=short,
        )
        pages = self._read(
            "me/accounts",
            user_token,
            fields="id,name,access_token,instagram_business_account{id,username}",
            limit="100",
        )
        with reading(WHAT, write=False):
            linked = [
                page
                for page in pages["data"]
                if isinstance(page, dict) and isinstance(page.get("instagram_business_account"), dict)
            ]
        wanted = settings.get(PAGE_SETTING)
        if wanted is not None:
            linked = [page for page in linked if str(page.get("id")) == str(wanted)]
        if len(linked) != 1:
            raise Rejected(_which_page(linked, wanted))
        [page] = linked
        with reading(WHAT, write=False):
            return {
                "access_token": required_text(page["access_token"]),
                "ig_user_id": identifier(page["instagram_business_account"]["id"]),
            }

    def _app(self) -> tuple[str, str]:
        if not self._client_id or not self._client_secret:
            raise Rejected(
                "Connecting Instagram needs the operator's Meta app: set CRIER_INSTAGRAM_CLIENT_ID and "
                "CRIER_INSTAGRAM_CLIENT_SECRET, or connect the channel with a page access token and its "
                "Instagram account id (credentials access_token and ig_user_id)"
            )
        return self._client_id, self._client_secret

    def _token(self, **params: str) -> str:
        answer = self._calls.answer(
            self._calls.send(
                "GET",
                f"{self._graph_base}/oauth/access_token",
                what=WHAT,
                params=params,
                secrets=[value for key, value in params.items() if key != "client_id"],
            ),
            what=WHAT,
        )
        with reading(WHAT, write=False):
            return required_text(answer["access_token"])

    def _read(self, path: str, token: str, **params: str) -> dict[str, Any]:
        response = self._calls.send(
            "GET", f"{self._graph_base}/{path}", what=WHAT, token=token, params=params, secrets=[token]
        )
        return self._calls.answer(response, what=WHAT)


def _which_page(linked: list[dict[str, Any]], wanted: object) -> str:
    if wanted is not None:
        return (
            f"The Facebook page {wanted} is not among the pages you approved Crier for, or no Instagram "
            "business or creator account is linked to it."
        )
    if not linked:
        return (
            "None of the Facebook pages you approved Crier for has an Instagram business or creator account "
            "linked to it: link one in the page's settings, then connect again."
        )
    choices = ", ".join(f"{page.get('name')} ({page.get('id')})" for page in linked)
    return (
        f"You manage several pages linked to Instagram accounts: set the channel's {PAGE_SETTING} to one "
        f"of {choices}."
    )
