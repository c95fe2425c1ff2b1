"""GET /l/<code>: where a reader who clicks a Crier short link lands, and where the click is counted.

A click counts once per client (address and user agent) per CRIER_LINK_CLICK_WINDOW_SECONDS, so reloading
or a script clicking in a loop does not inflate a post's numbers; the address is read as the rate limits
read it (services.api.rate_limits: behind CRIER_TRUSTED_PROXY_HOPS proxies, from X-Forwarded-For).

It lives outside /v1 and needs no token: the people clicking are the networks' readers, not API clients.
It is not in the OpenAPI document either, which describes the API a program calls; no program calls this,
and its URLs are made by Crier, never put together by a client.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, redirect, request
from werkzeug.wrappers import Response

from services.api.context import get_services
from services.api.problems import problem
from shared.db import utcnow
from shared.links.services import SHORT_LINK_PATH, find_target, record_click, visitor_digest

# What the networks' link-preview fetchers say they are, lower-cased. Each network fetches every link of
# every post once (Mastodon once per instance the post reaches) to draw its card; counting those fetches
# would invent clicks, and more of them on the networks that fetch more. Sources: Slack's
# api.slack.com/robots (Slackbot-LinkExpanding), X's Twitterbot, Meta's facebookexternalhit, Discordbot,
# Mastodon's `http.rb/… (Mastodon/…; +https://instance/)`, Bluesky's card fetcher `Bluesky Cardyb`, and
# those of LinkedIn, Telegram and WhatsApp, where posts get passed on.
LINK_PREVIEW_ROBOTS = (
    "slackbot",
    "twitterbot",
    "facebookexternalhit",
    "discordbot",
    "mastodon/",
    "bluesky cardyb",
    "linkedinbot",
    "telegrambot",
    "whatsapp/",
)

redirects = Blueprint("redirects", __name__)


@redirects.get(f"{SHORT_LINK_PATH}<code>")
def follow_short_link(code: str) -> Response:
    """Send the reader to the link's target, counting the click unless a robot or a HEAD asked."""
    services = get_services()
    with services.sessions.begin() as session:
        if is_not_a_click():
            target = find_target(session, code)
        else:
            target = record_click(
                session,
                code,
                utcnow(),
                visitor=visitor_digest(request.remote_addr or "", request.headers.get("User-Agent", "")),
                window=timedelta(seconds=services.settings.link_click_window_seconds),
            )
    if target is None:
        return problem(404, "There is no short link with this code.")
    response = redirect(target, 302)
    # Nothing on the way (the browser, a proxy, a CDN) may keep this answer and replay it: each click must
    # reach Crier to be counted.
    response.headers["Cache-Control"] = "no-store"
    return response


def is_not_a_click() -> bool:
    """A HEAD (a checker asking whether the link works) or a network drawing a link's preview card."""
    user_agent = request.headers.get("User-Agent", "").lower()
    return request.method == "HEAD" or any(robot in user_agent for robot in LINK_PREVIEW_ROBOTS)
