"""The dashboard's team page: the workspace's members and their roles, one's own API tokens, and the
webhooks with each one's delivery log.

Every form calls the functions the JSON API's /v1/members, /v1/tokens and /v1/webhooks routes call
(shared.workspaces, shared.notifications) and records what they record. A new token or webhook secret is
shown on the page that answers the form, once, and kept nowhere else: the browser's cookie is signed,
not encrypted, so it never carries one to a page after a redirect.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from marshmallow import ValidationError, validate
from sqlalchemy.orm import Session

from services.api.context import get_services
from services.api.dashboard import signin
from services.api.dashboard.acting import acting, answer_refusals, chrome
from services.api.dashboard.compose import zone_names
from services.api.dashboard.pages import form_expired, refusal
from shared.audit.services import record
from shared.db import utcnow
from shared.errors import Conflict, Forbidden, InvalidInput, Problem
from shared.masking import masked_url
from shared.notifications.endpoints import create_endpoint, delete_endpoint, get_endpoint, list_endpoints
from shared.notifications.models import ALL_EVENTS, SUBSCRIBABLE_EVENTS
from shared.notifications.outbox import list_messages, ping_endpoint
from shared.workspaces import services as workspaces
from shared.workspaces.access import Actor, Permission, Role, Scope
from shared.workspaces.models import Member

# The delivery log shows a webhook's latest messages; the API pages through older ones.
LOG_SIZE = 50
MAX_TOKEN_DAYS = 3650

team_blp = Blueprint("team", __name__, url_prefix="/team")


answer_refusals(team_blp, back=lambda: url_for(".team"))


def _me(session: Session, actor: Actor) -> Member:
    assert actor.member_id is not None  # a browser always signs in with a member's token
    return workspaces.get_member(session, actor.workspace_id, actor.member_id)


@team_blp.get("")
def team() -> Any:
    """Members and roles, your tokens, and the webhooks."""
    with get_services().sessions.begin() as session:
        return _team_page(session, acting(session))


def _team_page(
    session: Session,
    actor: Actor,
    *,
    errors: Mapping[str, str] | None = None,
    entered: Mapping[str, Any] | None = None,
    new_token: str | None = None,
    new_secret: str | None = None,
    status: int = 200,
) -> Any:
    may_manage = actor.can(Permission.MANAGE_WORKSPACE)
    endpoints = list_endpoints(session, actor.workspace_id)
    html = render_template(
        "dashboard/team.html",
        **chrome(session, actor),
        can_manage=may_manage,
        # Whom this member may give or take the owner's role: only an owner (shared.workspaces).
        grantable=[role for role in Role if role is not Role.OWNER or actor.can(Permission.MANAGE_OWNERS)],
        members=workspaces.list_members(session, actor.workspace_id),
        me_id=actor.member_id,
        my_timezone=_me(session, actor).timezone,
        zones=zone_names(),
        tokens=workspaces.list_tokens(session, _me(session, actor)),
        scopes=list(Scope),
        webhooks=[
            (endpoint, endpoint.url if may_manage else masked_url(endpoint.url)) for endpoint in endpoints
        ],
        events=SUBSCRIBABLE_EVENTS,
        all_events=ALL_EVENTS,
        new_token=new_token,
        new_secret=new_secret,
        errors=errors or {},
        entered=entered or {},
        now=utcnow(),
    )
    return make_response(html, status)


def _field_errors(error: InvalidInput, default: str) -> dict[str, str]:
    errors: dict[str, list[str]] = {}
    for problem in error.problems:
        step = problem.pointer.split("/")[1] if problem.pointer.count("/") else ""
        errors.setdefault(step or default, []).append(problem.detail)
    if not errors:
        errors[default] = [error.detail]
    return {field: " ".join(details) for field, details in errors.items()}


def _refuse(pointer: str, detail: str) -> InvalidInput:
    return InvalidInput([Problem(pointer, detail)])


def _again(actor: Actor, error: InvalidInput, default: str, entered: Mapping[str, Any]) -> Any:
    """The page again (422), with what was typed and each problem beside its field."""
    with get_services().sessions.begin() as session:
        return _team_page(session, actor, errors=_field_errors(error, default), entered=entered, status=422)


# -- Your settings ----------------------------------------------------------------------------------------


@team_blp.post("/settings")
def change_settings() -> Any:
    """Choose your own time zone (PATCH /v1/members/me): every page shows your times on that clock."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    entered = {"timezone": request.form.get("timezone", "").strip()}
    with get_services().sessions.begin() as session:
        actor = acting(session)
    try:
        with get_services().sessions.begin() as session:
            me = _me(session, actor)
            before = me.timezone
            workspaces.choose_timezone(me, entered["timezone"] or None)
            if me.timezone != before:
                record(
                    session,
                    actor,
                    "member.timezone_changed",
                    "member",
                    me.id,
                    before=before,
                    after=me.timezone,
                )
            chosen = me.timezone
    except InvalidInput as error:
        return _again(actor, error, "timezone", {"settings": entered})
    flash(
        f"Your times show in {chosen} now." if chosen else "You chose no time zone: your times show in UTC."
    )
    return redirect(url_for(".team") + "#settings")


