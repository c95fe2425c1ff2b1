"""Connecting a Mastodon account to Crier: OAuth 2, the authorization code with PKCE (methods/apps,
methods/oauth; PKCE with S256 since Mastodon 4.3, announced at /.well-known/oauth-authorization-server)."""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from shared.networks.mastodon.channel import ChannelSettings, check_base_url
from shared.networks.ports import AuthorizationStart, Rejected
from shared.networks.toolkit.answers import answer_object, network_words, reading, required_text
from shared.networks.toolkit.calls import Calls, host_of

SCOPES = "read write"
OUT_OF_BAND = "urn:ietf:wg:oauth:2.0:oob"
PKCE_METHOD = "S256"
SERVER_METADATA_PATH = "/.well-known/oauth-authorization-server"


class UnknownClient(Rejected):
    """The server does not know Crier's registration (invalid_client): it was removed; register again."""


@dataclass(frozen=True)
class RegisteredApp:
    """Crier's client registration on one server (POST /api/v1/apps)."""

    base_url: str
    client_id: str
    client_secret: str = field(default="", repr=False)
    redirect_uri: str = OUT_OF_BAND
    scopes: str = SCOPES


@dataclass(frozen=True)
class AccessToken:
    """A user's token for Crier (POST /oauth/token)."""

    access_token: str = field(repr=False)
    token_type: str
    scope: str
    created_at: int | None = None


class Authorizations:
    """Crier's registrations on Mastodon servers, and the two steps that connect an account with them.

    One registration serves every account on a server for as long as this process runs: Mastodon's
    documentation asks clients not to register anew each time, and a registration costs nothing to lose
    (the next authorization registers again).
    """

    def __init__(self, calls: Calls) -> None:
        self._calls = calls
        self._lock = threading.Lock()
        # By server and redirect URI.
        self._apps: dict[tuple[str, str], RegisteredApp] = {}

    def begin(
        self, channel: ChannelSettings, *, redirect_uri: str, state: str, code_challenge: str
    ) -> AuthorizationStart:
        """The server's page where the person approves Crier, with Crier registered on the server first.

        The challenge is sent only to a server that announces S256 in its metadata (Mastodon 4.3 and
        later): a server that supports PKCE refuses a verifier for a code issued without a challenge, and an
        older one ignores both. There, the client secret, which never leaves Crier, still binds the code to
        Crier.
        """
        app = self._registered_app(channel, redirect_uri)
        pkce = self._supports_pkce(channel)
        return AuthorizationStart(
            url=authorize_url(app, state=state, code_challenge=code_challenge if pkce else None),
            app_credentials={"client_id": app.client_id, "client_secret": app.client_secret, "pkce": pkce},
        )

    def complete(
        self,
        channel: ChannelSettings,
        app_credentials: Mapping[str, Any],
        *,
        code: str,
        redirect_uri: str,
        code_verifier: str,
    ) -> dict[str, Any]:
        """The access token for the code; Rejected when the server refuses the code or the verifier."""
        app = RegisteredApp(
            base_url=channel.base_url,
            client_id=str(app_credentials.get("client_id", "")),
            client_secret=str(app_credentials.get("client_secret", "")),
            redirect_uri=redirect_uri,
        )
        verifier = code_verifier if app_credentials.get("pkce") is True else None
        try:
            token = exchange_code(app, code, code_verifier=verifier, calls=self._calls)
        except UnknownClient:
            with self._lock:
                if self._apps.get((channel.base_url, redirect_uri)) == app:
                    del self._apps[(channel.base_url, redirect_uri)]
            raise
        return {"access_token": token.access_token}

    def _registered_app(self, channel: ChannelSettings, redirect_uri: str) -> RegisteredApp:
        key = (channel.base_url, redirect_uri)
        with self._lock:
            app = self._apps.get(key)
        if app is None:
            # Two people starting at once may both register; either registration works, the last is kept.
            app = register_app(channel.base_url, redirect_uri=redirect_uri, calls=self._calls)
            with self._lock:
                self._apps[key] = app
        return app

    def _supports_pkce(self, channel: ChannelSettings) -> bool:
        """Whether the server takes an S256 challenge, from its metadata (RFC 8414; Mastodon 4.3+)."""
        response = self._calls.send("GET", f"{channel.base_url}{SERVER_METADATA_PATH}")
        if response.status_code == 404:
            return False  # before 4.3: no metadata, and no PKCE
        methods = self._calls.answer(response, what=channel.host).get("code_challenge_methods_supported")
        return isinstance(methods, list) and PKCE_METHOD in methods


def register_app(
    base_url: str,
    *,
    calls: Calls,
    redirect_uri: str = OUT_OF_BAND,
    client_name: str = "Crier",
    website: str | None = None,
) -> RegisteredApp:
    """Register Crier with a server, once per server; keep the result secret."""
    url, problems = check_base_url(base_url, calls.outbound.policy)
    if url is None:
        raise Rejected("; ".join(problems))
    fields = {"client_name": client_name, "redirect_uris": redirect_uri, "scopes": SCOPES}
    if website:
        fields["website"] = website
    response = _oauth_call(calls, "POST", f"{url}/api/v1/apps", data=fields)
    host = host_of(url)
    body = answer_object(response, what=host, write=False)
    with reading(host, write=False):
        return RegisteredApp(
            base_url=url,
            client_id=required_text(body["client_id"]),
            client_secret=required_text(body["client_secret"]),
            redirect_uri=redirect_uri,
        )


def authorize_url(
    app: RegisteredApp,
    *,
    state: str | None = None,
    code_challenge: str | None = None,
    force_login: bool = False,
) -> str:
    """Where to send the person to approve Crier; the server then gives a code to `exchange_code`.

    `code_challenge` is the S256 challenge of the verifier that `exchange_code` will send (RFC 7636).
    """
    query = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uri,
        "scope": app.scopes,
    }
    if state is not None:
        query["state"] = state
    if code_challenge is not None:
        query["code_challenge"] = code_challenge
        query["code_challenge_method"] = PKCE_METHOD
    if force_login:
        query["force_login"] = "true"
    return f"{app.base_url}/oauth/authorize?{urllib.parse.urlencode(query, quote_via=urllib.parse.quote)}"


def exchange_code(
    app: RegisteredApp, code: str, *, calls: Calls, code_verifier: str | None = None
) -> AccessToken:
    """Turn the code the person was given into an access token.

    `code_verifier` only for a code authorized with a challenge: a server with PKCE refuses one otherwise.
    """
    fields = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "redirect_uri": app.redirect_uri,
        "scope": app.scopes,
    }
    if code_verifier is not None:
        fields["code_verifier"] = code_verifier
    response = _oauth_call(calls, "POST", f"{app.base_url}/oauth/token", data=fields)
    host = host_of(app.base_url)
    body = answer_object(response, what=host, write=False)
    created = body.get("created_at")
    with reading(host, write=False):
        access_token = required_text(body["access_token"])
    return AccessToken(
        access_token=access_token,
        token_type=str(body.get("token_type", "Bearer")),
        scope=str(body.get("scope", app.scopes)),
        created_at=created if isinstance(created, int) else None,
    )


def _oauth_call(calls: Calls, method: str, url: str, **request: Any) -> httpx.Response:
    # Registering twice or failing to exchange a code harms nothing: every failure may be retried, so no
    # call here counts as a write.
    response = calls.send(method, url, **request)
    if response.status_code == 401:
        # invalid_client: the registration is unknown to the server; register again.
        raise UnknownClient(f"{host_of(url)} answered 401: {network_words(response)}")
    calls.check(response, what=host_of(url))
    return response
