"""Facebook Login as the fake Instagram plays it ("Manually Build a Login Flow", "Long-Lived Access Tokens"):
the person's approval in the dialog, the code exchanged once for the redirect URI it was issued for and with
the app's secret, the short token exchanged for a long one, and the pages the person manages."""

from __future__ import annotations

import secrets
import threading
import urllib.parse
from typing import TYPE_CHECKING

from flask import Response

from tests.networks.instagram.graph_answers import error, json_answer

if TYPE_CHECKING:
    from tests.networks.instagram.fake import IgAccount


class FacebookLoginFake:
    """Mixed into the fake Instagram: what it keeps of the people who connect, and its login endpoints."""

    client_id: str
    client_secret: str
    lock: threading.Lock
    accounts: dict[str, IgAccount]
    codes: dict[str, tuple[str, str]]
    user_tokens: dict[str, str]
    users: dict[str, list[str]]

    def _next_id(self) -> str:
        raise NotImplementedError

    def approve(self, url: str, *, user: str = "person") -> str:
        """The person's press of "Continue" in Facebook's dialog at `url`: where the browser goes next."""
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        assert query["client_id"] == self.client_id
        assert query["response_type"] == "code"
        code = f"code-{secrets.token_hex(8)}"
        with self.lock:
            self.codes[code] = (query["redirect_uri"], user)
        return f"{query['redirect_uri']}?{urllib.parse.urlencode({'code': code, 'state': query['state']})}"

    def _access_token(self, params: dict[str, str]) -> Response:
        if params.get("client_id") != self.client_id or params.get("client_secret") != self.client_secret:
            return error(400, "Error validating client secret.", 1)
        if params.get("grant_type") == "fb_exchange_token":
            user = self.user_tokens.get(params.get("fb_exchange_token", ""))
            if user is None:
                return error(400, "Invalid OAuth access token.", 190)
            long_lived = f"long-{secrets.token_hex(8)}"
            self.user_tokens[long_lived] = user
            return json_answer({"access_token": long_lived, "token_type": "bearer", "expires_in": 5183944})
        with self.lock:
            issued = self.codes.pop(params.get("code", ""), None)
        if issued is None:
            return error(400, "This authorization code has been used.", 100, 36009)
        if issued[0] != params.get("redirect_uri"):
            return error(
                400,
                "Error validating verification code. Please make sure your redirect_uri is identical",
                100,
                36008,
            )
        short = f"short-{secrets.token_hex(8)}"
        self.user_tokens[short] = issued[1]
        return json_answer({"access_token": short, "token_type": "bearer", "expires_in": 5400})

    def _pages(self, token: str) -> Response:
        user = self.user_tokens.get(token)
        if user is None or not token.startswith("long-"):
            return error(400, "Invalid OAuth access token.", 190)
        pages = []
        for ig_user_id in self.users.get(user, []):
            account = self.accounts[ig_user_id]
            pages.append(
                {
                    "id": account.page_id,
                    "name": account.page_name,
                    "access_token": account.token,
                    "instagram_business_account": {"id": account.ig_user_id, "username": account.username},
                }
            )
        pages.append({"id": self._next_id(), "name": "A page with no Instagram", "access_token": "other"})
        return json_answer({"data": pages})
