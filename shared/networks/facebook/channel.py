"""A Facebook channel's options, its credentials, and what a draft may be on a Facebook Page."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.networks.ports import Account, AuthExpired, Draft, MediaRule, Rejected, ReplyTarget
from shared.networks.toolkit.answers import post_address_problem
from shared.networks.toolkit.media import media_problems
from shared.networks.toolkit.settings import unknown_options
from shared.networks.toolkit.tokens import is_token
from shared.text.facebook import FACEBOOK_COMMENT_LIMIT, FACEBOOK_POST_LIMIT, facebook_length

SETTING_KEYS = frozenset({"page_id"})
OPTION_KEYS = frozenset({"first_comment", "link"})
CREDENTIAL_KEY = "page_access_token"

# Page Photos (`POST /{page-id}/photos`): JPEG, BMP, PNG, GIF and TIFF, at most 4 MB a file. Video goes
# through another host (graph-video) and resumable uploads: not offered.
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/bmp", "image/tiff")
IMAGE_MAX_BYTES = 4 * 1024 * 1024
# `attached_media` names no maximum; Facebook's composer takes 10 photos with a post at most in practice.
MAX_MEDIA = 10
MEDIA_RULE = MediaRule(content_types=IMAGE_TYPES, max_bytes=IMAGE_MAX_BYTES, max_items=MAX_MEDIA)
PAGE_ID_MAX = 32
# A post's id is `{page}_{post}`, a comment's `{post}_{comment}`: digits either side.
GRAPH_OBJECT_ID = re.compile(r"[0-9]{1,32}_[0-9]{1,32}")


@dataclass(frozen=True)
class ChannelSettings:
    """A Facebook channel's options, checked: the Page it posts as."""

    page_id: str


def parse_settings(settings: Mapping[str, Any]) -> tuple[ChannelSettings | None, list[str]]:
    """The channel's options and the problems with them; None when they cannot be used."""
    problems = unknown_options(settings, SETTING_KEYS)
    page_id = settings.get("page_id")
    if isinstance(page_id, int) and not isinstance(page_id, bool):
        page_id = str(page_id)
    if not isinstance(page_id, str) or not page_id.isascii() or not page_id.isdigit():
        problems.append("page_id is required: the Page's numeric id (its About page, or Meta Business Suite)")
    elif len(page_id) > PAGE_ID_MAX:
        problems.append(f"page_id is at most {PAGE_ID_MAX} digits")
    if problems or not isinstance(page_id, str):
        return None, problems
    return ChannelSettings(page_id=page_id), []


def channel_of(settings: Mapping[str, Any]) -> ChannelSettings:
    """The channel's options; Rejected when they cannot be used."""
    channel, problems = parse_settings(settings)
    if channel is None:
        raise Rejected("the Facebook channel's settings are not usable: " + "; ".join(problems))
    return channel


def page_token(account: Account) -> str:
    """The Page access token; AuthExpired when the channel has none."""
    token = account.credentials.get(CREDENTIAL_KEY)
    if not isinstance(token, str) or not token:
        raise AuthExpired("the Facebook channel has no Page access token: connect the Page again")
    return token


def token_problems(credentials: Mapping[str, Any]) -> list[str]:
    if not is_token(credentials.get(CREDENTIAL_KEY)):
        return [f"{CREDENTIAL_KEY} must be the Page access token Facebook issued, without spaces"]
    return []


def first_comment(draft: Draft) -> str | None:
    """The comment the Page adds under its own post once it is out, if the draft asks for one."""
    comment = draft.options.get("first_comment")
    return comment if isinstance(comment, str) and comment.strip() else None


def link(draft: Draft) -> str | None:
    value = draft.options.get("link")
    return value if isinstance(value, str) and value else None


def part_count(draft: Draft) -> int:
    """The parts a draft makes on Facebook: the post, and its first comment if it has one (a reply is
    one comment)."""
    return 1 + (first_comment(draft) is not None and draft.reply_to is None)


def reply_object(target: ReplyTarget) -> str | None:
    """What a reply is a comment on: the comment it answers (a reply to a reply goes under the comment it
    replies to, as Facebook nests one level), else the post; None when the target names neither usably."""
    post = target.ref.get("post")
    comment = target.ref.get("comment")
    if not isinstance(post, str) or not GRAPH_OBJECT_ID.fullmatch(post):
        return None
    if comment is None:
        return post
    return comment if isinstance(comment, str) and GRAPH_OBJECT_ID.fullmatch(comment) else None


def reply_problems(draft: Draft) -> list[str]:
    """Why Facebook would refuse the draft as a reply (a comment): its target, its text, what it carries."""
    assert draft.reply_to is not None
    problems = []
    if reply_object(draft.reply_to) is None:
        problems.append("the post to reply to is not a Facebook post or comment Crier read")
    if not draft.text.strip():
        problems.append("the text is empty: a Facebook reply needs a message")
    elif facebook_length(draft.text) > FACEBOOK_COMMENT_LIMIT:
        problems.append(
            f"the text is {facebook_length(draft.text)} characters long; Facebook allows "
            f"{FACEBOOK_COMMENT_LIMIT} in a comment"
        )
    if draft.media or draft.options.get("link") is not None or draft.options.get("first_comment") is not None:
        problems.append("a Facebook reply is a comment of text alone: no photos, link or first comment")
    if draft.thread:
        problems.append("Facebook Pages take no threads")
    return problems


def text_problems(text: str) -> list[str]:
    """Why Facebook would refuse a post's message."""
    if not text.strip():
        return ["the text is empty: a Facebook post needs a message"]
    length = facebook_length(text)
    if length > FACEBOOK_POST_LIMIT:
        return [f"the text is {length} characters long (UTF-16 units); Facebook allows {FACEBOOK_POST_LIMIT}"]
    return []


def draft_problems(draft: Draft) -> list[str]:
    """Why Facebook would refuse the draft; empty when it may be sent."""
    problems = [f"unknown option {key!r}" for key in draft.options if key not in OPTION_KEYS]
    if draft.reply_to is not None:
        return problems + reply_problems(draft)
    problems += text_problems(draft.text)
    if draft.thread:
        problems.append("Facebook Pages take no threads; a first comment goes in the option first_comment")
    comment = draft.options.get("first_comment")
    if comment is not None:
        if not isinstance(comment, str) or not comment.strip():
            problems.append("first_comment must be some text")
        elif facebook_length(comment) > FACEBOOK_COMMENT_LIMIT:
            problems.append(
                f"first_comment is {facebook_length(comment)} characters long; Facebook allows "
                f"{FACEBOOK_COMMENT_LIMIT} in a comment"
            )
    url = draft.options.get("link")
    if url is not None:
        if not isinstance(url, str) or post_address_problem(url) is not None:
            problems.append("link must be an http(s) address")
        elif draft.media:
            problems.append("a Facebook post carries either a link or photos, not both")
    problems += media_problems(draft.media, MEDIA_RULE, "Facebook")
    return problems
