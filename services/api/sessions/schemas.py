"""What a dashboard session looks like on the wire: never its secret, which only the browser holds."""

from __future__ import annotations

from marshmallow import Schema, fields

from services.api.fields import UTCDateTime


class SessionTokenSchema(Schema):
    """The token the browser signed in with."""

    id = fields.UUID()
    name = fields.String(metadata={"example": "laptop"})
    prefix = fields.String(metadata={"description": "The token's first characters, to tell tokens apart."})


class SessionSchema(Schema):
    id = fields.UUID()
    user_agent = fields.String(
        metadata={
            "description": "What the browser called itself when it signed in.",
            "example": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        }
    )
    created_at = UTCDateTime(metadata={"description": "When the browser signed in."})
    last_seen_at = UTCDateTime(metadata={"description": "Its latest request, to the minute."})
    expires_at = UTCDateTime(metadata={"description": "When it must sign in again, however active."})
    token = fields.Nested(SessionTokenSchema)


class SessionListSchema(Schema):
    items = fields.List(fields.Nested(SessionSchema))
