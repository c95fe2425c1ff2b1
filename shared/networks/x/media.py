"""A draft's media on X: what X takes, and the v2 upload that turns each file into a media id.

Followed: docs.x.com/x-api/media (quickstart: media-upload and media-upload-chunked; the reference of
POST /2/media/upload, POST /2/media/upload/initialize, /{id}/append, /{id}/finalize, GET /2/media/upload
with command=STATUS, POST /2/media/metadata) and the media best practices (sizes, counts). An image goes
in one request; an animated GIF or a video is initialized, appended in chunks, finalized, and then, while
X answers `processing_info`, polled until its state is `succeeded` (usable) or `failed` (refused). A post
may not name the media before that. Alt text is set with the metadata call, for images and GIFs.

Nothing here makes a post: a failed upload leaves nothing on the account, so every failure is at most
Transient (retried), never "may have posted".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from shared.networks.ports import MediaItem, MediaRule, Rejected, Transient
from shared.networks.toolkit.answers import identifier, reading, sanitized
from shared.networks.toolkit.calls import Calls
from shared.networks.toolkit.media import media_problems as toolkit_media_problems

IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")
GIF_TYPES = ("image/gif",)
VIDEO_TYPES = ("video/mp4",)
IMAGE_MAX_BYTES = 5 * 1024 * 1024
GIF_MAX_BYTES = 15 * 1024 * 1024
VIDEO_MAX_BYTES = 512 * 1024 * 1024
MAX_IMAGES = 4
ALT_TEXT_LIMIT = 1000
MEDIA_RULE = MediaRule(
    content_types=IMAGE_TYPES + GIF_TYPES + VIDEO_TYPES,
    # The image limit; an animated GIF may be up to 15 MB and a video 512 MB, checked in media_problems.
    max_bytes=IMAGE_MAX_BYTES,
    max_items=MAX_IMAGES,
    alt_text_limit=ALT_TEXT_LIMIT,
)
# Each APPEND carries at most this much (X takes chunks of up to 5 MB; a smaller one is kinder on retries).
CHUNK_BYTES = 4 * 1024 * 1024


def media_problems(media: Sequence[MediaItem]) -> list[str]:
    """What X would refuse in the draft's media: up to 4 images, or one GIF or video alone, within sizes."""
    return toolkit_media_problems(
        media,
        MEDIA_RULE,
        "X",
        alone=GIF_TYPES + VIDEO_TYPES,
        limits=dict.fromkeys(GIF_TYPES, GIF_MAX_BYTES) | dict.fromkeys(VIDEO_TYPES, VIDEO_MAX_BYTES),
    )


class MediaUploads:
    """The v2 media upload, with the account's token."""

    def __init__(
        self,
        calls: Calls,
        api_url: str,
        *,
        poll_attempts: int = 60,
        longest_wait: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._calls = calls
        self._api_url = api_url
        self._poll_attempts = poll_attempts
        # X says how long to wait before the next STATUS (check_after_secs); never longer than this.
        self._longest_wait = longest_wait
        self._sleep = sleep

    def upload(self, access_token: str, item: MediaItem) -> str:
        """The media id of the file, once X has processed it, with its alt text set."""
        if item.content_type in IMAGE_TYPES:
            media = self._simple(access_token, item)
        else:
            media = self._chunked(access_token, item)
        with reading("X media upload", write=False):
            media_id = identifier(media["id"])
        self._until_processed(access_token, media_id, media.get("processing_info"))
        if item.alt_text and item.content_type not in VIDEO_TYPES:
            response = self._calls.send(
                "POST",
                f"{self._api_url}/2/media/metadata",
                token=access_token,
                json={"id": media_id, "metadata": {"alt_text": {"text": item.alt_text}}},
            )
            self._calls.check(response, what="X media metadata")
        return media_id

    def _simple(self, access_token: str, item: MediaItem) -> dict[str, Any]:
        extension = item.content_type.rsplit("/", 1)[-1]
        response = self._calls.send(
            "POST",
            f"{self._api_url}/2/media/upload",
            token=access_token,
            upload=True,
            files={"media": (f"media.{extension}", item.data, item.content_type)},
            data={"media_category": "tweet_image", "media_type": item.content_type},
        )
        return self._data(response, "X media upload")

    def _chunked(self, access_token: str, item: MediaItem) -> dict[str, Any]:
        category = "tweet_gif" if item.content_type in GIF_TYPES else "tweet_video"
        response = self._calls.send(
            "POST",
            f"{self._api_url}/2/media/upload/initialize",
            token=access_token,
            json={"media_type": item.content_type, "total_bytes": len(item.data), "media_category": category},
        )
        started = self._data(response, "X media upload (initialize)")
        with reading("X media upload (initialize)", write=False):
            media_id = identifier(started["id"])
        for index, offset in enumerate(range(0, len(item.data), CHUNK_BYTES)):
            response = self._calls.send(
                "POST",
                f"{self._api_url}/2/media/upload/{media_id}/append",
                token=access_token,
                upload=True,
                files={
                    "media": ("chunk", item.data[offset : offset + CHUNK_BYTES], "application/octet-stream")
                },
                data={"segment_index": str(index)},
            )
            self._calls.check(response, what=f"X media upload (append {index})")
        response = self._calls.send(
            "POST", f"{self._api_url}/2/media/upload/{media_id}/finalize", token=access_token
        )
        return self._data(response, "X media upload (finalize)")

    def _until_processed(self, access_token: str, media_id: str, processing: Any) -> None:
        for _ in range(self._poll_attempts):
            if not isinstance(processing, dict):
                return  # no processing_info: usable at once
            state = processing.get("state")
            if state == "succeeded":
                return
            if state == "failed":
                error = processing.get("error")
                error = error if isinstance(error, dict) else {}
                said = sanitized(str(error.get("message") or error.get("name") or "no reason given"))
                raise Rejected(f"X could not process media {media_id}: {said}")
            wait = processing.get("check_after_secs")
            wait = float(wait) if isinstance(wait, int | float) and not isinstance(wait, bool) else 1.0
            self._sleep(max(0.0, min(wait, self._longest_wait)))
            response = self._calls.send(
                "GET",
                f"{self._api_url}/2/media/upload",
                token=access_token,
                params={"command": "STATUS", "media_id": media_id},
            )
            processing = self._data(response, "X media status").get("processing_info")
        raise Transient(f"X: media {media_id} was still processing after {self._poll_attempts} checks")

    def _data(self, response: Any, what: str) -> dict[str, Any]:
        body = self._calls.answer(response, what=what)
        data = body.get("data")
        if not isinstance(data, dict):
            raise Transient(f"{what} answered without its data")
        return data
