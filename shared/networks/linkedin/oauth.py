"""Connecting a LinkedIn member (and the pages they administer) to Crier: OAuth 2's three-legged flow with the
operator's app, and renewing the access token where LinkedIn gave a refresh token.

Followed: LinkedIn's "Authorization Code Flow (3-legged OAuth)" and "Refresh Tokens with OAuth 2.0"
(learn.microsoft.com/linkedin/shared/authentication/), and "Sign In with LinkedIn using OpenID Connect"
(GET /v2/userinfo, whose `sub` is the member's id). The person approves at `{oauth}/authorization`; the code
is exchanged at `{oauth}/accessToken` with the app's client id and secret. Access tokens last 60 days
(`expires_in`); refresh tokens (365 days, `refresh_token_expires_in`) are given only to apps LinkedIn
approved for them, and a refresh keeps the refresh token's own expiry. LinkedIn offers PKCE only to native
apps it enabled it for, not to a standard web app: Crier's challenge is not sent, and the client secret,
which never leaves Crier, binds the code to Crier.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from shared.networks.linkedin.channel import ChannelSettings
from shared.networks.linkedin.rest import WHAT, LinkedInApi
from shared.networks.ports import AuthExpired, AuthorizationStart, NetworkError, Rejected
from shared.networks.toolkit.answers import reading, required_text
from shared.networks.toolkit.tokens import expiry_after, token_credentials

MEMBER_SCOPES = ("openid", "profile", "w_member_social")
PAGE_SCOPES = ("w_organization_social", "r_organization_social")


def scopes(channel: ChannelSettings) -> str:
    """The permissions a channel needs: a member's own posts, and a page's posts and their reading."""
    return " ".join(MEMBER_SCOPES + (PAGE_SCOPES if channel.is_page else ()))


class Authorizations:
    """The operator's LinkedIn app, and the steps that connect a channel and renew its token."""

    def __init__(
        self, api: LinkedInApi, *, oauth_url: str, client_id: str | None, client_secret: str | None
    ) -> None:
        self._api = api
        self._oauth_url = oauth_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret

    def begin(self, channel: ChannelSettings, *, redirect_uri: str, state: str) -> AuthorizationStart:
        client_id, _ = self._app()
        fields = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "scope": scopes(channel),
        }
        url = (
            f"{self._oauth_url}/authorization?{urllib.parse.urlencode(fields, quote_via=urllib.parse.quote)}"
        )
        return AuthorizationStart(url=url, app_credentials={})

    def complete(self, *, code: str, redirect_uri: str, now: datetime) -> dict[str, Any]:
        """The channel's credentials for the code: the token, when it expires, and the member's URN."""
        answer = self._token_call(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
            refused=Rejected,
        )
        credentials = linkedin_credentials(answer, now)
        me = self._api.get("/v2/userinfo", credentials["access_token"])
        with reading(WHAT, write=False):
            credentials["member_urn"] = f"urn:li:person:{required_text(me['sub'])}"
        return credentials

    def refresh(self, credentials: Mapping[str, Any], now: datetime) -> dict[str, Any]:
        """New credentials from the refresh token; AuthExpired when there is none or LinkedIn refuses it."""
        refresh_token = credentials.get("refresh_token")
        if not isinstance(refresh_token, str) or not refresh_token:
            raise AuthExpired(
                "LinkedIn gives refresh tokens only to apps it approved for them: a person must connect the "
                "channel again before its token expires"
                + (f" ({credentials['expires_at']})" if credentials.get("expires_at") else "")
            )
        answer = self._token_call(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}, refused=AuthExpired
        )
        renewed = linkedin_credentials(answer, now)
        # Whatever else the channel keeps (the member's URN) stays; the token and its expiries are new.
        return {**credentials, **renewed}

    def _token_call(self, fields: dict[str, str], *, refused: type[NetworkError]) -> dict[str, Any]:
        client_id, client_secret = self._app()
        response = self._api.calls.send(
            "POST",
            f"{self._oauth_url}/accessToken",
            what=WHAT,
            secrets=[client_secret, *(fields[key] for key in ("code", "refresh_token") if key in fields)],
            data={**fields, "client_id": client_id, "client_secret": client_secret},
        )
        if response.status_code in (400, 401):
            # invalid_grant (a used, expired or revoked code or refresh token), invalid_client (a wrong id
            # or secret), invalid_redirect_uri: asking again with the same would fail the same way.
            error = self._api.calls.refusal(response, what=WHAT, write=False)
            raise refused(str(error))
        return self._api.calls.answer(response, what=WHAT)

    def _app(self) -> tuple[str, str]:
        if not self._client_id or not self._client_secret:
            raise Rejected(
                "no LinkedIn app is configured: the operator sets CRIER_LINKEDIN_CLIENT_ID and "
                "CRIER_LINKEDIN_CLIENT_SECRET to the app's client id and secret"
            )
        return self._client_id, self._client_secret


def linkedin_credentials(answer: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """A token answer as credentials (toolkit.tokens), with when the refresh token expires where given."""
    credentials = token_credentials(answer, now, what=WHAT)
    if "refresh_token" in credentials and answer.get("refresh_token_expires_in") is not None:
        with reading(WHAT, write=False):
            credentials["refresh_token_expires_at"] = expiry_after(now, answer["refresh_token_expires_in"])
    return credentials
