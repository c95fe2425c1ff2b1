"""The settings of the networks whose API lives at one address, and of the operator's apps on them.

Part of Settings (shared.config), kept apart because there is one group of them per network: each address
can be pointed elsewhere (a proxy, a local Bot API server, a test's fake), and the networks that connect
through OAuth use the operator's own app, registered once with the network.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings


class NetworkApps(BaseSettings):
    """Where each network's API is called, and the operator's apps there (CRIER_<NETWORK>_…)."""

    discord_api_url: str = Field(
        default="https://discord.com/api/v10",
        description="Where Discord's webhooks are called; each channel's webhook URL names which one.",
    )
    slack_hooks_url: str | None = Field(
        default=None,
        description="Where Slack's incoming webhooks are called. Unset: the host each webhook URL names.",
    )
    x_api_url: str = Field(default="https://api.x.com", description="X's API (v2) address.")
    x_authorize_url: str = Field(
        default="https://x.com/i/oauth2/authorize", description="X's page where a person approves Crier."
    )
    x_client_id: str | None = Field(default=None, description="The operator's X app: its OAuth 2 client id.")
    x_client_secret: str | None = Field(
        default=None, description="The operator's X app: its client secret (confidential clients only)."
    )
    linkedin_api_url: str = Field(
        default="https://api.linkedin.com", description="LinkedIn's API address (the REST Posts API)."
    )
    linkedin_oauth_url: str = Field(
        default="https://www.linkedin.com/oauth/v2", description="LinkedIn's OAuth 2 address."
    )
    linkedin_version: str = Field(
        default="202510",
        pattern=r"^\d{6}$",
        description="The LinkedIn-Version header (YYYYMM) every call sends: the API version Crier was "
        "written against. LinkedIn retires a version a year after it ships.",
    )
    linkedin_client_id: str | None = Field(
        default=None, description="The operator's LinkedIn app: client id."
    )
    linkedin_client_secret: str | None = Field(
        default=None, description="The operator's LinkedIn app: client secret."
    )
    facebook_graph_url: str = Field(
        default="https://graph.facebook.com", description="Meta's Graph API address (Facebook and Instagram)."
    )
    facebook_graph_version: str = Field(
        default="v24.0", pattern=r"^v\d+\.\d+$", description="The Graph API version every call names."
    )
    facebook_dialog_url: str = Field(
        default="https://www.facebook.com", description="Where Facebook's login dialog is."
    )
    facebook_client_id: str | None = Field(default=None, description="The operator's Meta app: its app id.")
    facebook_client_secret: str | None = Field(
        default=None, description="The operator's Meta app: its secret."
    )
    instagram_graph_url: str = Field(
        default="https://graph.facebook.com",
        description="The Graph API Instagram business accounts are published through (its version is "
        "CRIER_FACEBOOK_GRAPH_VERSION's).",
    )
    instagram_client_id: str | None = Field(
        default=None, description="The Meta app Instagram business accounts connect through: its app id."
    )
    instagram_client_secret: str | None = Field(default=None, description="That Meta app's secret.")
    threads_api_url: str = Field(default="https://graph.threads.net", description="The Threads API address.")
    threads_authorize_url: str = Field(
        default="https://threads.net/oauth/authorize",
        description="Threads' page where a person approves Crier.",
    )
    threads_client_id: str | None = Field(default=None, description="The operator's Threads app: its app id.")
    threads_client_secret: str | None = Field(default=None, description="The operator's Threads app: secret.")
    telegram_api_url: str = Field(
        default="https://api.telegram.org", description="Telegram's Bot API address."
    )
