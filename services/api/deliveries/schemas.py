"""What a delivery looks like on the wire."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.api.fields import UTCDateTime
from shared.deliveries.models import AttemptOutcome, ChangeKind, ChangeState, Delivery, DeliveryState
from shared.networks.toolkit.answers import POST_ID_LIMIT, POST_URL_LIMIT


class DeliverySchema(Schema):
    id = fields.UUID()
    channel_id = fields.UUID()
    network = fields.String(attribute="channel.network", metadata={"example": "sandbox"})
    state = fields.Enum(DeliveryState, by_value=fields.String)
    scheduled_at = UTCDateTime(
        metadata={
            "description": "When it is meant to go out: the post's time, or when a person last sent it again."
        }
    )
    due_at = UTCDateTime(
        metadata={
            "description": "When it is next acted on: its time, a retry's backoff or a rate limit's end."
        }
    )
    published_at = UTCDateTime(allow_none=True)
    url = fields.String(
        attribute="external_url", allow_none=True, metadata={"example": "https://sandbox.invalid/@acme/1f3c"}
    )
    error = fields.String(attribute="last_error", allow_none=True)
    attempts = fields.Method(
        "count_attempts", metadata={"type": "integer", "description": "Calls made to the network so far."}
    )

    def count_attempts(self, delivery: Delivery) -> int:
        return len(delivery.attempts)


class DeliveryListItemSchema(DeliverySchema):
    """A delivery listed across posts names its post."""

    post_id = fields.UUID()


class DeliveryListSchema(Schema):
    items = fields.List(fields.Nested(DeliveryListItemSchema))


class DeliveryQuerySchema(Schema):
    state = fields.Enum(
        DeliveryState, by_value=fields.String, metadata={"description": "Only deliveries in this state."}
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class PublishAttemptSchema(Schema):
    """One call to the network: recorded before the call, finished when the network answered."""

    number = fields.Integer(metadata={"description": "The claim it was made under, from 1.", "example": 1})
    started_at = UTCDateTime()
    finished_at = UTCDateTime(
        allow_none=True,
        metadata={"description": "Null while the call is under way, or if it never reported."},
    )
    outcome = fields.Enum(AttemptOutcome, by_value=fields.String, allow_none=True)
    error = fields.String(
        allow_none=True, metadata={"description": "What the network answered, if not a post."}
    )


class DeliveryPartSchema(Schema):
    """One post the delivery made on its network: the post itself, or one reply of its thread."""

    position = fields.Integer(metadata={"description": "0 for the post, n for thread reply n.", "example": 0})
    external_id = fields.String(metadata={"description": "The network's id of it.", "example": "1f3c"})
    url = fields.String(metadata={"example": "https://sandbox.invalid/@acme/1f3c"})
    published_at = UTCDateTime(
        allow_none=True, metadata={"description": "When the network says it made it, where it says."}
    )


class ChangeSchema(Schema):
    """A delete or an edit of a published delivery on its network, applied exactly once by a worker."""

    id = fields.UUID()
    delivery_id = fields.UUID()
    kind = fields.Enum(ChangeKind, by_value=fields.String)
    state = fields.Enum(
        ChangeState,
        by_value=fields.String,
        metadata={
            "description": "waiting, applying, unknown (it may have landed: looked at before it is made "
            "again), done, failed, or needs_review (the network could not be asked for long)."
        },
    )
    error = fields.String(attribute="last_error", allow_none=True)
    due_at = UTCDateTime(metadata={"description": "When it is next tried, while it is not finished."})
    created_at = UTCDateTime()
    finished_at = UTCDateTime(allow_none=True)


class SkippedSchema(Schema):
    delivery_id = fields.UUID()
    channel_id = fields.UUID()
    reason = fields.String(metadata={"example": "Bluesky does not let a published post be edited"})


class ChangesAskedSchema(Schema):
    changes = fields.List(fields.Nested(ChangeSchema), metadata={"description": "One per delivery changed."})
    skipped = fields.List(
        fields.Nested(SkippedSchema),
        metadata={"description": "Deliveries on networks that cannot do it, left as they are."},
    )


class DeliveryDetailSchema(DeliveryListItemSchema):
    """A delivery read on its own: every attempt, every part on the network, and how late it went out."""

    changes = fields.List(
        fields.Nested(ChangeSchema),
        metadata={"description": "Deletes and edits asked for after it was published, oldest first."},
    )
    parts = fields.List(
        fields.Nested(DeliveryPartSchema),
        metadata={
            "description": "Each post the delivery made, as soon as the network confirmed it: a thread "
            "stopped midway lists the parts that are out there, and goes on from the last."
        },
    )
    failures = fields.Integer(
        metadata={
            "description": "Transient failures since it was scheduled or last sent again; at the "
            "configured maximum it fails for good."
        }
    )
    # Replaces the list views' count: read on its own, a delivery shows what each attempt met.
    attempts = fields.List(  # type: ignore[assignment]
        fields.Nested(PublishAttemptSchema),
        metadata={"description": "Every call to the network, oldest first."},
    )
    late_by_seconds = fields.Method(
        "measure_lateness",
        metadata={
            "type": "number",
            "nullable": True,
            "description": "How long after its time it went out, in seconds, by the network's own time "
            "of the post where it gives one (negative only if the network's clock is behind); null until "
            "it is published.",
            "example": 0.42,
        },
    )

    def measure_lateness(self, delivery: Delivery) -> float | None:
        if delivery.state is not DeliveryState.PUBLISHED or delivery.published_at is None:
            return None
        return (delivery.published_at - delivery.scheduled_at).total_seconds()


class Resolution(StrEnum):
    """What a person found out about a delivery whose outcome was uncertain."""

    PUBLISHED = "published"  # it is on the network: record where
    REPUBLISH = "republish"  # it is not: send it again


class ResolveSchema(Schema):
    outcome = fields.Enum(
        Resolution,
        by_value=fields.String,
        required=True,
        metadata={"description": "published: it is on the network. republish: it is not; send it again."},
    )
    url = fields.Url(
        schemes={"http", "https"},
        validate=validate.Length(max=POST_URL_LIMIT),
        error_messages={"invalid": "Not a valid http or https URL."},
        metadata={
            "description": "Where the post is. Required with published, refused with republish.",
            "example": "https://sandbox.invalid/@acme/1f3c",
        },
    )
    external_id = fields.String(
        validate=validate.Length(min=1, max=POST_ID_LIMIT),
        metadata={
            "description": "The network's id of the post, if known. Only with published.",
            "example": "1f3c",
        },
    )

    @validates_schema
    def check_fields_fit_the_outcome(self, data: dict[str, Any], **_: Any) -> None:
        # Runs only once every field is valid, so `outcome` is there. A URL sent with republish would
        # read as recorded and then be dropped: it is refused instead.
        if data["outcome"] is Resolution.PUBLISHED and "url" not in data:
            raise ValidationError("Say where the post is: a published outcome needs its URL.", "url")
        if data["outcome"] is Resolution.REPUBLISH:
            errors = {
                name: [f"Only a published outcome takes {name}."]
                for name in ("url", "external_id")
                if name in data
            }
            if errors:
                raise ValidationError(errors)
