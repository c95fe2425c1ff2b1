"""What a media asset looks like on the wire, and how one is uploaded."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate
from werkzeug.datastructures import FileStorage

from services.api.fields import UTCDateTime
from services.api.paging import Cursor
from shared.media.models import MediaAsset

# Longer than any network takes (Mastodon's 1,500 is the longest declared): only a bound on the request.
ALT_TEXT_MAX = 5000
ALT_TEXT_EXAMPLE = "Five people laughing around a table covered in stickers and laptops."


def AltTextField(**kwargs: Any) -> fields.String:
    return fields.String(
        # A form's fields escape the JSON body's checks (services.api.text_input): refused here.
        validate=[
            validate.Length(max=ALT_TEXT_MAX),
            validate.Regexp(r"^[^\x00]*$", error="Text may not contain NUL (U+0000) characters."),
        ],
        metadata={
            "description": "What the image shows, for people who cannot see it; networks send it along.",
            "example": ALT_TEXT_EXAMPLE,
        },
        **kwargs,
    )


class FileField(Upload):
    """A form's file part; a plain field of the same name (a value without a filename) is a 422."""

    default_error_messages = {"invalid": "Send a file here: a form part with a filename."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> FileStorage:
        if not isinstance(value, FileStorage):
            raise self.make_error("invalid")
        return value


class UploadSchema(Schema):
    """A multipart/form-data upload: the file, and optionally its alt text."""

    file = FileField(
        required=True,
        metadata={"description": "The image or video. Its type is read from its bytes, not from its name."},
    )
    alt_text = AltTextField(load_default=None)


class MediaChangeSchema(Schema):
    alt_text = AltTextField(required=True, allow_none=True)


class MediaSchema(Schema):
    id = fields.UUID()
    filename = fields.String(metadata={"example": "meetup.jpg"})
    content_type = fields.String(
        metadata={"description": "Read from the file's bytes when it was uploaded.", "example": "image/jpeg"}
    )
    size = fields.Integer(metadata={"description": "In bytes."})
    sha256 = fields.String()
    width = fields.Integer(allow_none=True, metadata={"description": "In pixels; null for a video."})
    height = fields.Integer(allow_none=True, metadata={"description": "In pixels; null for a video."})
    alt_text = fields.String(allow_none=True, metadata={"example": ALT_TEXT_EXAMPLE})
    uploaded_by = fields.UUID(allow_none=True)
    created_at = UTCDateTime()
    content_url = fields.Method("url_of_content", metadata={"type": "string", "description": "The bytes."})

    def url_of_content(self, asset: MediaAsset) -> str:
        return url_for("media.MediaContent", media_id=asset.id)


class MediaListSchema(Schema):
    items = fields.List(fields.Nested(MediaSchema))
    next_cursor = fields.String(
        allow_none=True, metadata={"description": "Pass as `cursor` for the next page; null on the last."}
    )


class MediaQuerySchema(Schema):
    cursor = Cursor()
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
