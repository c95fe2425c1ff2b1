"""The dashboard's calendar: a week or a month of posts and free queue slots, in the viewer's timezone,
and a form on each post to move it to another time.

The days are GET /v1/calendar's (shared.workflow.calendar.calendar) read in the `tz` parameter's zone.
Moving a post is PATCH /v1/posts/{id} with `scheduled_at` and If-Match: the same request built from the
post as it is, given to the same core call (update_checked) with the version the page was drawn from, so
a change made meanwhile is refused with 412, never overwritten. static/calendar.js only fills and submits
that form when a post is dragged onto another day or a free slot.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, flash, make_response, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from services.api.context import get_services
from services.api.dashboard import signin
from services.api.dashboard.acting import acting, answer_refusals, chrome
from services.api.dashboard.compose import zone_names
from services.api.dashboard.pages import form_expired, refusal
from services.api.dashboard.viewer_zone import viewer_zone
from shared.channels.services import list_channels
from shared.db import utcnow
from shared.deliveries.models import DeliveryState
from shared.errors import Conflict, InvalidInput, PreconditionFailed
from shared.posts.models import Post, PostStage, Timing
from shared.posts.requests import PostRequest
from shared.posts.services import get_post
from shared.timezones import to_local, to_utc
from shared.workflow.calendar import CalendarEntry, FreeSlot, calendar
from shared.workflow.scheduling import update_checked
from shared.workspaces.access import Actor, Permission

DEFAULT_TIMEZONE = "UTC"
VIEWS = ("week", "month")
LOCAL_MINUTE = "%Y-%m-%dT%H:%M"  # a datetime-local input's value
# The page runs one script of its own (drag to move), from this server; nothing else.
CALENDAR_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# A post not yet sent, or sent with nothing of it started: what PATCH /v1/posts may still move.
UNSENT_STAGES = frozenset({PostStage.DRAFT, PostStage.PENDING_APPROVAL, PostStage.REJECTED})

calendar_blp = Blueprint("calendar", __name__, url_prefix="/calendar")
answer_refusals(calendar_blp, lambda: url_for("dashboard.calendar.calendar_page"))


@calendar_blp.after_request
def allow_own_script(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CALENDAR_CONTENT_SECURITY_POLICY
    return response


@dataclass(frozen=True)
class Shown:
    """What the page shows: a week or a month around a day, in a zone."""

    view: str
    day: date
    timezone: str

    @classmethod
    def read(cls, args: Mapping[str, str], now: datetime, default_timezone: str = DEFAULT_TIMEZONE) -> Shown:
        """The query's view, day and zone; what does not read falls back to a week, today, in the default
        zone (the member's own, or UTC)."""
        view = args.get("view", "week")
        timezone = args.get("tz", default_timezone)
        if timezone not in zone_names():
            timezone = default_timezone
        try:
            day = date.fromisoformat(args.get("date", ""))
        except ValueError:
            day = to_local(now, ZoneInfo(timezone)).date()
        return cls(view if view in VIEWS else "week", day, timezone)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def days(self) -> list[date]:
        """Whole weeks, Monday first: the day's week, or every week the day's month touches."""
        if self.view == "week":
            first = self.day - timedelta(days=self.day.weekday())
            return [first + timedelta(days=offset) for offset in range(7)]
        first_of_month = self.day.replace(day=1)
        first = first_of_month - timedelta(days=first_of_month.weekday())
        last_of_month = _next_month(first_of_month) - timedelta(days=1)
        last = last_of_month + timedelta(days=6 - last_of_month.weekday())
        return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]

    @property
    def previous(self) -> date:
        if self.view == "week":
            return self.day - timedelta(days=7)
        return (self.day.replace(day=1) - timedelta(days=1)).replace(day=1)

    @property
    def next(self) -> date:
        if self.view == "week":
            return self.day + timedelta(days=7)
        return _next_month(self.day.replace(day=1))

    @property
    def title(self) -> str:
        if self.view == "month":
            return self.day.strftime("%B %Y")
        first, last = self.days[0], self.days[-1]
        return f"Week of {first.strftime('%a %d %b')} to {last.strftime('%a %d %b %Y')}"

    def link(self, **changed: Any) -> str:
        asked = {"view": self.view, "date": self.day.isoformat(), "tz": self.timezone} | changed
        return url_for("dashboard.calendar.calendar_page", **asked)