# -- Members ----------------------------------------------------------------------------------------------


@team_blp.post("/members")
def add_member() -> Any:
    """Add a member with a role; only an owner may add an owner."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    entered = {name: request.form.get(name, "").strip() for name in ("member_name", "email", "role")}
    with get_services().sessions.begin() as session:
        actor = acting(session, Permission.MANAGE_WORKSPACE)
    try:
        with get_services().sessions.begin() as session:
            if not entered["member_name"]:
                raise _refuse("/member_name", "A member needs a name.")
            try:
                validate.Email(error="This is not an email address.")(entered["email"])
            except ValidationError as invalid:
                raise _refuse("/email", " ".join(invalid.messages)) from invalid
            role = _role(entered["role"])
            try:
                member = workspaces.add_member(
                    session, actor, email=entered["email"], name=entered["member_name"], role=role
                )
            except Conflict as taken:
                raise _refuse("/email", taken.detail) from taken
            record(session, actor, "member.added", "member", member.id, role=member.role.value)
    except InvalidInput as error:
        return _again(actor, error, "email", {"member": entered})
    flash(f"{member.name} is a member now, as {member.role.value}.")
    return redirect(url_for(".team") + "#members")


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise _refuse("/role", f"{value!r} is not a role.") from None


@team_blp.post("/members/<uuid:member_id>/role")
def change_role(member_id: uuid.UUID) -> Any:
    """Change a member's role; a workspace always keeps an owner."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    with get_services().sessions.begin() as session:
        actor = acting(session, Permission.MANAGE_WORKSPACE)
        member = workspaces.get_member(session, actor.workspace_id, member_id)
        try:
            role = _role(request.form.get("role", ""))
        except InvalidInput as error:
            return refusal(400, error.problems[0].detail, back=url_for(".team"))
        before = member.role
        workspaces.change_role(session, actor, member, role)
        record(
            session, actor, "member.role_changed", "member", member.id, before=before.value, after=role.value
        )
        name = member.name
    flash(f"{name} is {role.value} now.")
    return redirect(url_for(".team") + "#members")


@team_blp.post("/members/<uuid:member_id>/remove")
def remove_member(member_id: uuid.UUID) -> Any:
    """Remove a member; their tokens stop working at once."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    with get_services().sessions.begin() as session:
        actor = acting(session, Permission.MANAGE_WORKSPACE)
        member = workspaces.get_member(session, actor.workspace_id, member_id)
        name = member.name
        record(session, actor, "member.removed", "member", member.id, email=member.email)
        workspaces.remove_member(session, actor, member)
    flash(f"{name} is no longer a member; their tokens stopped working.")
    if member_id == actor.member_id:
        signin.forget_cookie()
        return redirect(url_for("dashboard.sign_in_form"))
    return redirect(url_for(".team") + "#members")


# -- Your tokens ------------------------------------------------------------------------------------------


@team_blp.post("/tokens")
def create_token() -> Any:
    """Make a token for yourself, shown on the answering page once; it can do no more than yours."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    entered = {
        name: request.form.get(name, "").strip() for name in ("token_name", "scope", "expires_in_days")
    }
    with get_services().sessions.begin() as session:
        actor = acting(session)
    try:
        with get_services().sessions.begin() as session:
            if not entered["token_name"] or len(entered["token_name"]) > 200:
                raise _refuse("/token_name", "A token needs a name of 1 to 200 characters.")
            try:
                scope = Scope(entered["scope"])
            except ValueError:
                raise _refuse("/scope", f"{entered['scope']!r} is not a scope.") from None
            days = _days(entered["expires_in_days"])
            try:
                plain, token = workspaces.issue_token_for(
                    session,
                    actor,
                    _me(session, actor),
                    entered["token_name"],
                    scope=scope,
                    expires_at=utcnow() + timedelta(days=days) if days else None,
                )
            except Forbidden as refused:
                raise _refuse("/scope", refused.detail) from refused
            record(session, actor, "token.created", "token", token.id, scope=token.scope.value)
            return _team_page(session, actor, new_token=plain)
    except InvalidInput as error:
        return _again(actor, error, "token_name", {"token": entered})


