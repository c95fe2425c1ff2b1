"""Connecting an X account to Crier, and renewing its token: OAuth 2.0 Authorization Code with PKCE.

Followed: docs.x.com/resources/fundamentals/authentication/oauth-2-0/authorization-code and
.../user-access-token. The person approves Crier at X's authorize page (`x_authorize_url`) with the
operator's app (`x_client_id`); the code comes back to Crier's callback and is exchanged at
`POST {x_api_url}/2/oauth2/token` with the PKCE verifier. A confidential client (one with a secret,
`x_client_secret`) authenticates there with HTTP Basic; a public one sends its `client_id` in the form.

The access token lives two hours (`expires_in`: 7200); with the `offline.access` scope a refresh token comes
with it. A refresh token works once: each refresh answers a new access token *and* a new refresh token, and
the old refresh token is refused from then on (400 invalid_request). So the new pair must be stored before
anything else uses the old one: Crier's refresh job holds the channel's row locked while it renews.
"""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from shared.networks.ports import AuthExpired, AuthorizationStart, Rejected
from shared.networks.toolkit.answers import answer_object, network_words
from shared.networks.toolkit.calls import Calls, host_of
from shared.networks.toolkit.tokens import token_credentials

# like.write for liking (POST /2/users/:id/likes) and tweet.moderate.write for hiding replies (PUT
# /2/tweets/:id/hidden), as their references list; a channel connected before they were asked for must be
# connected again to like or hide.
SCOPES = (
    "tweet.read",
    "tweet.write",
    "users.read",
    "offline.access",
    "media.write",
    "like.write",
    "tweet.moderate.write",
)
PKCE_METHOD = "S256"
TOKEN_PATH = "/2/oauth2/token"


class XApp:
    """The operator's X app (from the settings), and the token endpoint's two grants."""

    def __init__(
        self,
        calls: Calls,
        *,
        api_url: str,
        authorize_url: str,
        client_id: str | None,
        client_secret: str | None,
    ) -> None:
        self._calls = calls
        self._api_url = api_url.rstrip("/")
        self._authorize_url = authorize_url
        self._client_id = client_id or None
        self._client_secret = client_secret or None

    def _require_client(self) -> str:
        if self._client_id is None:
            raise Rejected(
                "X is not set up on this Crier: the operator must register an app on X and set "
                "CRIER_X_CLIENT_ID (and CRIER_X_CLIENT_SECRET for a confidential client)"
            )
        return self._client_id

    def begin(self, *, redirect_uri: str, state: str, code_challenge: str) -> AuthorizationStart:
        """X's page where the person approves Crier, with the scopes Crier posts and reads with."""
        query = {
            "response_type": "code",
            "client_id": self._require_client(),
            "redirect_uri": redirect_uri,
            "scope": " ".join(SCOPES),
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": PKCE_METHOD,
        }
        separator = "&" if "?" in self._authorize_url else "?"
        url = self._authorize_url + separator + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        # Nothing of the app's needs keeping until the person returns: the client comes from the settings.
        return AuthorizationStart(url=url, app_credentials={})

    def complete(self, *, code: str, redirect_uri: str, code_verifier: str, now: datetime) -> dict[str, Any]:
        """The channel's credentials for the code; Rejected when X refuses the code or the verifier."""
        fields = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        response = self._token_call(fields)
        if not response.is_success:
            raise self._refused(response, "the authorization code")
        return self._credentials(response, now)

    def refresh(self, refresh_token: str, *, now: datetime) -> dict[str, Any]:
        """New credentials from the refresh token, which X then refuses for good: store these at once.

        AuthExpired when X refuses the refresh token (used already, revoked, or the person removed Crier):
        a person reconnects. A refusal of the operator's app itself is Rejected: reconnecting cannot help.
        A refresh whose answer was lost (a 5xx, a timeout after sending) is OutcomeUnknown: X may have
        spent the refresh token on a pair Crier never received, and then only reconnecting helps.
        """
        response = self._token_call(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}, secret=refresh_token, spends=True
        )
        if not response.is_success:
            error = self._refused(response, "the refresh token", secret=refresh_token, spends=True)
            if isinstance(error, Rejected) and response.status_code == 400:
                raise AuthExpired(str(error))
            raise error
        return self._credentials(response, now)

    def _token_call(
        self, fields: Mapping[str, str], *, secret: str = "", spends: bool = False
    ) -> httpx.Response:
        client_id = self._require_client()
        headers: dict[str, str] = {}
        form = dict(fields)
        if self._client_secret is not None:
            pair = f"{client_id}:{self._client_secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        else:
            form["client_id"] = client_id
        # A code exchange whose answer is lost is retried as a read: at worst X refuses the spent code and the
        # person approves again. A refresh `spends` its one-use token: a lost answer is told as uncertain.
        return self._calls.send(
            "POST",
            f"{self._api_url}{TOKEN_PATH}",
            what="X token endpoint",
            write=spends,
            data=form,
            headers=headers,
            secrets=[secret, self._client_secret or ""],
        )

    def _refused(
        self, response: httpx.Response, what: str, *, secret: str = "", spends: bool = False
    ) -> Exception:
        secrets = [secret, self._client_secret or ""]
        words = network_words(response, secrets=secrets)
        host = host_of(self._api_url)
        if response.status_code == 401:
            # invalid_client / unauthorized_client: the operator's id or secret, not the person's grant.
            return Rejected(
                f"{host} refused Crier's X app ({words}): check CRIER_X_CLIENT_ID and CRIER_X_CLIENT_SECRET"
            )
        if response.status_code in (400, 403):
            return Rejected(f"{host} refused {what}: {words}")
        return self._calls.refusal(response, what=host, write=spends, secrets=secrets)

    def _credentials(self, response: httpx.Response, now: datetime) -> dict[str, Any]:
        host = host_of(self._api_url)
        credentials = token_credentials(answer_object(response, what=host, write=False), now, what=host)
        if "refresh_token" not in credentials:
            raise Rejected(
                f"{host} gave no refresh token: the offline.access scope was not granted, so the channel "
                "would stop working in two hours; connect it again and allow Crier to stay connected"
            )
        return credentials