def _next_month(first_of_month: date) -> date:
    return (first_of_month + timedelta(days=32)).replace(day=1)


@dataclass(frozen=True)
class PostAt:
    """One post at one time, on each of its channels there (the calendar lists a post once a channel)."""

    post_id: uuid.UUID
    at: datetime  # in the view's zone
    channel_ids: list[uuid.UUID]
    states: list[str]
    text: str
    version: int | None  # None: it cannot be moved from here (see _movable)


@dataclass(frozen=True)
class SlotAt:
    """A free queue slot time, with the channels free then."""

    at: datetime  # in the view's zone
    channel_ids: list[uuid.UUID]


@dataclass(frozen=True)
class Day:
    day: date
    posts: list[PostAt]
    slots: list[SlotAt]
    in_view: bool  # False: a day of the month before or after, shown to fill the month's first or last week


def _days(session: Session, actor: Actor, shown: Shown, now: datetime) -> list[Day]:
    days = shown.days
    start = to_utc(datetime.combine(days[0], time()), shown.zone)
    end = to_utc(datetime.combine(days[-1] + timedelta(days=1), time()), shown.zone)
    found = calendar(session, actor.workspace_id, start, end)
    posts = _posts_at(found.entries, shown.zone, _movable(session, actor, found.entries, now))
    slots = _slots_at(found.free_slots, shown.zone)
    return [
        Day(
            day,
            [post for post in posts if post.at.date() == day],
            [slot for slot in slots if slot.at.date() == day],
            shown.view == "week" or day.month == shown.day.month,
        )
        for day in days
    ]


def _posts_at(
    entries: Iterable[CalendarEntry], zone: ZoneInfo, versions: Mapping[uuid.UUID, int]
) -> list[PostAt]:
    grouped: dict[tuple[uuid.UUID, datetime], list[CalendarEntry]] = {}
    for entry in entries:
        grouped.setdefault((entry.post_id, entry.at), []).append(entry)
    return [
        PostAt(
            post_id,
            at.astimezone(zone),
            [entry.channel_id for entry in same],
            list(dict.fromkeys(entry.state for entry in same)),
            same[0].text,
            versions.get(post_id),
        )
        for (post_id, at), same in grouped.items()
    ]


def _slots_at(free_slots: Iterable[FreeSlot], zone: ZoneInfo) -> list[SlotAt]:
    grouped: dict[datetime, list[uuid.UUID]] = {}
    for slot in free_slots:
        grouped.setdefault(slot.at, []).append(slot.channel_id)
    return [SlotAt(at.astimezone(zone), channel_ids) for at, channel_ids in grouped.items()]


def _movable(
    session: Session, actor: Actor, entries: Iterable[CalendarEntry], now: datetime
) -> dict[uuid.UUID, int]:
    """The version of each post the actor may move (the one its move form sends back as If-Match)."""
    if not actor.can(Permission.DRAFT):
        return {}
    post_ids = {entry.post_id for entry in entries}
    movable = {}
    for post in session.scalars(
        select(Post)
        .where(Post.workspace_id == actor.workspace_id, Post.id.in_(post_ids))
        .options(selectinload(Post.deliveries))
    ):
        # The rules update_post applies, asked ahead only to offer no form that could never succeed; the
        # service still decides. A series gets no form: PATCH with a time alone ends its repeating, which
        # is no "move" a person dragging one occurrence means.
        own = actor.can(Permission.PUBLISH) or post.author_id == actor.member_id
        waiting = post.stage in UNSENT_STAGES or (
            post.stage is PostStage.SCHEDULED
            and all(delivery.state is DeliveryState.SCHEDULED for delivery in post.deliveries)
        )
        ahead = post.scheduled_at is not None and post.scheduled_at > now
        if own and waiting and ahead and post.timing is not Timing.RECURRENCE:
            movable[post.id] = post.version
    return movable


