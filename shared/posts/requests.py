"""A post as a person asks for it, before any check: what to say, where, and when.

The API's schemas, the bulk import and the media library build these; shared.posts.checking checks
them whole, and shared.workflow.services stores them into posts.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.networks.ports import Draft, ReplyTarget
from shared.posts.models import Post, PostLabel, PostStage, PostTarget, Timing
from shared.posts.recurrence import parse_rule


@dataclass(frozen=True)
class TargetRequest:
    """One channel to publish on, with its variant (None: the post's own text, thread or media)."""

    channel_id: uuid.UUID
    text: str | None = None
    thread: Sequence[str] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    media: Sequence[uuid.UUID] | None = None  # media asset ids, in order; [] sends none on this channel


@dataclass(frozen=True)
class PostRequest:
    """A post as a person asks for it: what to say, where, and when."""

    text: str
    targets: Sequence[TargetRequest]
    thread: Sequence[str] = ()
    media: Sequence[uuid.UUID] = ()  # media asset ids, in the order they are shown
    labels: Sequence[str] = ()
    timezone: str = "UTC"
    timing: Timing = Timing.AT
    scheduled_at: datetime | None = None  # AT: the time (None: now); RECURRENCE: the first occurrence
    recurrence_rule: str | None = None
    share_next: bool = False  # QUEUE: take the first slot and move the rest of the queue down one
    draft: bool = False  # keep it unscheduled until it is submitted
    # Where the channels were in the request, for problems to point at: `channels`, or `channel_ids`.
    channels_pointer: str = "/channels"
    # The post this one answers: a reply from the engagement inbox (shared.inbox.answering), on one channel.
    reply_to: ReplyTarget | None = None

    @property
    def channel_ids(self) -> list[uuid.UUID]:
        return [target.channel_id for target in self.targets]

    @classmethod
    def of(cls, post: Post) -> PostRequest:
        """The request that would make `post` as it is: the base an edit changes fields of."""
        return cls(
            text=post.text,
            thread=list(post.thread),
            media=[uuid.UUID(media_id) for media_id in post.media],
            targets=[
                TargetRequest(
                    target.channel_id,
                    target.text,
                    target.thread,
                    dict(target.options),
                    media=None
                    if target.media is None
                    else [uuid.UUID(media_id) for media_id in target.media],
                )
                for target in post.targets
            ],
            labels=post.label_names,
            timezone=post.timezone,
            timing=post.timing,
            scheduled_at=post.scheduled_at if post.timing is not Timing.QUEUE else None,
            recurrence_rule=post.recurrence_rule,
            draft=post.stage is PostStage.DRAFT,
            reply_to=ReplyTarget.from_json(post.reply_to) if post.reply_to else None,
        )

    def draft_for(self, target: TargetRequest) -> Draft:
        """What the target's channel would receive: the post's text and thread, under its variant."""
        return Draft(
            text=target.text if target.text is not None else self.text,
            thread=tuple(target.thread if target.thread is not None else self.thread),
            options=target.options,
            reply_to=self.reply_to,
        )


def apply_request(post: Post, request: PostRequest) -> None:
    """Write the request into the post; the channels and labels it keeps are updated in place."""
    post.text = request.text
    post.thread = list(request.thread)
    post.media = [str(media_id) for media_id in request.media]
    post.timing = request.timing
    post.timezone = request.timezone
    post.scheduled_at = request.scheduled_at
    post.recurrence_rule = parse_rule(request.recurrence_rule) if request.recurrence_rule else None
    post.reply_to = request.reply_to.to_json() if request.reply_to is not None else None
    existing = {target.channel_id: target for target in post.targets}
    post.targets = [
        _target(existing.get(target.channel_id), target, position)
        for position, target in enumerate(request.targets)
    ]
    kept = {label.name: label for label in post.labels}
    post.labels = [kept.get(name) or PostLabel(name=name) for name in dict.fromkeys(request.labels)]


def _target(existing: PostTarget | None, request: TargetRequest, position: int) -> PostTarget:
    target = existing or PostTarget(channel_id=request.channel_id)
    target.position = position
    target.text = request.text
    target.thread = list(request.thread) if request.thread is not None else None
    target.media = [str(media_id) for media_id in request.media] if request.media is not None else None
    target.options = dict(request.options)
    return target
