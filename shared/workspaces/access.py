"""Who may do what: members' roles, tokens' scopes, and the permissions both grant.

A request may do what its member's role allows *and* its token's scope allows: an admin's read-only token
reads, and a viewer's admin-scoped token still only reads.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from shared.errors import Forbidden


class Permission(StrEnum):
    READ = "read"  # see the workspace's posts, channels, deliveries, metrics
    DRAFT = "draft"  # write posts; without PUBLISH they wait for an approver
    PUBLISH = "publish"  # schedule without approval, publish now, cancel, retry deliveries
    APPROVE = "approve"  # approve or reject other members' posts
    MANAGE_CHANNELS = "manage_channels"  # connect, reconnect, verify, pause, disconnect
    MANAGE_WORKSPACE = "manage_workspace"  # members, webhooks, link presets, the audit log
    MANAGE_OWNERS = "manage_owners"  # make or remove owners


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    EDITOR = "editor"
    CONTRIBUTOR = "contributor"
    VIEWER = "viewer"


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


_VIEWING = frozenset({Permission.READ})
_WRITING = _VIEWING | {Permission.DRAFT, Permission.PUBLISH, Permission.APPROVE}
_ADMINISTERING = _WRITING | {Permission.MANAGE_CHANNELS, Permission.MANAGE_WORKSPACE}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: _ADMINISTERING | {Permission.MANAGE_OWNERS},
    Role.ADMIN: _ADMINISTERING,
    Role.EDITOR: _WRITING,
    Role.CONTRIBUTOR: _VIEWING | {Permission.DRAFT},
    Role.VIEWER: _VIEWING,
}

SCOPE_PERMISSIONS: dict[Scope, frozenset[Permission]] = {
    Scope.READ: _VIEWING,
    Scope.WRITE: _WRITING,
    Scope.ADMIN: frozenset(Permission),
}


@dataclass(frozen=True)
class Actor:
    """Who a request or a command acts as: recorded in the audit log, checked before every action."""

    workspace_id: uuid.UUID
    member_id: uuid.UUID | None  # None: Crier itself (the scheduler expiring a post, say)
    permissions: frozenset[Permission]
    name: str

    @classmethod
    def of(cls, workspace_id: uuid.UUID, member_id: uuid.UUID, role: Role, scope: Scope, name: str) -> Actor:
        return cls(workspace_id, member_id, ROLE_PERMISSIONS[role] & SCOPE_PERMISSIONS[scope], name)

    @classmethod
    def system(cls, workspace_id: uuid.UUID) -> Actor:
        return cls(workspace_id, None, frozenset(Permission), "Crier")

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions


def require(actor: Actor, permission: Permission) -> None:
    if not actor.can(permission):
        raise Forbidden(
            f"This needs the {permission.value!r} permission, which your role or your token's scope "
            "does not grant."
        )
