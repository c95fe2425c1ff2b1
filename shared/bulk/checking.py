"""Checking an import's rows: each read into the post it asks for, and checked as create_post checks one.

A row is checked by check_request, the rules POST /v1/posts applies, after its channel names, its time and
its per-network texts are read. Texts are checked with each network's own offline `validate`: a preview
may ask a server (a Mastodon instance's limit), which for 5,000 rows would take minutes, and a network
still has the last word when the delivery goes out. Problems point at `/rows/<row>/<column>`.
"""

from __future__ import annotations

import difflib
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.bulk.reading import HEADER_ROW, Source, SourceFormat, SourceRow, row_pointer
from shared.channels.models import Channel, ChannelState
from shared.deliveries.queueing import free_queue_slots
from shared.errors import InvalidInput, Problem
from shared.networks.registry import NetworkRegistry
from shared.posts.checking import PAST_TOLERANCE, check_request
from shared.posts.models import Timing
from shared.posts.requests import PostRequest, TargetRequest
from shared.timezones import check_timezone, to_utc
from shared.wording import counted
from shared.workspaces.access import Actor, Permission, require

TEXT = "text"
CHANNELS = "channels"
TIME = "time"
TIMEZONE = "timezone"
LABELS = "labels"
THREAD = "thread"
RECURRENCE = "recurrence"
DRAFT = "draft"
MEDIA = "media"
VARIANT_PREFIX = "text:"  # text:mastodon: the text for every channel of that network in the row
COLUMNS = (TEXT, CHANNELS, TIME, TIMEZONE, LABELS, THREAD, RECURRENCE, DRAFT, MEDIA)
# Written by the export for the person reading it; an import makes new posts, so it passes over them.
EXPORT_ONLY_COLUMNS = ("id", "state")
REQUIRED_COLUMNS = (TEXT, CHANNELS)

NOW, QUEUE = "now", "queue"
LIST_SEPARATORS = re.compile(r"[|;]")
THREAD_SEPARATOR = re.compile(r"\n[ \t]*\n")  # a blank line between replies
ISO_DATE_AND_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
TRUE_WORDS, FALSE_WORDS = {"true", "yes", "1"}, {"false", "no", "0", ""}
MAX_CHANNELS_PER_POST = 50
MAX_THREAD_ITEMS = 25
# check_request's pointers, into a post request, by the column each one came from.
COLUMN_OF_FIELD = {
    "text": TEXT,
    "channels": CHANNELS,
    "scheduled_at": TIME,
    "timezone": TIMEZONE,
    "labels": LABELS,
    "thread": THREAD,
    "recurrence": RECURRENCE,
    "media": MEDIA,
}


Progress = Callable[[int], object]  # told how many more rows are done, for a progress bar


class InvalidRows(InvalidInput):
    """Rows that break a rule: every problem of every row, each pointing at `/rows/<row>/<column>`."""

    def __init__(self, problems: Sequence[Problem], row_count: int) -> None:
        rows = {problem.pointer.split("/")[2] for problem in problems if problem.pointer.count("/") >= 2}
        super().__init__(
            problems,
            f"Nothing was imported: {counted(len(problems), 'problem')} in {counted(len(rows), 'row')} "
            f"of {row_count:,}. "
            "Each error names its row and column.",
        )


