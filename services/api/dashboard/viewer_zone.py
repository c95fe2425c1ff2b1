"""The zone a dashboard page shows and reads times in, and the one way its templates write a time.

A page asked for a zone (`?tz=Europe/Paris`) uses it; otherwise the signed-in member's own zone (chosen on
the team page or with PATCH /v1/members/me); otherwise UTC, with a hint that a zone can be chosen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from shared.errors import InvalidInput
from shared.timezones import check_timezone, stored_zone
from shared.workspaces.access import Actor
from shared.workspaces.models import Member

UTC_NAME = "UTC"
# How a page writes a moment unless it says otherwise: "Mon 30 Mar 2026 14:00".
DAY_AND_MINUTE = "%a %d %b %Y %H:%M"


@dataclass(frozen=True)
class ViewerZone:
    """The zone times are shown in, and whether anyone chose it (False: UTC because nobody did)."""

    name: str
    chosen: bool

    @property
    def zone(self) -> ZoneInfo:
        return stored_zone(self.name)


def member_timezone(session: Session, actor: Actor) -> str | None:
    """The zone the member chose, or None (a system actor, or a member who has not chosen)."""
    if actor.member_id is None:
        return None
    member = session.get(Member, actor.member_id)
    return member.timezone if member is not None else None


def viewer_zone(session: Session, actor: Actor, asked: str | None = None) -> ViewerZone:
    """The asked zone if it names one; else the member's; else UTC (not chosen)."""
    if asked:
        try:
            return ViewerZone(check_timezone(asked).key, chosen=True)
        except InvalidInput:
            pass  # a link with a mistyped zone still shows the page, in the member's zone
    own = member_timezone(session, actor)
    if own:
        return ViewerZone(stored_zone(own).key, chosen=True)
    return ViewerZone(UTC_NAME, chosen=False)


def local_time(moment: datetime | None, viewer: ViewerZone, fmt: str = DAY_AND_MINUTE) -> Markup:
    """A <time> element: the instant for machines, the wall time in the viewer's zone and its name for people.

    The zone's name is written beside every time so that nobody has to guess which clock it is on.
    """
    if moment is None:
        return Markup("—")
    local = moment.astimezone(viewer.zone)
    return Markup('<time datetime="{}">{} {}</time>').format(
        local.isoformat(), local.strftime(fmt), escape(viewer.name)
    )
