"""Connecting a channel by authorizing Crier on the network: begin, then the network's way back.

POST /v1/channels/authorizations answers the network's page to send the person to. The network sends
their browser back to GET /oauth/callback, which lies outside /v1 on purpose: a browser following a
redirect carries no bearer token. There the `state` is the credential: 256 random bits, known only to
whoever began and to the network, used once, within ten minutes, and only in the workspace it was begun
in. The page says whether the channel is connected, and why not. An API client that hosts its own
redirect page sends the state and code it received to POST /v1/channels/authorizations/complete, with
its bearer token, instead. A flow begun from the dashboard's channel pages (its state says so) goes back
to the dashboard instead of ending on that page: to the channel, or to the channels saying why not.
"""

from __future__ import annotations

import html
from http import HTTPStatus
from typing import Any

from flask import Response, flash, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from services.api.auth import requires
from services.api.channels.schemas import ChannelSchema
from services.api.context import get_actor, get_services
from services.api.oauth.schemas import (
    AuthorizationBeginSchema,
    AuthorizationCompleteSchema,
    AuthorizationSchema,
    CallbackQuerySchema,
)
from services.api.problems import STATUS_OF_ERROR
from shared.channels.models import Channel
from shared.db import utcnow
from shared.errors import CrierError, InvalidInput
from shared.oauth.services import (
    CALLBACK_PATH,
    begin_authorization,
    begin_reauthorization,
    complete_authorization,
    discard_authorization,
)
from shared.workspaces.access import Permission

blp = Blueprint(
    "oauth", __name__, description="Connecting an account by approving Crier on the network (OAuth 2, PKCE)."
)

HTML = "text/html"
# The error codes of an authorization response (RFC 6749, 4.1.2.1).
AUTHORIZATION_ERRORS = frozenset(
    {
        "invalid_request",
        "unauthorized_client",
        "access_denied",
        "unsupported_response_type",
        "invalid_scope",
        "server_error",
        "temporarily_unavailable",
    }
)
# What the dashboard begins its states with (shared.oauth's state_label), so the way back returns there.
DASHBOARD_STATE_LABEL = "dashboard."
# The page, documented as what it is: a page, not a JSON body.
PAGE_SCHEMA = {"type": "string", "example": "<!doctype html>…"}
# The page's address holds the code and the state: it must not be cached, nor sent on as a referrer.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
}
PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title} · Crier</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em}}</style>
</head>
<body><h1>{title}</h1><p>{message}</p><p>You can close this page.</p></body>
</html>
"""


@blp.route("/v1/channels/authorizations")
class Authorizations(MethodView):
    @requires(Permission.MANAGE_CHANNELS)
    @blp.arguments(AuthorizationBeginSchema)
    @blp.response(201, AuthorizationSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Begin connecting an account: the network's page where the person approves Crier.

        Only for networks that connect this way (Mastodon); the others take credentials at POST
        /v1/channels. With `channel_id`, reconnects that channel instead: its credentials are replaced,
        and a channel waiting for reauthorization becomes active again.
        """
        services, actor, now = get_services(), get_actor(), utcnow()
        if "channel_id" in body:
            begun = begin_reauthorization(services, actor, body["channel_id"], now=now)
        else:
            begun = begin_authorization(
                services,
                actor,
                network=body["network"],
                name=body["name"],
                settings=body.get("settings", {}),
                now=now,
            )
        return {"authorization_url": begun.url, "expires_at": begun.expires_at}


@blp.route("/v1/channels/authorizations/complete")
class CompletedAuthorizations(MethodView):
    @requires(Permission.MANAGE_CHANNELS)
    @blp.arguments(AuthorizationCompleteSchema)
    @blp.response(201, ChannelSchema)
    def post(self, body: dict[str, Any]) -> Channel:
        """Complete an authorization with the state and code the network sent the person back with.

        For API clients that host their own redirect page; otherwise the network sends the person to
        GET /oauth/callback, which does this. A state is used once, and only in its own workspace.
        """
        return complete_authorization(
            get_services(),
            state=body["state"],
            code=body["code"],
            now=utcnow(),
            workspace_id=get_actor().workspace_id,
        )


@blp.route(CALLBACK_PATH)
class Callback(MethodView):
    @blp.doc(security=[])  # the network's redirect carries no token: the state is the credential
    @blp.arguments(CallbackQuerySchema, location="query")
    @blp.response(200, PAGE_SCHEMA, content_type=HTML, description="The channel is connected.")
    @blp.alt_response(
        303, description="Begun from the dashboard: back to the channel, or to the channels saying why not."
    )
    @blp.alt_response(400, schema=PAGE_SCHEMA, content_type=HTML, description="Declined, or refused.")
    @blp.alt_response(404, schema=PAGE_SCHEMA, content_type=HTML, description="No authorization waits.")
    @blp.alt_response(422, schema=PAGE_SCHEMA, content_type=HTML, description="Expired, or code refused.")
    @blp.alt_response(503, schema=PAGE_SCHEMA, content_type=HTML, description="The network did not answer.")
    def get(self, query: dict[str, Any]) -> Response:
        """Where the network sends the person back; a page saying whether the channel is connected."""
        state, code, error = query["state"], query["code"], query["error"]
        if not state:
            return _page(
                HTTPStatus.BAD_REQUEST, "Not connected", "The network sent you back without a state."
            )
        from_dashboard = state.startswith(DASHBOARD_STATE_LABEL)
        if error or not code:
            discard_authorization(get_services(), state)
            return _not_connected(HTTPStatus.BAD_REQUEST, _why_not(error), from_dashboard)
        try:
            channel = complete_authorization(get_services(), state=state, code=code, now=utcnow())
        except CrierError as failure:
            return _not_connected(_status_of(failure), _reason(failure), from_dashboard)
        network = get_services().networks.get(channel.network).info.display_name
        said = f"Crier now posts to the channel “{channel.name}” as {channel.handle} on {network}."
        if from_dashboard:
            flash(f"Connected: {said}")
            return _to_dashboard(url_for("dashboard.channels.channel", channel_id=channel.id))
        return _page(HTTPStatus.OK, "Connected", said)


def _not_connected(status: int, why: str, from_dashboard: bool) -> Response:
    if from_dashboard:
        flash(f"Not connected: {why}")
        return _to_dashboard(url_for("dashboard.channels.channels"))
    return _page(status, "Not connected", why)


def _to_dashboard(location: str) -> Response:
    # The same headers as the page: this address too holds the code and the state.
    return Response(status=HTTPStatus.SEE_OTHER, headers={"Location": location, **PAGE_HEADERS})


def _why_not(error: str | None) -> str:
    if error == "access_denied":
        return "Crier was not authorized on the network, so nothing was connected."
    # Only the codes RFC 6749 defines are repeated: anyone can make a link to this page, and the page must
    # not show their words under Crier's name.
    said = f" ({error})" if error in AUTHORIZATION_ERRORS else ""
    return f"The network did not authorize Crier{said}, so nothing was connected."


def _status_of(failure: CrierError) -> int:
    # The status the same error has as a problem document (ProblemApi.handle_crier_error).
    return next((STATUS_OF_ERROR[kind] for kind in type(failure).__mro__ if kind in STATUS_OF_ERROR), 400)


def _reason(failure: CrierError) -> str:
    if isinstance(failure, InvalidInput) and failure.problems:
        return " ".join(problem.detail for problem in failure.problems)
    return failure.detail


def _page(status: int, title: str, message: str) -> Response:
    body = PAGE.format(title=html.escape(title), message=html.escape(message))
    return Response(body, status=status, mimetype=HTML, headers=PAGE_HEADERS)
