"""What link settings and short links look like on the wire."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.api.fields import UTCDateTime
from shared.links.services import UTM_PLACEHOLDERS, RulesSource

TEMPLATE_DESCRIPTION = (
    "A template: text, with placeholders Crier fills for each delivery: "
    + ", ".join(f"`{{{name}}}` ({meaning})" for name, meaning in UTM_PLACEHOLDERS.items())
    + ". A parameter that comes out empty is left out."
)


def _template(example: str) -> fields.String:
    return fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": TEMPLATE_DESCRIPTION, "example": example},
    )


class UtmSchema(Schema):
    """UTM parameters added to every link; a parameter the link already has is left as the author wrote it."""

    utm_source = _template("{network}")
    utm_medium = _template("social")
    utm_campaign = _template("{label}")
    utm_term = _template("{channel}")
    utm_content = _template("{post_id}")


class LinkSettingsInputSchema(Schema):
    shorten = fields.Boolean(
        required=True,
        metadata={"description": "Replace each link with a Crier short link (/l/<code>) that counts clicks."},
    )
    utm = fields.Nested(UtmSchema, load_default=dict)


class LinkSettingsSchema(Schema):
    shorten = fields.Boolean()
    utm = fields.Dict(
        keys=fields.String(), values=fields.String(), metadata={"example": {"utm_source": "{network}"}}
    )
    source = fields.Enum(
        RulesSource,
        by_value=fields.String,
        metadata={
            "description": "Where these settings come from: the channel's override, the workspace's default, "
            "or none (links are left as written)."
        },
    )


class ShortLinkSchema(Schema):
    code = fields.String(metadata={"example": "aZ3kQ9xW"})
    short_url = fields.String(metadata={"example": "https://crier.example.org/l/aZ3kQ9xW"})
    target_url = fields.String(
        metadata={
            "example": "https://example.org/meetup?utm_source=mastodon",
            "description": "With its UTM tags.",
        }
    )
    clicks = fields.Integer(
        metadata={"description": "Clicks by people; link-preview robots are not counted."}
    )
    first_clicked_at = UTCDateTime(allow_none=True)
    last_clicked_at = UTCDateTime(allow_none=True)
    created_at = UTCDateTime()


class ShortLinkListSchema(Schema):
    items = fields.List(fields.Nested(ShortLinkSchema))
