"""Replies to a post, counted from the overview: the articles whose References name it.

NNTP has no counts of likes or views: what a news server tells is which articles follow up which, in each
article's References header, kept in the overview database that OVER reads (RFC 3977 section 8.3). Crier
reads the group's most recent articles (a bounded range, not the whole group) and counts, for each of its
posts, the articles that name it in their References, its own thread's follow-ups excepted. A crossposted
reply is in each group's overview and is counted once.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.networks.nntp.articles import delivery_tag, is_part_of
from shared.networks.nntp.client import Session
from shared.networks.ports import Engagement, PostGone

# How many of a group's most recent articles are read: about 150 KB of overview at INN's ~150 bytes a line.
RECENT_ARTICLES = 1000
# RFC 3977 section 8.4: the overview's fields, after the article number: Subject, From, Date, Message-ID,
# References, then Bytes and Lines.
_MESSAGE_ID = 4
_REFERENCES = 5


def count_followups(
    session: Session, newsgroups: Sequence[str], external_ids: Sequence[str], *, recent: int = RECENT_ARTICLES
) -> dict[str, Engagement | PostGone]:
    """Each post's replies among the groups' recent articles; PostGone for a post the server no longer has
    (cancelled or expired)."""
    readings: dict[str, Engagement | PostGone] = {}
    present = []
    for external_id in external_ids:
        if session.stat(external_id):
            present.append(external_id)
        else:
            readings[external_id] = PostGone(f"Usenet: the server no longer has {external_id}")
    if not present:
        return readings
    references: dict[str, list[str]] = {}
    for group in newsgroups:
        span = session.group(group)
        if span is None or span[1] < span[0]:
            continue
        low, high = span
        for fields in session.over(max(low, high - recent + 1), high):
            if len(fields) > _REFERENCES and fields[_MESSAGE_ID] not in references:
                references[fields[_MESSAGE_ID]] = fields[_REFERENCES].split()
    for external_id in present:
        tag = _tag_of(external_id)
        replies = sum(
            1
            for article_id, cited in references.items()
            if external_id in cited and not (tag and is_part_of(article_id, tag))
        )
        readings[external_id] = Engagement(
            replies=replies, raw={"replies": replies, "articles_read": len(references)}
        )
    return readings


def _tag_of(external_id: str) -> str | None:
    """The delivery tag of one of Crier's Message-IDs (`<crier.HASH.N@domain>`); None for another's."""
    left = external_id.strip("<>").partition("@")[0]
    tag, _, number = left.rpartition(".")
    return (
        tag if number.isdigit() and tag.startswith("crier.") and len(tag) == len(delivery_tag("")) else None
    )