@dataclass
class PlannedPost:
    """A checked row: the post it asks for, its channels in order, and a queued post's slot per channel."""

    row: int
    request: PostRequest
    channels: list[Channel]
    slots: dict[uuid.UUID, datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportPlan:
    actor: Actor
    now: datetime
    posts: list[PlannedPost]


def check_import(
    session: Session,
    networks: NetworkRegistry,
    actor: Actor,
    source: Source,
    *,
    now: datetime,
    progress: Progress | None = None,
) -> ImportPlan:
    """The posts the rows ask for, each checked as create_post would, queued ones given their slots."""
    require(actor, Permission.DRAFT)
    _check_columns(source, networks.names())
    channels = session.scalars(select(Channel).where(Channel.workspace_id == actor.workspace_id)).all()
    reader = _RowReader(session, networks, actor, channels, now)
    planned, problems = [], []
    for row in source.rows:
        post, row_problems = reader.read(row)
        problems += row_problems
        if post is not None and not row_problems:
            planned.append(post)
        if progress is not None:
            progress(1)
    if actor.can(Permission.PUBLISH):
        problems += _assign_slots(session, planned, now)
    if problems:
        problems.sort(key=lambda problem: int(problem.pointer.split("/")[2]))
        raise InvalidRows(problems, len(source.rows))
    return ImportPlan(actor, now, planned)


def _check_columns(source: Source, installed: Sequence[str]) -> None:
    """Unknown or missing columns: a mistake in every row, so said once, before the rows are read."""
    known = [*COLUMNS, *EXPORT_ONLY_COLUMNS, *(VARIANT_PREFIX + network for network in installed)]
    first_row_with = {column: HEADER_ROW for column in source.columns}
    if source.format is SourceFormat.JSON:
        first_row_with = {}
        for row in source.rows:
            for column in row.cells:
                first_row_with.setdefault(column, row.number)
    problems = []
    for column, number in first_row_with.items():
        if column in known:
            continue
        if column.startswith(VARIANT_PREFIX):
            network = column.removeprefix(VARIANT_PREFIX)
            detail = f"No network named “{network}” is installed; installed: {', '.join(installed)}."
        else:
            detail = f"There is no column “{column}”{_did_you_mean(column, known)}. The columns are: " + (
                ", ".join([*COLUMNS, VARIANT_PREFIX + "<network>"]) + "."
            )
        problems.append(Problem(row_pointer(number, column), detail))
    if source.format is SourceFormat.CSV:
        problems += [
            Problem(row_pointer(HEADER_ROW), f"The header row has no “{column}” column.")
            for column in REQUIRED_COLUMNS
            if column not in source.columns
        ]
    if problems:
        raise InvalidRows(problems, len(source.rows))


class _RowReader:
    """Reads one row's cells into a post request, and checks it as create_post would."""

    def __init__(
        self,
        session: Session,
        networks: NetworkRegistry,
        actor: Actor,
        channels: Sequence[Channel],
        now: datetime,
    ) -> None:
        self.session, self.networks, self.actor, self.now = session, networks, actor, now
        self.by_id = {channel.id: channel for channel in channels}
        # Names are matched among the channels in use: a disconnected channel's name may be reused.
        self.by_name: dict[str, list[Channel]] = {}
        for channel in channels:
            if channel.state is not ChannelState.DISCONNECTED:
                self.by_name.setdefault(channel.name.strip().casefold(), []).append(channel)

    def read(self, row: SourceRow) -> tuple[PlannedPost | None, list[Problem]]:
        cells = _Cells(row)
        if "" in row.cells:
            cells.problem(None, "This row has more cells than the header has columns.")
        text = cells.text(TEXT)
        if cells.raw(TEXT) is None or (text is not None and not text.strip()):
            cells.problem(TEXT, "The text is empty.")
        channels = self._channels(cells)
        draft = cells.flag(DRAFT)
        timezone = (cells.text(TIMEZONE) or "").strip() or "UTC"
        timing, scheduled_at = self._time(cells, timezone, draft)
        rule = (cells.text(RECURRENCE) or "").strip() or None
        # Said here in the column's words: check_request's own problem names the API's field.
        if scheduled_at is not None and scheduled_at < self.now - PAST_TOLERANCE:
            remedy = "." if rule else ", or now to publish at once."
            cells.problem(TIME, f"The time is in the past: give a later one{remedy}")
        if rule is not None:
            if timing is Timing.QUEUE:
                cells.problem(RECURRENCE, "A post is queued or repeats, not both: clear the time or this.")
            timing = Timing.RECURRENCE
        thread = self._thread(cells)
        labels = [label.strip() for label in cells.items(LABELS, LIST_SEPARATORS) if label.strip()]
        media = self._media(cells)
        # A variant for a network none of the row's channels is on: unless a channel's name was not found.
        all_found = not cells.has_problem(CHANNELS)
        variants = self._variants(cells, channels if all_found else None)
        if text is None or not text.strip() or not channels:
            return None, cells.problems
        request = PostRequest(
            text=text,
            targets=[TargetRequest(channel.id, text=variants.get(channel.network)) for channel in channels],
            thread=thread,
            labels=labels,
            timezone=timezone,
            timing=timing,
            scheduled_at=scheduled_at,
            recurrence_rule=rule,
            media=media,
            draft=draft,
        )
        try:
            check_request(self.session, self.networks, self.actor.workspace_id, request, self.now)
        except InvalidInput as invalid:
            read_badly = {column for column in COLUMNS if cells.has_problem(column)}
            for problem in invalid.problems:
                column = _column_of(problem.pointer, channels)
                # A cell that could not be read says so once: what check_request then makes of it is noise.
                if column not in read_badly:
                    cells.problem(column, problem.detail)
        return PlannedPost(row.number, request, channels), cells.problems

    def _channels(self, cells: _Cells) -> list[Channel]:
        names = [name.strip() for name in cells.items(CHANNELS, LIST_SEPARATORS) if name.strip()]
        if not names:
            cells.problem(CHANNELS, "Name at least one channel (its name or id; several: separate with |).")
        if len(names) > MAX_CHANNELS_PER_POST:
            cells.problem(CHANNELS, f"A post goes to at most {MAX_CHANNELS_PER_POST} channels.")
        found = []
        for name in names:
            channel = self._channel(cells, name)
            if channel is not None:
                found.append(channel)
        return found

    def _channel(self, cells: _Cells, name: str) -> Channel | None:
        try:
            channel_id = uuid.UUID(name)
        except ValueError:
            pass
        else:
            if channel_id in self.by_id:
                return self.by_id[channel_id]
            cells.problem(CHANNELS, f"There is no channel with id {channel_id} in this workspace.")
            return None
        matches = self.by_name.get(name.casefold(), [])
        if len(matches) == 1:
            return matches[0]
        if matches:
            ids = ", ".join(str(channel.id) for channel in matches)
            cells.problem(
                CHANNELS, f"{len(matches)} channels are named “{name}” ({ids}): give the id of one."
            )
            return None
        known = sorted({channel.name for group in self.by_name.values() for channel in group})
        cells.problem(
            CHANNELS,
            f"There is no channel named “{name}”{_did_you_mean(name, known)}. "
            f"The channels are: {', '.join(known) or 'none yet'}.",
        )
        return None

    def _time(self, cells: _Cells, timezone: str, draft: bool) -> tuple[Timing, datetime | None]:
        value = (cells.text(TIME) or "").strip()
        # An example a reader can copy: the first of May ahead of them.
        example = f"{self.now.year + 1}-05-01T09:00"
        if value.casefold() == QUEUE:
            return Timing.QUEUE, None
        if value.casefold() == NOW or (not value and draft):
            return Timing.AT, None  # a draft without a time takes one when it is submitted
        if not value:
            cells.problem(
                TIME,
                f"Give a time ({example} in the row's timezone, or with an offset), now, or queue.",
            )
            return Timing.AT, None
        try:
            if not ISO_DATE_AND_TIME.match(value):
                raise ValueError(value)
            moment = datetime.fromisoformat(value)
        except ValueError:
            cells.problem(
                TIME,
                f"“{value}” is not a time: write {example} (read in the row's timezone), "
                f"{example}+02:00, now, or queue.",
            )
            return Timing.AT, None
        if moment.tzinfo is not None:
            return Timing.AT, moment
        try:
            zone = check_timezone(timezone)
        except InvalidInput:
            return Timing.AT, None  # check_request names the unknown zone; the time cannot be read without it
        return Timing.AT, to_utc(moment, zone)

    def _media(self, cells: _Cells) -> list[uuid.UUID]:
        """Media library ids, in order; whether each is the workspace's and fits the networks is checked
        with the rest of the post."""
        media = []
        for item in cells.items(MEDIA, LIST_SEPARATORS):
            if not item.strip():
                continue
            try:
                media.append(uuid.UUID(item.strip()))
            except ValueError:
                cells.problem(
                    MEDIA, f"{item.strip()!r} is not a media id: upload the file to /v1/media first."
                )
        return media

    def _thread(self, cells: _Cells) -> list[str]:
        value = cells.raw(THREAD)
        if isinstance(value, list):
            items = [item for item in value if isinstance(item, str)]
            if len(items) != len(value):
                cells.problem(THREAD, "Each reply of the thread is a text.")
        else:
            text = (cells.text(THREAD) or "").replace("\r\n", "\n")
            items = THREAD_SEPARATOR.split(text)
        thread = [item.strip() for item in items if item.strip()]
        if len(thread) > MAX_THREAD_ITEMS:
            cells.problem(THREAD, f"A thread has at most {MAX_THREAD_ITEMS} replies.")
        return thread

    def _variants(self, cells: _Cells, channels: Sequence[Channel] | None) -> dict[str, str]:
        """Each network's text; `channels` None when some were not found, so no network can be missing."""
        variants = {}
        for column in cells.row.cells:
            if not column.startswith(VARIANT_PREFIX):
                continue
            text = cells.text(column)
            if text is None or not text.strip():
                continue
            network = column.removeprefix(VARIANT_PREFIX)
            if channels is not None and not any(channel.network == network for channel in channels):
                cells.problem(column, f"No channel of this row is on {network}: this text would not be sent.")
            variants[network] = text
        return variants


class _Cells:
    """One row's cells, read as texts, lists and flags, with the problems found on the way."""

    def __init__(self, row: SourceRow) -> None:
        self.row = row
        self.problems: list[Problem] = []

    def problem(self, column: str | None, detail: str) -> None:
        self.problems.append(Problem(row_pointer(self.row.number, column), detail))

    def has_problem(self, column: str) -> bool:
        return any(problem.pointer == row_pointer(self.row.number, column) for problem in self.problems)

    def raw(self, column: str) -> object:
        return self.row.cells.get(column)

    def text(self, column: str) -> str | None:
        """The cell as text; None when it is empty or not text (a JSON number, say: a problem then)."""
        value = self.raw(column)
        if value is None or isinstance(value, str):
            return value
        self.problem(column, "Give this as text.")
        return None

    def items(self, column: str, separators: re.Pattern[str]) -> list[str]:
        value = self.raw(column)
        if isinstance(value, list):
            if all(isinstance(item, str) for item in value):
                return value
            self.problem(column, "Give this as a list of texts.")
            return []
        return separators.split(self.text(column) or "")

    def flag(self, column: str) -> bool:
        value = self.raw(column)
        if isinstance(value, bool):
            return value
        word = (self.text(column) or "").strip().casefold()
        if word in TRUE_WORDS | FALSE_WORDS:
            return word in TRUE_WORDS
        self.problem(column, f"“{word}” is neither true nor false.")
        return False


def _column_of(pointer: str, channels: Sequence[Channel]) -> str | None:
    """The column a problem check_request found in a row's request came from."""
    parts = pointer.strip("/").split("/")
    if parts[0] == "channels" and len(parts) >= 3 and parts[2] == "text":
        return VARIANT_PREFIX + channels[int(parts[1])].network
    return COLUMN_OF_FIELD.get(parts[0])


def _did_you_mean(name: str, known: Sequence[str]) -> str:
    by_folded = {candidate.casefold(): candidate for candidate in known}
    close = difflib.get_close_matches(name.casefold(), list(by_folded), n=1)
    return f" (did you mean “{by_folded[close[0]]}”?)" if close else ""


def _assign_slots(session: Session, planned: Sequence[PlannedPost], now: datetime) -> list[Problem]:
    """Give each queued post the next free slot of each of its channels, in the file's order.

    A slot is free when no waiting delivery holds it, nor a post of this file at an exact time: unlike
    posts created one by one, a queued row does not take a slot that a later row's fixed time takes.
    """
    queued: dict[uuid.UUID, list[PlannedPost]] = {}
    fixed: dict[uuid.UUID, list[datetime]] = {}
    channels: dict[uuid.UUID, Channel] = {}
    for post in planned:
        if post.request.draft:
            continue
        for channel in post.channels:
            channels[channel.id] = channel
            if post.request.timing is Timing.QUEUE:
                queued.setdefault(channel.id, []).append(post)
            elif post.request.timing is Timing.AT:
                fixed.setdefault(channel.id, []).append(post.request.scheduled_at or now)
    problems = []
    for channel_id, posts in queued.items():
        channel = channels[channel_id]
        slots = free_queue_slots(
            session, channel, now=now, count=len(posts), also_taken=fixed.get(channel_id, [])
        )
        for post, slot in zip(posts, slots, strict=False):
            post.slots[channel_id] = slot
        problems += [
            Problem(
                row_pointer(post.row, TIME),
                f"{channel.name} has no free posting slot in the coming year for this post "
                f"({len(slots)} free, {len(posts)} queued by this file).",
            )
            for post in posts[len(slots) :]
        ]
    return problems
