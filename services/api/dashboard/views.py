"""The dashboard: one server-rendered page per workspace, for a person signed in with an API token.

Every number on it is one the JSON API also returns for the same question (sections.py names the route
each section mirrors); tests/dashboard reads them off the page in a browser and compares.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from flask import Blueprint, Flask, Response, redirect, render_template, request, url_for

from services.api.context import get_services
from services.api.dashboard import signin
from services.api.dashboard.acting import unread_total
from services.api.dashboard.approvals import approvals_blp
from services.api.dashboard.calendar_page import calendar_blp
from services.api.dashboard.channels import channels_blp, channels_to_reconnect
from services.api.dashboard.compose import compose_blp
from services.api.dashboard.inbox import inbox_blp
from services.api.dashboard.media_library import media_library_blp
from services.api.dashboard.pages import form_expired, refusal
from services.api.dashboard.post_edit import post_edit_blp
from services.api.dashboard.posts import posts_blp
from services.api.dashboard.sections import (
    METRICS,
    read_best_times,
    read_delivery_states,
    read_engagement,
    read_upcoming,
)
from services.api.dashboard.team import team_blp
from services.api.dashboard.upload_limits import too_large_page
from services.api.dashboard.viewer_zone import ViewerZone, local_time, viewer_zone
from services.api.request_limits import PageTooLarge
from shared.channels.models import Channel
from shared.channels.services import list_channels
from shared.channels.slots import WEEKDAY_KEYS
from shared.config import Settings
from shared.db import utcnow
from shared.errors import InvalidInput, NotFound, Unauthenticated
from shared.metrics.best_times import BEST_TIME_MIN_POSTS
from shared.timezones import check_timezone
from shared.wording import noun
from shared.workspaces.access import Permission
from shared.workspaces.models import Workspace
from shared.workspaces.signin import end_session, list_sessions, sign_in

# The page loads nothing from elsewhere, and runs no script at all: the charts are SVG drawn on the server.
# pygal puts its own styles inside each chart, hence inline styles.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

blp = Blueprint(
    "dashboard",
    __name__,
    url_prefix="/dashboard",
    template_folder="templates",
    static_folder="static",
    static_url_path="/assets",
)
blp.register_blueprint(inbox_blp)
blp.register_blueprint(compose_blp)
blp.register_blueprint(posts_blp)
blp.register_blueprint(post_edit_blp)
blp.register_blueprint(approvals_blp)
blp.register_blueprint(channels_blp)
blp.register_blueprint(team_blp)
blp.register_blueprint(calendar_blp)
blp.register_blueprint(media_library_blp)


def install_dashboard(app: Flask, settings: Settings) -> None:
    """Serve the dashboard and its stylesheet, with the session cookie it signs people in with."""
    signin.configure_session_cookie(app, settings)
    app.register_blueprint(blp)
    # On the app, not the blueprint: a body is refused for a path that has no route, too.
    app.register_error_handler(PageTooLarge, too_large_page)


@blp.context_processor
def template_names() -> dict[str, Any]:
    return {
        "shown": shown,
        "noun": noun,
        "METRICS": METRICS,
        "WEEKDAY_KEYS": WEEKDAY_KEYS,
        "BEST_TIME_MIN_POSTS": BEST_TIME_MIN_POSTS,
        "channels_to_reconnect": channels_to_reconnect,
        "local_time": local_time,
    }


def shown(count: int | None) -> str:
    """A count as the page shows it: unknown is a dash, never a zero."""
    return "—" if count is None else str(count)


@blp.after_request
def keep_private(response: Response) -> Response:
    # A workspace's page is for the person looking at it: no cache keeps it, no other site frames it.
    response.headers["Cache-Control"] = "no-store"
    # The inbox's pages set a policy of their own first (they show avatars from the networks).
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@blp.get("")
def dashboard() -> Any:
    """The workspace at a glance, in the timezone the `tz` parameter names (the member's own by default).

    The best-time grid is one channel's (the `channel` parameter; the first channel by default), on that
    channel's clock, as the API gives it.
    """
    asked = request.args.get("tz") or None
    with get_services().sessions.begin() as session:
        browser = signin.signed_in(session)
        if browser is None:
            return redirect(url_for(".sign_in_form", tz=asked))
        actor = browser.actor
        if not actor.can(Permission.READ):
            return refusal(403, "Your role or your token's scope does not let you read this workspace.")
        channels = list_channels(session, actor.workspace_id)
        viewer = viewer_zone(session, actor)
        try:
            zone = check_timezone(asked or viewer.name, pointer="/tz")
            best_time_channel = _chosen_channel(channels, request.args.get("channel"))
        except InvalidInput as error:
            return refusal(400, error.problems[0].detail, back=url_for(".dashboard"))
        except NotFound as error:
            return refusal(404, error.detail, back=url_for(".dashboard"))
        now = utcnow()
        return render_template(
            "dashboard/page.html",
            workspace_name=session.get_one(Workspace, actor.workspace_id).name,
            member_name=actor.name,
            timezone=zone.key,
            zone=zone,
            viewer=ViewerZone(zone.key, chosen=bool(asked) or viewer.chosen),
            channels=channels,
            channel_names={channel.id: channel.name for channel in channels},
            upcoming=read_upcoming(session, actor.workspace_id, zone, now),
            delivery_states=read_delivery_states(session, actor.workspace_id),
            engagement=read_engagement(session, actor.workspace_id, channels, zone, now),
            best_times=(
                read_best_times(session, actor.workspace_id, best_time_channel, now)
                if best_time_channel
                else None
            ),
            browser_sessions=list_sessions(session, actor, now),
            inbox_unread=unread_total(session, actor.workspace_id),
            this_session_id=browser.session_id,
            csrf_token=signin.csrf_token(),
        )


def _chosen_channel(channels: Sequence[Channel], asked: str | None) -> Channel | None:
    """The workspace's channel the `channel` parameter names; by default its first (None if it has none)."""
    if not asked:
        return channels[0] if channels else None
    chosen = next((channel for channel in channels if str(channel.id) == asked), None)
    if chosen is None:
        raise NotFound("channel", asked)
    return chosen


@blp.get("/sign-in")
def sign_in_form() -> Any:
    return render_template(
        "dashboard/sign_in.html", csrf_token=signin.csrf_token(), timezone=request.args.get("tz", "")
    )


@blp.post("/sign-in")
def sign_in_with_token() -> Any:
    """Sign in with an API token; read permission is enough."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    # Without a zone asked for, the page shows the member's own (or UTC): no `tz` is added to the link.
    timezone_name = request.form.get("tz") or None
    try:
        with get_services().sessions.begin() as session:
            signed_in = sign_in(
                session,
                request.form.get("token", "").strip(),
                utcnow(),
                user_agent=request.headers.get("User-Agent", ""),
            )
    except Unauthenticated as error:
        return render_template(
            "dashboard/sign_in.html",
            csrf_token=signin.csrf_token(),
            timezone=timezone_name,
            error=error.detail,
        ), 401
    signin.remember(signed_in)
    return redirect(url_for(".dashboard", tz=timezone_name))


@blp.post("/sign-out")
def sign_out() -> Any:
    """End this browser's session on the server, not only in the browser."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    with get_services().sessions.begin() as session:
        signin.forget(session)
    return redirect(url_for(".sign_in_form"))


@blp.post("/sessions/<uuid:session_id>/end")
def end_other_session(session_id: uuid.UUID) -> Any:
    """End another of the member's sessions (a browser left signed in elsewhere)."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    with get_services().sessions.begin() as session:
        browser = signin.signed_in(session)
        if browser is None:
            return redirect(url_for(".sign_in_form"))
        try:
            end_session(session, browser.actor, session_id)
        except NotFound as error:
            return refusal(404, error.detail, back=url_for(".dashboard"))
    if session_id == browser.session_id:
        signin.forget_cookie()
        return redirect(url_for(".sign_in_form"))
    return redirect(url_for(".dashboard") + "#sessions")
