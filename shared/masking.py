"""Addresses that carry a secret, shown without it.

A webhook's URL is often its only credential: Slack's, Discord's and most automation tools' hooks put a
token in the path or the query, so whoever reads the URL can post as the workspace. Members who may not
change the webhook or the channel see the host alone (https://hooks.example.org/…), and the audit log
keeps the host alone for everyone: a log is kept longer and read by more people than the setting itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

HIDDEN = "…"


def masked_url(url: str) -> str:
    """The scheme and host (and port) of an http(s) URL, with `…` for its path, query, fragment and any
    user name or password; `…` alone for anything that is not such a URL."""
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return HIDDEN
    if parts.scheme.lower() not in ("http", "https") or not host:
        return HIDDEN
    shown = f"[{host}]" if ":" in host else host
    if port is not None:
        shown += f":{port}"
    origin = f"{parts.scheme.lower()}://{shown}"
    hides_something = parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc
    return f"{origin}/{HIDDEN}" if hides_something else origin


def looks_like_url(value: object) -> bool:
    return isinstance(value, str) and value.strip().lower().startswith(("http://", "https://"))


def masked_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """A channel's settings with every URL among them masked: the webhook network's `url` is its secret,
    and no network's other settings are worth a reader's knowing a URL's path."""
    return {key: masked_url(value) if looks_like_url(value) else value for key, value in settings.items()}
