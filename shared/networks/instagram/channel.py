"""What an Instagram channel's options and a draft may be: the media rules of content publishing.

From "Content Publishing" and "IG User Media" (Instagram API with Facebook Login): an image container
takes a JPEG (the only image format), at most 8 MiB; a video goes out as a reel (`media_type=REELS`),
MOV or MP4; a carousel holds 2 to 10 images or videos, each a container of its own; there is no post
without media. Captions follow shared.text.instagram.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.networks.ports import Draft, MediaRule
from shared.networks.toolkit.media import media_problems
from shared.networks.toolkit.settings import LEGACY_LOOPBACK_SETTING, unknown_options
from shared.text.instagram import caption_problems

IMAGE_TYPES = ("image/jpeg",)
VIDEO_TYPES = ("video/mp4", "video/quicktime")
IMAGE_MAX_BYTES = 8 * 1024 * 1024
# "Reels Specifications": at most 300 MB (a carousel's video at most 100 MB; the stricter is not checked
# here for one video alone).
VIDEO_MAX_BYTES = 300 * 1024 * 1024
CAROUSEL_VIDEO_MAX_BYTES = 100 * 1024 * 1024
MIN_CAROUSEL, MAX_CAROUSEL = 2, 10
MEDIA_RULE = MediaRule(
    content_types=IMAGE_TYPES + VIDEO_TYPES,
    # A reel's limit, so that Crier takes reels when a post is written; an image's 8 MiB (and a carousel
    # video's 100 MB) are checked by draft_problems before anything is sent.
    max_bytes=VIDEO_MAX_BYTES,
    max_items=MAX_CAROUSEL,
    min_items=1,
    # Content publishing takes `alt_text` on image containers and documents no limit for it.
    alt_text_limit=None,
)
FIRST_COMMENT = "first_comment"

# The Facebook page a connection picks, when the person manages several linked to Instagram accounts.
PAGE_SETTING = "page_id"
KNOWN_SETTINGS = (PAGE_SETTING, LEGACY_LOOPBACK_SETTING)


def settings_problems(settings: Mapping[str, Any]) -> list[str]:
    problems = unknown_options(settings, KNOWN_SETTINGS)
    page = settings.get(PAGE_SETTING)
    if page is not None and (not isinstance(page, str | int) or not str(page).isdigit()):
        problems.append(f"{PAGE_SETTING} must be the numeric id of a Facebook page")
    return problems


def first_comment(draft: Draft) -> str | None:
    """The comment to add under the post once it is out, when the draft's options carry one."""
    comment = draft.options.get(FIRST_COMMENT)
    return comment if isinstance(comment, str) and comment.strip() else None


def draft_problems(draft: Draft) -> list[str]:
    """What would make Instagram refuse the draft, found before any container is made.

    A draft without media is not refused here: Crier validates a post's drafts before their media are
    read, and the rule that Instagram takes no post without media is the MediaRule's `min_items`, checked
    against the attachments then; publishing refuses a draft without (missing_media)."""
    problems = [f"the text: {problem}" for problem in caption_problems(draft.text)]
    if draft.thread:
        problems.append("Instagram has no threads: send the thread items as separate posts")
    comment = draft.options.get(FIRST_COMMENT)
    if comment is not None and not isinstance(comment, str):
        problems.append(f"{FIRST_COMMENT} must be text")
    elif isinstance(comment, str):
        problems += [f"the first comment: {problem}" for problem in caption_problems(comment)]
    media = draft.media
    if not media and not draft.text.strip():
        problems.append("there is nothing to post: Instagram needs at least one JPEG image or MP4/MOV video")
    video_max_bytes = CAROUSEL_VIDEO_MAX_BYTES if len(media) >= MIN_CAROUSEL else VIDEO_MAX_BYTES
    limits = dict.fromkeys(IMAGE_TYPES, IMAGE_MAX_BYTES) | dict.fromkeys(VIDEO_TYPES, video_max_bytes)
    problems += media_problems(media, MEDIA_RULE, "Instagram", limits=limits)
    return problems


def missing_media(draft: Draft) -> list[str]:
    """What publishing needs of the draft's media beyond what validate() says: that there are some."""
    if not draft.media:
        return ["Instagram has no text-only posts: attach at least one JPEG image or MP4/MOV video"]
    return []
