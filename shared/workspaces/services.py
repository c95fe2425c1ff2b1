"""Workspaces, their members and the members' API tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.interfaces import ORMOption

from shared.errors import Conflict, Forbidden, NotFound, Unauthenticated
from shared.timezones import check_timezone
from shared.workspaces.access import ROLE_PERMISSIONS, SCOPE_PERMISSIONS, Actor, Permission, Role, Scope
from shared.workspaces.models import ApiToken, Member, Workspace

TOKEN_PREFIX = "crier_"


class InWorkspace(Protocol):
    """A row that belongs to one workspace."""

    @property
    def workspace_id(self) -> uuid.UUID: ...


Row = TypeVar("Row", bound=InWorkspace)


def get_in_workspace(
    session: Session,
    model: type[Row],
    workspace_id: uuid.UUID,
    row_id: uuid.UUID,
    subject: str,
    *,
    options: Sequence[ORMOption] = (),
) -> Row:
    """The row, if it is the workspace's; NotFound if it is missing or another's, so an id reveals nothing."""
    row = session.get(model, row_id, options=options)
    if row is None or row.workspace_id != workspace_id:
        raise NotFound(subject, row_id)
    return row


def hash_token(token: str) -> str:
    # A token carries 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def get_or_create_workspace(session: Session, name: str) -> Workspace:
    workspace = session.scalars(select(Workspace).where(Workspace.name == name)).one_or_none()
    if workspace is None:
        workspace = Workspace(name=name)
        session.add(workspace)
        session.flush()
    return workspace


def get_or_add_member(
    session: Session, workspace: Workspace, email: str, *, name: str | None = None, role: Role
) -> Member:
    """The workspace's member with this email, added with `role` if there is none (a bootstrap path)."""
    member = session.scalars(
        select(Member).where(Member.workspace_id == workspace.id, Member.email == email)
    ).one_or_none()
    if member is None:
        member = Member(workspace_id=workspace.id, email=email, name=name or email, role=role)
        session.add(member)
        session.flush()
    return member


def add_member(session: Session, actor: Actor, *, email: str, name: str, role: Role) -> Member:
    _check_may_grant(actor, role)
    exists = session.scalar(
        select(Member.id).where(Member.workspace_id == actor.workspace_id, Member.email == email)
    )
    if exists is not None:
        raise Conflict(f"{email} is already a member of this workspace.")
    member = Member(workspace_id=actor.workspace_id, email=email, name=name, role=role)
    session.add(member)
    session.flush()
    return member


def list_members(session: Session, workspace_id: uuid.UUID) -> Sequence[Member]:
    return session.scalars(
        select(Member).where(Member.workspace_id == workspace_id).order_by(Member.created_at, Member.id)
    ).all()


def get_member(session: Session, workspace_id: uuid.UUID, member_id: uuid.UUID) -> Member:
    return get_in_workspace(session, Member, workspace_id, member_id, "member")


def change_role(session: Session, actor: Actor, member: Member, role: Role) -> Member:
    _check_may_grant(actor, member.role)
    _check_may_grant(actor, role)
    if member.role is Role.OWNER and role is not Role.OWNER:
        _keep_an_owner(session, member)
    member.role = role
    return member


def choose_timezone(member: Member, timezone: str | None) -> Member:
    """Set the zone the dashboard shows this member's times in; None goes back to "not chosen" (UTC)."""
    # Saved by its canonical name, so that a name tzdata later drops still reads back as UTC (stored_zone).
    member.timezone = None if timezone is None else check_timezone(timezone, pointer="/timezone").key
    return member


def remove_member(session: Session, actor: Actor, member: Member) -> None:
    _check_may_grant(actor, member.role)
    if member.role is Role.OWNER:
        _keep_an_owner(session, member)
    session.delete(member)  # their tokens go with them (ON DELETE CASCADE)
    session.flush()


def _check_may_grant(actor: Actor, role: Role) -> None:
    if role is Role.OWNER and not actor.can(Permission.MANAGE_OWNERS):
        raise Forbidden("Only an owner can make, change or remove an owner.")


def _keep_an_owner(session: Session, leaving: Member) -> None:
    owners = session.scalars(
        select(Member.id).where(Member.workspace_id == leaving.workspace_id, Member.role == Role.OWNER)
    ).all()
    if owners == [leaving.id]:
        raise Conflict("A workspace keeps at least one owner: make another member owner first.")


def issue_token(
    session: Session,
    member: Member,
    name: str,
    *,
    scope: Scope = Scope.ADMIN,
    expires_at: datetime | None = None,
) -> tuple[str, ApiToken]:
    """Make a token for the member. The plain token is returned here and never stored."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        workspace_id=member.workspace_id,
        member_id=member.id,
        name=name,
        scope=scope,
        token_hash=hash_token(plain),
        prefix=plain[: len(TOKEN_PREFIX) + 6],
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    return plain, token


def issue_token_for(
    session: Session,
    actor: Actor,
    member: Member,
    name: str,
    *,
    scope: Scope,
    expires_at: datetime | None = None,
) -> tuple[str, ApiToken]:
    """A member's new token, refused when it could do more than the token asking for it."""
    if not ROLE_PERMISSIONS[member.role] & SCOPE_PERMISSIONS[scope] <= actor.permissions:
        raise Forbidden(f"A token with the {scope.value!r} scope could do more than the token making it.")
    return issue_token(session, member, name, scope=scope, expires_at=expires_at)


def list_tokens(session: Session, member: Member) -> Sequence[ApiToken]:
    return session.scalars(
        select(ApiToken).where(ApiToken.member_id == member.id).order_by(ApiToken.created_at, ApiToken.id)
    ).all()


def get_token(session: Session, member: Member, token_id: uuid.UUID) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or token.member_id != member.id:
        raise NotFound("token", token_id)
    return token


def revoke_token(token: ApiToken, now: datetime) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = now
    return token


def authenticate(session: Session, plain: str, now: datetime) -> Actor:
    """Who a bearer string acts as, if its token is live."""
    return actor_of_live_token(session, token_of(session, plain), now, called="The bearer token")


def token_of(session: Session, plain: str) -> ApiToken | None:
    """The token a bearer string is, with its member, in one query; live or not."""
    return session.scalars(select(ApiToken).where(ApiToken.token_hash == hash_token(plain))).one_or_none()


def actor_of_live_token(session: Session, token: ApiToken | None, now: datetime, *, called: str) -> Actor:
    """Who a token acts as, refused (saying why, of the token `called` so) unless it is live."""
    actor = live_actor(token, now, called=called)
    if token is not None and use_is_stale(token, now):
        note_use(session, token.id, now)
    return actor


def live_actor(token: ApiToken | None, now: datetime, *, called: str) -> Actor:
    """Who a token acts as, refused (saying why) unless it is live; reads nothing more and writes nothing."""
    if token is None:
        raise Unauthenticated(f"{called} is not known.")
    if token.revoked_at is not None:
        raise Unauthenticated(f"{called} was revoked.")
    if token.expires_at is not None and token.expires_at <= now:
        raise Unauthenticated(f"{called} has expired.")
    member = token.member
    return Actor.of(member.workspace_id, member.id, member.role, token.scope, member.name)


def use_is_stale(token: ApiToken, now: datetime) -> bool:
    # One write per minute at most: a token's last use is worth knowing to the minute, not more.
    return token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60


def note_use(session: Session, token_id: uuid.UUID, now: datetime) -> None:
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
