"""Checking a post before anything is stored: who may act on it, and every rule its request must keep.

A request is checked whole: its channels, its time and each channel's text (with that channel's variant)
against the channel's network; every problem is reported at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, raiseload

from shared.channels.models import Channel
from shared.channels.slots import PostingSchedule
from shared.errors import Forbidden, InvalidInput, PreconditionFailed, Problem
from shared.networks.registry import NetworkRegistry
from shared.posts.attaching import media_problems
from shared.posts.lengths import draft_texts, length_problems
from shared.posts.models import Post, Timing
from shared.posts.recurrence import Recurrence, check_series, parse_rule
from shared.posts.requests import PostRequest
from shared.timezones import check_timezone
from shared.workspaces.access import Actor, Permission, require

# Clocks drift and requests take time: a time this recent counts as "now" rather than as a mistake.
PAST_TOLERANCE = timedelta(seconds=60)
MAX_LABELS = 20


def check_version(post: Post, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != post.version:
        raise PreconditionFailed(
            "Someone changed the post since you read it: fetch it again and reapply your change."
        )


def check_request(
    session: Session,
    networks: NetworkRegistry,
    workspace_id: uuid.UUID,
    request: PostRequest,
    now: datetime,
    text_problems: Mapping[uuid.UUID, Sequence[str]] | None = None,
) -> dict[uuid.UUID, Channel]:
    """The request's channels, once every rule holds; InvalidInput with every broken one otherwise."""
    too_long = length_problems(
        [
            *draft_texts("", request.text, request.thread, {}),
            *(
                text
                for index, target in enumerate(request.targets)
                for text in draft_texts(
                    f"{request.channels_pointer}/{index}", target.text, target.thread, target.options
                )
            ),
        ]
    )
    if too_long:
        # Said first and alone: counting such a text as each network counts it is the cost the bound avoids.
        raise InvalidInput(too_long)
    channels = {
        channel.id: channel
        for channel in session.scalars(
            select(Channel)
            .where(Channel.workspace_id == workspace_id, Channel.id.in_(request.channel_ids))
            .options(raiseload(Channel.collection))  # its health is no rule of a post's
        )
    }
    problems: list[Problem] = []
    try:
        zone = check_timezone(request.timezone, pointer="/timezone")
    except InvalidInput as invalid:
        problems.extend(invalid.problems)
        zone = ZoneInfo("UTC")
    problems.extend(_timing_problems(request, zone, now))
    if len(request.labels) > MAX_LABELS:
        problems.append(Problem("/labels", f"A post takes at most {MAX_LABELS} labels."))
    for index, label in enumerate(request.labels):
        if not label.strip() or len(label) > 100:
            problems.append(Problem(f"/labels/{index}", "A label is 1 to 100 characters, not only spaces."))
    seen: set[uuid.UUID] = set()
    for index, target in enumerate(request.targets):
        channel = channels.get(target.channel_id)
        pointer = f"{request.channels_pointer}/{index}"
        if target.channel_id in seen:
            problems.append(Problem(pointer, f"Channel {target.channel_id} is listed more than once."))
        elif channel is None:
            problems.append(Problem(pointer, f"There is no channel {target.channel_id} here."))
        else:
            if (
                request.timing is Timing.QUEUE
                and PostingSchedule.from_document(channel.posting_schedule).is_empty
            ):
                problems.append(
                    Problem(pointer, f"{channel.name} has no posting slots: set its posting_schedule first.")
                )
            draft = request.draft_for(target)
            # A preview's problems when the caller has them (they know a server's own limit), else the
            # network's own check of the text alone.
            known = (text_problems or {}).get(target.channel_id)
            where = f"{pointer}/text" if target.text is not None else "/text"
            for problem in known if known is not None else networks.get(channel.network).validate(draft):
                problems.append(Problem(where, f"{channel.name} ({channel.network}): {problem}"))
        seen.add(target.channel_id)
    problems.extend(media_problems(session, networks, workspace_id, request, channels))
    if problems:
        raise InvalidInput(problems)
    return channels


def _timing_problems(request: PostRequest, zone: ZoneInfo, now: datetime) -> list[Problem]:
    problems = []
    if request.timing is Timing.AT:
        if request.scheduled_at is not None and request.scheduled_at < now - PAST_TOLERANCE:
            problems.append(
                Problem("/scheduled_at", "The time is in the past. Omit scheduled_at to publish now.")
            )
    elif request.timing is Timing.RECURRENCE:
        if request.scheduled_at is None:
            problems.append(Problem("/scheduled_at", "A recurrence starts at its first time: give one."))
        elif request.scheduled_at < now - PAST_TOLERANCE:
            problems.append(Problem("/scheduled_at", "The first occurrence is in the past."))
        try:
            rule = parse_rule(request.recurrence_rule or "", pointer="/recurrence/rule")
            if request.scheduled_at is not None:
                first_local = request.scheduled_at.astimezone(zone).replace(tzinfo=None)
                check_series(Recurrence(rule, first_local, zone), pointer="/recurrence/rule")
        except InvalidInput as invalid:
            problems.extend(invalid.problems)
    elif request.scheduled_at is not None:
        problems.append(Problem("/scheduled_at", "A queued post takes its time from the channels' slots."))
    return problems


def check_time_is_ahead(post: Post, now: datetime) -> None:
    if (
        post.timing is not Timing.QUEUE
        and post.scheduled_at is not None
        and post.scheduled_at < now - PAST_TOLERANCE
    ):
        raise InvalidInput([Problem("/scheduled_at", "The time is in the past: choose a new one.")])


def check_author(actor: Actor, post: Post) -> None:
    """Members who may not publish act only on their own posts."""
    require(actor, Permission.DRAFT)
    if not actor.can(Permission.PUBLISH) and post.author_id != actor.member_id:
        raise Forbidden("You may change only your own posts.")
