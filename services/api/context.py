"""What a view reads from the request's context: the app's services and the caller's workspace."""

from __future__ import annotations

import uuid
from typing import cast

from flask import current_app, g

from shared.bootstrap import Services
from shared.workspaces.access import Actor

EXTENSION_KEY = "crier"


def get_services() -> Services:
    """The services the app was built with."""
    return cast(Services, current_app.extensions[EXTENSION_KEY])


def get_workspace_id() -> uuid.UUID:
    """The workspace the request's bearer token acts for, set by services.api.auth."""
    return cast(uuid.UUID, g.workspace_id)


def get_actor() -> Actor:
    """Who the request acts as: its token's member, with what their role and the token's scope allow."""
    return cast(Actor, g.actor)
