"""Secrets in the URLs httpx logs at INFO are blanked, whichever network sent them."""

from __future__ import annotations

import logging

import pytest

from shared.networks.toolkit.calls import RedactWebhookSecrets


def logged(url: str) -> str:
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, "HTTP Request: GET %s", (url,), None)
    RedactWebhookSecrets().filter(record)
    return record.getMessage()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://graph.facebook.com/v24.0/oauth/access_token?client_id=1&client_secret=s3cret&code=c0de"
            "&redirect_uri=https%3A%2F%2Fx",
            "https://graph.facebook.com/v24.0/oauth/access_token?client_id=1&client_secret=[redacted]"
            "&code=[redacted]&redirect_uri=https%3A%2F%2Fx",
        ),
        (
            "https://graph.threads.net/refresh_access_token?grant_type=th_refresh_token&access_token=t0ken",
            "https://graph.threads.net/refresh_access_token?grant_type=th_refresh_token&access_token=[redacted]",
        ),
        (
            "https://graph.facebook.com/oauth/access_token?grant_type=fb_exchange_token&fb_exchange_token=t0k",
            "https://graph.facebook.com/oauth/access_token?grant_type=fb_exchange_token&fb_exchange_token=[redacted]",
        ),
        ("https://discord.com/api/webhooks/123/s3cret", "https://discord.com/api/webhooks/123/[redacted]"),
        ("https://example.com/page?error_code=5", "https://example.com/page?error_code=5"),
    ],
)
def test_tokens_and_app_secrets_are_blanked_in_the_path_and_the_query(url: str, shown: str) -> None:
    assert logged(url) == f"HTTP Request: GET {shown}"