def _days(value: str) -> int | None:
    if not value:
        return None
    if not value.isdigit() or not 1 <= int(value) <= MAX_TOKEN_DAYS:
        raise _refuse("/expires_in_days", f"Give a number of days from 1 to {MAX_TOKEN_DAYS}, or none.")
    return int(value)


@team_blp.post("/tokens/<uuid:token_id>/revoke")
def revoke_token(token_id: uuid.UUID) -> Any:
    """Revoke one of your tokens: it stops working at once (this browser too, if it signed in with it)."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    with get_services().sessions.begin() as session:
        actor = acting(session)
        token = workspaces.revoke_token(
            workspaces.get_token(session, _me(session, actor), token_id), utcnow()
        )
        record(session, actor, "token.revoked", "token", token.id)
        name = token.name
    flash(f"The token {name!r} is revoked.")
    return redirect(url_for(".team") + "#tokens")


# -- Webhooks ---------------------------------------------------------------------------------------------


@team_blp.post("/webhooks")
def add_webhook() -> Any:
    """Register a webhook; its signing secret is shown on the answering page once."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    events = request.form.getlist("events")
    entered = {"url": request.form.get("url", "").strip(), "description": request.form.get("description", "")}
    services = get_services()
    with services.sessions.begin() as session:
        actor = acting(session, Permission.MANAGE_WORKSPACE)
    try:
        with services.sessions.begin() as session:
            created = create_endpoint(
                session,
                actor,
                services.credentials,
                url=entered["url"],
                events=events,
                description=entered["description"][:500],
                policy=services.outbound.policy,
            )
            return _team_page(session, actor, new_secret=created.secret)
    except InvalidInput as error:
        return _again(actor, error, "url", {"webhook": {**entered, "events": events}})


@team_blp.post("/webhooks/<uuid:webhook_id>/delete")
def remove_webhook(webhook_id: uuid.UUID) -> Any:
    """Delete a webhook with its delivery log."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    with get_services().sessions.begin() as session:
        actor = acting(session, Permission.MANAGE_WORKSPACE)
        delete_endpoint(session, actor, webhook_id)
    flash("The webhook is deleted; what it had not been sent yet never will be.")
    return redirect(url_for(".team") + "#webhooks")


@team_blp.post("/webhooks/<uuid:webhook_id>/ping")
def ping_webhook(webhook_id: uuid.UUID) -> Any:
    """Send a `ping` to this webhook only; it shows in its delivery log."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    with get_services().sessions.begin() as session:
        actor = acting(session, Permission.MANAGE_WORKSPACE)
        ping_endpoint(session, actor.workspace_id, webhook_id)
    flash("A ping is on its way: it shows below within seconds, with each attempt.")
    return redirect(url_for(".webhook_log", webhook_id=webhook_id))


@team_blp.get("/webhooks/<uuid:webhook_id>")
def webhook_log(webhook_id: uuid.UUID) -> Any:
    """A webhook's delivery log: its latest messages, newest first, each with every attempt."""
    with get_services().sessions.begin() as session:
        actor = acting(session)
        endpoint = get_endpoint(session, actor.workspace_id, webhook_id)
        may_manage = actor.can(Permission.MANAGE_WORKSPACE)
        return render_template(
            "dashboard/webhook_log.html",
            **chrome(session, actor),
            can_manage=may_manage,
            webhook=endpoint,
            url=endpoint.url if may_manage else masked_url(endpoint.url),
            messages=list_messages(session, actor.workspace_id, webhook_id, limit=LOG_SIZE),
            log_size=LOG_SIZE,
        )
