"""A URL that may carry a secret, shown as its host alone."""

from __future__ import annotations

import pytest

from shared.masking import masked_settings, masked_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX", "https://hooks.slack.com/…"),
        ("https://hooks.example.org/crier?token=s3cret", "https://hooks.example.org/…"),
        ("https://hooks.example.org:8443/#s3cret", "https://hooks.example.org:8443/…"),
        ("https://user:s3cret@hooks.example.org/", "https://hooks.example.org/…"),
        ("HTTPS://Hooks.Example.org", "https://hooks.example.org"),
        ("https://mastodon.social/", "https://mastodon.social"),
        ("http://[2001:db8::1]:8080/s3cret", "http://[2001:db8::1]:8080/…"),
        ("ftp://files.example.org/s3cret", "…"),
        ("https://[not an address/s3cret", "…"),
        ("not a url s3cret", "…"),
    ],
)
def test_only_the_scheme_host_and_port_are_shown(url: str, shown: str) -> None:
    assert masked_url(url) == shown
    assert "s3cret" not in masked_url(url).lower()
    assert "secret" not in masked_url(url).lower()


def test_every_url_among_a_channels_settings_is_masked_and_nothing_else() -> None:
    settings = {"url": "https://hooks.example.org/in/s3cret", "max_length": 500, "visibility": "public"}

    assert masked_settings(settings) == {
        "url": "https://hooks.example.org/…",
        "max_length": 500,
        "visibility": "public",
    }
