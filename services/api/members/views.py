"""Members and roles (/v1/members), and each member's own API tokens (/v1/tokens)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema

from services.api.auth import requires
from services.api.context import get_actor, get_services
from services.api.members.schemas import (
    MeChangeSchema,
    MemberChangeSchema,
    MemberCreateSchema,
    MemberListSchema,
    MemberSchema,
    MeSchema,
    NewTokenSchema,
    TokenCreateSchema,
    TokenListSchema,
    TokenSchema,
)
from shared.audit.services import record
from shared.db import utcnow
from shared.workspaces import services as workspaces
from shared.workspaces.access import Permission
from shared.workspaces.models import ApiToken, Member

members = Blueprint("members", __name__, url_prefix="/v1/members", description="Who is in the workspace.")
tokens = Blueprint("tokens", __name__, url_prefix="/v1/tokens", description="Your own API tokens.")


@members.route("")
class Members(MethodView):
    @members.response(200, MemberListSchema)
    def get(self) -> dict[str, Any]:
        """The workspace's members and their roles."""
        with get_services().sessions.begin() as session:
            return {"items": workspaces.list_members(session, get_actor().workspace_id)}

    @requires(Permission.MANAGE_WORKSPACE)
    @members.arguments(MemberCreateSchema)
    @members.response(201, MemberSchema)
    @members.alt_response(409, response="CONFLICT")
    def post(self, body: dict[str, Any]) -> tuple[Member, dict[str, str]]:
        """Add a member with a role; only an owner may add an owner."""
        actor = get_actor()
        with get_services().sessions.begin() as session:
            member = workspaces.add_member(session, actor, **body)
            record(session, actor, "member.added", "member", member.id, role=member.role.value)
        return member, {"Location": url_for(".MemberById", member_id=member.id)}


@members.route("/me")
class Me(MethodView):
    @members.response(200, MeSchema)
    def get(self) -> dict[str, Any]:
        """Who this token acts as, and what it may do."""
        actor = get_actor()
        assert actor.member_id is not None
        with get_services().sessions.begin() as session:
            member = workspaces.get_member(session, actor.workspace_id, actor.member_id)
            return {**_fields_of(member, MemberSchema), "permissions": sorted(actor.permissions)}

    @members.arguments(MeChangeSchema)
    @members.response(200, MeSchema)
    def patch(self, body: dict[str, Any]) -> dict[str, Any]:
        """Choose your own time zone, the one the dashboard shows your times in; no one else's."""
        actor = get_actor()
        with get_services().sessions.begin() as session:
            member = _me(session)
            before = member.timezone
            workspaces.choose_timezone(member, body["timezone"])
            if member.timezone != before:
                record(
                    session,
                    actor,
                    "member.timezone_changed",
                    "member",
                    member.id,
                    before=before,
                    after=member.timezone,
                )
            return {**_fields_of(member, MemberSchema), "permissions": sorted(actor.permissions)}


@members.route("/<uuid:member_id>")
class MemberById(MethodView):
    @members.response(200, MemberSchema)
    @members.alt_response(404, response="NOT_FOUND")
    def get(self, member_id: uuid.UUID) -> Member:
        """A member."""
        with get_services().sessions.begin() as session:
            return workspaces.get_member(session, get_actor().workspace_id, member_id)

    @requires(Permission.MANAGE_WORKSPACE)
    @members.arguments(MemberChangeSchema)
    @members.response(200, MemberSchema)
    @members.alt_response(404, response="NOT_FOUND")
    @members.alt_response(409, response="CONFLICT")
    def patch(self, body: dict[str, Any], member_id: uuid.UUID) -> Member:
        """Change a member's role; a workspace always keeps an owner."""
        actor = get_actor()
        with get_services().sessions.begin() as session:
            member = workspaces.get_member(session, actor.workspace_id, member_id)
            before = member.role
            workspaces.change_role(session, actor, member, body["role"])
            record(
                session,
                actor,
                "member.role_changed",
                "member",
                member.id,
                before=before.value,
                after=member.role.value,
            )
            return member

    @requires(Permission.MANAGE_WORKSPACE)
    @members.response(204)
    @members.alt_response(404, response="NOT_FOUND")
    @members.alt_response(409, response="CONFLICT")
    def delete(self, member_id: uuid.UUID) -> None:
        """Remove a member; their tokens stop working at once."""
        actor = get_actor()
        with get_services().sessions.begin() as session:
            member = workspaces.get_member(session, actor.workspace_id, member_id)
            record(session, actor, "member.removed", "member", member.id, email=member.email)
            workspaces.remove_member(session, actor, member)


@tokens.route("")
class Tokens(MethodView):
    @tokens.response(200, TokenListSchema)
    def get(self) -> dict[str, Any]:
        """Your tokens, live and dead; never the secrets."""
        with get_services().sessions.begin() as session:
            return {"items": workspaces.list_tokens(session, _me(session))}

    @tokens.arguments(TokenCreateSchema)
    @tokens.response(201, NewTokenSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Make a token for yourself; it can do no more than the token making it."""
        actor = get_actor()
        expires_in = body["expires_in_days"]
        with get_services().sessions.begin() as session:
            plain, token = workspaces.issue_token_for(
                session,
                actor,
                _me(session),
                body["name"],
                scope=body["scope"],
                expires_at=utcnow() + timedelta(days=expires_in) if expires_in else None,
            )
            record(session, actor, "token.created", "token", token.id, scope=token.scope.value)
            return {**_fields_of(token, TokenSchema), "token": plain}


@tokens.route("/<uuid:token_id>")
class TokenById(MethodView):
    @tokens.response(200, TokenSchema)
    @tokens.alt_response(404, response="NOT_FOUND")
    def delete(self, token_id: uuid.UUID) -> ApiToken:
        """Revoke one of your tokens: it stops working at once."""
        actor = get_actor()
        with get_services().sessions.begin() as session:
            token = workspaces.revoke_token(workspaces.get_token(session, _me(session), token_id), utcnow())
            record(session, actor, "token.revoked", "token", token.id)
            return token


def _me(session: Any) -> Member:
    actor = get_actor()
    assert actor.member_id is not None  # a request always acts as a member
    return workspaces.get_member(session, actor.workspace_id, actor.member_id)


def _fields_of(thing: object, schema: type[Schema]) -> dict[str, Any]:
    """The attributes `schema` shows, to answer with them and one more field (the response schema dumps)."""
    return {name: getattr(thing, name) for name in schema().fields}
