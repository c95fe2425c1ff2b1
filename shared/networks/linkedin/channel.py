"""A LinkedIn channel's options (who posts: the member, or a page they run), and what a draft may be."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.networks.ports import Draft, MediaRule
from shared.networks.toolkit.media import media_problems
from shared.networks.toolkit.settings import unknown_options
from shared.text.linkedin import LINKEDIN_LIMIT, linkedin_length

MEMBER = "member"
ORGANIZATION_URN = re.compile(r"^urn:li:organization:\d+$")
SETTING_KEYS = frozenset({"author"})
FIRST_COMMENT = "first_comment"
OPTION_KEYS = frozenset({FIRST_COMMENT})

# Images API: JPG, GIF and PNG; a post takes one image (content.media) or 2 to 20 (content.multiImage).
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif")
MAX_IMAGES = 20
# LinkedIn bounds an image by its pixels (36,152,320), not its bytes: this is Crier's own bound on a file.
IMAGE_MAX_BYTES = 10 * 1024 * 1024
# Posts API: a media item's altText, at most 4,086 characters.
ALT_TEXT_LIMIT = 4086
MEDIA_RULE = MediaRule(
    content_types=IMAGE_TYPES, max_bytes=IMAGE_MAX_BYTES, max_items=MAX_IMAGES, alt_text_limit=ALT_TEXT_LIMIT
)
# Comments API: a comment's message, at most 1,250 characters.
COMMENT_LIMIT = 1250


@dataclass(frozen=True)
class ChannelSettings:
    """Who the channel posts as: the member who connected it, or a page (organization) they administer."""

    organization: str | None = None

    @property
    def is_page(self) -> bool:
        return self.organization is not None


def parse_settings(settings: Mapping[str, Any]) -> tuple[ChannelSettings | None, list[str]]:
    """The channel's options and the problems with them; None when they cannot be used.

    `author` is "member" (the default: the person whose token it is, urn:li:person:…) or a page's URN,
    "urn:li:organization:123", for a page the member administers (ADMINISTRATOR or CONTENT_ADMIN role; the
    token then needs w_organization_social, and r_organization_social to read the page's posts back).
    """
    problems = unknown_options(settings, SETTING_KEYS)
    author = settings.get("author", MEMBER)
    if author != MEMBER and not (isinstance(author, str) and ORGANIZATION_URN.match(author)):
        problems.append(
            "author must be 'member' (post as the person who connected the channel) or a page's URN such "
            "as 'urn:li:organization:123' (a page they administer)"
        )
    if problems:
        return None, problems
    return ChannelSettings(organization=None if author == MEMBER else author), []


def first_comment(draft: Draft) -> str | None:
    """The comment the draft asks to add under the post once it is out, if any."""
    comment = draft.options.get(FIRST_COMMENT)
    return comment if isinstance(comment, str) and comment.strip() else None


def draft_problems(draft: Draft) -> list[str]:
    """What LinkedIn would refuse, or Crier cannot send, in this draft."""
    problems = [f"unknown option {key!r}" for key in draft.options if key not in OPTION_KEYS]
    if not draft.text.strip() and not draft.media:
        problems.append("the text is empty: LinkedIn needs a text or an image")
    length = linkedin_length(draft.text)
    if length > LINKEDIN_LIMIT:
        problems.append(
            f"the text is {length} characters long as LinkedIn counts it (reserved characters escaped); "
            f"LinkedIn allows {LINKEDIN_LIMIT}"
        )
    if draft.thread:
        problems.append("LinkedIn has no threads: use the first_comment option for a comment under the post")
    option = draft.options.get(FIRST_COMMENT)
    if option is not None and not isinstance(option, str):
        problems.append("first_comment must be text")
    comment = first_comment(draft)
    if comment is not None and len(comment) > COMMENT_LIMIT:
        problems.append(
            f"the first comment is {len(comment)} characters long; LinkedIn allows {COMMENT_LIMIT}"
        )
    problems += media_problems(draft.media, MEDIA_RULE, "LinkedIn")
    return problems
