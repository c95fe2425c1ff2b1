"""What a network would refuse in a draft's media, checked against its MediaRule before anything is sent."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from shared.networks.ports import MediaItem, MediaRule

MB = 1024 * 1024


def media_problems(
    media: Sequence[MediaItem],
    rule: MediaRule,
    network: str,
    *,
    alone: Collection[str] = (),
    limits: Mapping[str, int] | None = None,
) -> list[str]:
    """Too many items, a type the rule does not name, a file too large, a description too long.

    `network` is named as a sentence names it ("Mastodon", "the sandbox"). An item of one of the `alone`
    types (a video, on most networks) must be the only one; `limits` gives the types whose files have a
    limit of their own (a video's, larger than the rule's; a photo's, smaller).
    """
    problems = []
    if len(media) > rule.max_items:
        problems.append(f"{len(media)} attachments; {network} takes at most {rule.max_items}")
    lonely = next((item.content_type for item in media if item.content_type in alone), None)
    if lonely is not None and len(media) > 1:
        problems.append(f"a {lonely} attachment must be the only one on {network}")
    for number, item in enumerate(media, 1):
        if item.content_type not in rule.content_types:
            problems.append(
                f"attachment {number}: Crier sends {', '.join(rule.content_types)} to {network}, "
                f"not {item.content_type}"
            )
            continue
        limit = (limits or {}).get(item.content_type, rule.max_bytes)
        if len(item.data) > limit:
            problems.append(
                f"attachment {number} is {len(item.data)} bytes; {network} takes at most {size(limit)} "
                f"of {item.content_type}"
            )
        if rule.alt_text_limit is not None and len(item.alt_text or "") > rule.alt_text_limit:
            problems.append(f"attachment {number}: the description is over {rule.alt_text_limit} characters")
    return problems


def size(limit: int) -> str:
    """A limit as people read it: `8 MB` where it is whole megabytes (of 1,048,576 bytes), else bytes."""
    return f"{limit // MB} MB" if limit >= MB and limit % MB == 0 else f"{limit} bytes"