# -- The page ---------------------------------------------------------------------------------------------


@calendar_blp.get("")
def calendar_page() -> Any:
    """A week (or, with view=month, a month) around the `date` parameter, in the `tz` parameter's zone (the
    member's own by default)."""
    with get_services().sessions.begin() as session:
        actor = acting(session)
        now = utcnow()
        shown = Shown.read(request.args, now, viewer_zone(session, actor).name)
        return _page(session, actor, shown, now)


@calendar_blp.post("/posts/<uuid:post_id>/move")
def move(post_id: uuid.UUID) -> Any:
    """PATCH /v1/posts/{id} with the form's time, as If-Match the version the page showed."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    now = utcnow()
    entered = request.form.get("at", "").strip()
    version = request.form.get("version", "")
    services = get_services()
    with services.sessions.begin() as session:
        actor = acting(session, Permission.DRAFT)
        shown = Shown.read(request.form, now, viewer_zone(session, actor).name)
    if not version.isdigit():
        # Without the version the page was drawn from, a move could overwrite a change it never saw.
        return refusal(400, "This form lacks the post's version: reload the calendar.", back=shown.link())
    try:
        local = datetime.fromisoformat(entered)  # a wall-clock time in the view's zone, as typed
    except ValueError:
        local = None
    if local is None or local.tzinfo is not None:
        return _page_again(
            actor, shown, post_id, "Choose the date and time to move the post to.", entered, 422
        )
    moved_at = to_utc(local, shown.zone)
    try:
        with services.sessions.begin() as session:
            found = get_post(session, actor.workspace_id, post_id)
            # What PATCH builds from a body holding only `scheduled_at`: the post as it is, at that exact
            # time (a queued post leaves the queue, as it does through the API).
            changed = dataclasses.replace(
                PostRequest.of(found), timing=Timing.AT, scheduled_at=moved_at, recurrence_rule=None
            )
        update_checked(services, actor, post_id, changed, expected_version=int(version), now=now)
    except InvalidInput as error:
        detail = " ".join(problem.detail for problem in error.problems) or error.detail
        return _page_again(actor, shown, post_id, detail, entered, 422)
    except Conflict as error:
        return _page_again(actor, shown, post_id, error.detail, entered, 409)
    except PreconditionFailed:
        flash(
            "Someone changed this post since the calendar was drawn: nothing was moved. "
            "Here it is as it is now; move it again if you still want to."
        )
        with services.sessions.begin() as session:
            return _page(session, actor, shown, now, status=412)
    local_moved = to_local(moved_at, shown.zone)
    flash(f"Moved to {local_moved.strftime('%a %d %b %Y %H:%M')} ({shown.timezone}).")
    return redirect(dataclasses.replace(shown, day=local_moved.date()).link())


def _page_again(
    actor: Actor, shown: Shown, post_id: uuid.UUID, problem: str, entered: str, status: int
) -> Any:
    with get_services().sessions.begin() as session:
        return _page(
            session,
            actor,
            shown,
            utcnow(),
            errors={str(post_id): problem},
            entered={str(post_id): entered},
            status=status,
        )


def _page(
    session: Session,
    actor: Actor,
    shown: Shown,
    now: datetime,
    *,
    errors: Mapping[str, str] | None = None,
    entered: Mapping[str, str] | None = None,
    status: int = 200,
) -> Any:
    today = to_local(now, shown.zone).date()
    html = render_template(
        "dashboard/calendar.html",
        **chrome(session, actor),
        shown=shown,
        days=_days(session, actor, shown, now),
        today=today,
        channel_names={channel.id: channel.name for channel in list_channels(session, actor.workspace_id)},
        zones=zone_names(),
        errors=errors or {},
        entered=entered or {},
        local_minute=LOCAL_MINUTE,
    )
    return make_response(html, status)
