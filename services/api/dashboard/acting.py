"""What the dashboard's posting pages (compose, a post's page, approvals) share: who the browser acts as,
what their top bar shows, and how a refused step is answered.

The inbox's pages use them too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from flask import Blueprint, redirect, request, url_for
from sqlalchemy.orm import Session

from services.api.dashboard import signin
from services.api.dashboard.pages import refusal
from services.api.dashboard.viewer_zone import viewer_zone
from shared.errors import Conflict, Forbidden, NotFound, PreconditionFailed
from shared.inbox.working import unread_counts
from shared.workspaces.access import Actor, Permission, require
from shared.workspaces.models import Workspace


class SignInAgain(Exception):
    """Stop the request: the browser is not signed in (any more), so it goes to the sign-in page."""


def unread_total(session: Session, workspace_id: uuid.UUID) -> int:
    """The navigation's badge: open, unread items in every channel's inbox."""
    return sum(unread_counts(session, workspace_id).values())


def acting(session: Session, needs: Permission = Permission.READ) -> Actor:
    """Who the signed-in browser acts as, if their role and token allow `needs` (Forbidden otherwise)."""
    browser = signin.signed_in(session)
    if browser is None:
        raise SignInAgain()
    require(browser.actor, needs)
    return browser.actor


def chrome(session: Session, actor: Actor) -> dict[str, Any]:
    """What the top bar of every posting page shows, and the zone the page shows times in (`viewer`)."""
    return {
        "workspace_name": session.get_one(Workspace, actor.workspace_id).name,
        "member_name": actor.name,
        "inbox_unread": unread_total(session, actor.workspace_id),
        "csrf_token": signin.csrf_token(),
        "viewer": viewer_zone(session, actor, request.args.get("tz")),
    }


def answer_refusals(blueprint: Blueprint, back: Callable[[], str]) -> None:
    """A step the services refuse is a page saying why, with a way `back`; no sign-in is a redirect to it."""

    @blueprint.errorhandler(SignInAgain)
    def _sign_in_again(_: SignInAgain) -> Any:
        return redirect(url_for("dashboard.sign_in_form"))

    @blueprint.errorhandler(NotFound)
    def _not_found(error: NotFound) -> Any:
        return refusal(404, error.detail, back=back())

    @blueprint.errorhandler(Forbidden)
    def _forbidden(error: Forbidden) -> Any:
        return refusal(403, error.detail, back=back())

    @blueprint.errorhandler(Conflict)
    def _conflict(error: Conflict) -> Any:
        return refusal(409, error.detail, back=back())

    @blueprint.errorhandler(PreconditionFailed)
    def _changed_meanwhile(error: PreconditionFailed) -> Any:
        return refusal(412, error.detail, back=back())
