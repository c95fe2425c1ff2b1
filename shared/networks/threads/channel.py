"""A Threads channel: its options, its credentials, and what a draft may be on Threads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.networks.ports import Account, AuthExpired, Draft, MediaRule, Rejected
from shared.networks.toolkit.media import media_problems
from shared.networks.toolkit.parts import labelled_texts
from shared.networks.toolkit.settings import unknown_options
from shared.networks.toolkit.tokens import stored_expiry, token_problems
from shared.text.threads import text_problems

# POST /{threads-user-id}/threads `reply_control`: who may reply to the channel's posts.
REPLY_CONTROLS = ("everyone", "accounts_you_follow", "mentioned_only")
SETTING_KEYS = frozenset({"reply_control"})

# posts, "Media specifications": JPEG and PNG up to 8 MB; MOV or MP4 up to 1 GB (and 5 minutes); alt text
# at most 1,000 characters (the `alt_text` parameter); a carousel of 2 to 20 images and videos (Meta's
# Threads API Postman collection, "Create a Carousel Container": "at least 2 and up to 20").
IMAGE_TYPES = ("image/jpeg", "image/png")
VIDEO_TYPES = ("video/mp4", "video/quicktime")
IMAGE_MAX_BYTES = 8_000_000
VIDEO_MAX_BYTES = 1_000_000_000
MAX_MEDIA = 20
ALT_TEXT_LIMIT = 1000
# The image limit; a video's, larger, is checked in draft_problems.
MEDIA_RULE = MediaRule(
    content_types=IMAGE_TYPES + VIDEO_TYPES,
    max_bytes=IMAGE_MAX_BYTES,
    max_items=MAX_MEDIA,
    alt_text_limit=ALT_TEXT_LIMIT,
)
NO_PUBLIC_ADDRESS = "Threads fetches media from a public address: set CRIER_PUBLIC_URL"


@dataclass(frozen=True)
class Channel:
    """Who the channel posts as, and how."""

    access_token: str = field(repr=False)
    # The Threads user id the token was issued for; "me" (the token's own user) when it was not kept.
    user_id: str = "me"
    reply_control: str | None = None


def channel_of(account: Account) -> Channel:
    """The account as a Threads channel; AuthExpired when it has no token, Rejected for unusable options."""
    problems = check_settings(account.settings)
    if problems:
        raise Rejected("the Threads channel's settings are not usable: " + "; ".join(problems))
    token = account.credentials.get("access_token")
    if not isinstance(token, str) or not token:
        raise AuthExpired("the Threads channel has no access token: connect the account again")
    user_id = account.credentials.get("user_id")
    return Channel(
        access_token=token,
        user_id=str(user_id) if isinstance(user_id, str | int) and str(user_id).isdigit() else "me",
        reply_control=account.settings.get("reply_control"),
    )


def check_settings(settings: Mapping[str, Any]) -> list[str]:
    problems = unknown_options(settings, SETTING_KEYS)
    reply_control = settings.get("reply_control")
    if reply_control is not None and reply_control not in REPLY_CONTROLS:
        problems.append(f"reply_control must be one of {', '.join(REPLY_CONTROLS)}")
    return problems


def check_credentials(credentials: Mapping[str, Any]) -> list[str]:
    """Problems with the credentials' shape; whether Threads takes them, verify() asks."""
    problems = token_problems(credentials, ("access_token",), "Threads")
    user_id = credentials.get("user_id")
    if user_id is not None and not str(user_id).isdigit():
        problems.append("user_id must be the Threads user id, digits only")
    if credentials.get("expires_at") is not None and stored_expiry(credentials) is None:
        problems.append("expires_at must be an ISO 8601 time")
    return problems


def draft_problems(draft: Draft) -> list[str]:
    """Why Threads would refuse the draft: its texts (see shared.text.threads), its media, and what it
    replies to."""
    problems = []
    if draft.reply_to is not None and not draft.reply_to.external_id.isdigit():
        problems.append("the post to reply to is not a Threads post Crier read (a media id is digits)")
    for index, (label, text) in enumerate(labelled_texts(draft)):
        if not text.strip() and (index > 0 or not draft.media):
            problems.append(f"{label} is empty; a Threads post without media needs text")
        problems += [f"{label}: {problem}" for problem in text_problems(text)]
    problems += media_problems(
        draft.media, MEDIA_RULE, "Threads", limits=dict.fromkeys(VIDEO_TYPES, VIDEO_MAX_BYTES)
    )
    # Threads fetches each file itself (image_url, video_url): Crier must serve it at a public address.
    problems += [
        f"attachment {number}: {NO_PUBLIC_ADDRESS}"
        for number, item in enumerate(draft.media, start=1)
        if not item.public_url
    ]
    return problems
