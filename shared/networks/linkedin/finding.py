"""What an uncertain attempt made on LinkedIn, found among the author's own posts and the post's comments.

LinkedIn keeps no idempotency key. So the author's posts are listed (GET /rest/posts?q=author, sorted by
LAST_MODIFIED, newest first, a bounded number of pages back) and the post is recognised by what was sent:
the same commentary (little text, as sent), the same number of images, created no earlier than the first
attempt (less a minute of clock skew). A first comment is recognised among the post's comments
(GET /rest/socialActions/{post}/comments) by its author and text. Several matches: a person decides. A post
not there yet may still appear while the uncertain attempt is recent (`settle`): until then, ask again later.

Reading a member's posts and comments needs r_member_social, which LinkedIn grants only to approved apps:
without it the listing is refused (403), and a person must look (CannotTell, with the parts already known).
A page's posts are read with r_organization_social, which Crier asks for when it connects a page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.networks.linkedin.channel import first_comment
from shared.networks.linkedin.rest import (
    WHAT,
    LinkedInApi,
    comment_url,
    encoded,
    from_ms,
    post_part,
    query,
)
from shared.networks.ports import CannotTell, Draft, PublishedPart, PublishedPost
from shared.networks.toolkit.answers import identifier, reading
from shared.networks.toolkit.own_posts import AmongOwnPosts, part_address
from shared.text.linkedin import commentary

PAGE_SIZE = 50
MAX_PAGES = 4
CLOCK_SKEW = timedelta(seconds=60)


@dataclass(frozen=True)
class Sent:
    """What one publish sent: the author, the commentary as sent, the image count, the first comment."""

    author: str
    commentary: str
    media_count: int
    comment: str | None
    sent_at: datetime

    @classmethod
    def of(cls, author: str, draft: Draft, sent_at: datetime) -> Sent:
        return cls(
            author=author,
            commentary=commentary(draft.text),
            media_count=len(draft.media),
            comment=first_comment(draft),
            sent_at=sent_at,
        )


def media_count(post: Mapping[str, Any]) -> int:
    content = post.get("content") or {}
    if "multiImage" in content:
        return len(content["multiImage"].get("images") or ())
    return 1 if "media" in content else 0


def comment_of(post_urn: str, comment: Mapping[str, Any]) -> PublishedPart:
    urn = identifier(comment.get("$URN") or comment["commentUrn"])
    created = (comment.get("created") or {}).get("time")
    return PublishedPart(external_id=urn, url=comment_url(post_urn, urn), created_at=from_ms(created))


class PostFinder:
    """Finds what an attempt sent among the author's posts and the post's comments."""

    def __init__(self, api: LinkedInApi, *, clock: Callable[[], datetime], settle: timedelta) -> None:
        self._api = api
        self._own = AmongOwnPosts(WHAT, clock, settle, items="items")

    def find(
        self,
        token: str,
        sent: Sent,
        last_attempted_at: datetime | None,
        published: Sequence[PublishedPart],
    ) -> PublishedPost | None:
        settled = self._own.settled(last_attempted_at or sent.sent_at)
        parts = list(published[: 2 if sent.comment else 1])
        if not parts:
            post = self._own.the_one(
                self._posts_since(token, sent), "the post", settled=settled, address=part_address
            )
            if post is None:
                return None
            parts.append(post)
        if sent.comment is not None and len(parts) == 1:
            try:
                comments = self._comments(token, sent, parts[0].external_id)
            except CannotTell as error:
                raise error.after(parts) from None
            comment = self._own.the_one(
                comments, "the first comment", settled=settled, published=parts, address=part_address
            )
            if comment is not None:
                parts.append(comment)
        return PublishedPost.of(parts)

    def _posts_since(self, token: str, sent: Sent) -> list[PublishedPart]:
        since = sent.sent_at - CLOCK_SKEW
        matches: list[PublishedPart] = []
        for page in range(MAX_PAGES):
            fields = {
                "author": encoded(sent.author),
                "q": "author",
                "count": str(PAGE_SIZE),
                "start": str(page * PAGE_SIZE),
                "sortBy": "LAST_MODIFIED",
            }
            response = self._api.send("GET", f"/rest/posts?{query(fields)}", token)
            if response.status_code == 403:
                raise CannotTell(
                    "LinkedIn refused to list the author's posts (403): reading a member's posts needs the "
                    "r_member_social permission LinkedIn grants only to approved apps; a person must look"
                )
            answer = self._api.calls.answer(response, what=WHAT)
            with reading(WHAT, write=False):
                elements = answer["elements"]
                for post in elements:
                    created = from_ms(post.get("createdAt"))
                    if (
                        created is not None
                        and created >= since
                        and post.get("commentary") == sent.commentary
                        and media_count(post) == sent.media_count
                    ):
                        matches.append(post_part(identifier(post["id"]), post.get("createdAt")))
                # Sorted by last change: once a page ends with a post last changed before the attempt,
                # every later one was changed (and so made) before it too.
                modified = [from_ms(post.get("lastModifiedAt")) for post in elements]
                if len(elements) < PAGE_SIZE or any(when is not None and when < since for when in modified):
                    return matches
        raise CannotTell(
            f"LinkedIn: more than {MAX_PAGES * PAGE_SIZE} posts changed since the attempt; too many to be "
            "sure the post is not among older ones"
        )

    def _comments(self, token: str, sent: Sent, post_urn: str) -> list[PublishedPart]:
        since = sent.sent_at - CLOCK_SKEW
        path = f"/rest/socialActions/{encoded(post_urn)}/comments?count=100"
        response = self._api.send("GET", path, token)
        if response.status_code == 403:
            raise CannotTell(
                f"LinkedIn refused to list the comments on {post_urn} (403): reading a member's comments "
                "needs the r_member_social permission LinkedIn grants only to approved apps; a person looks"
            )
        answer = self._api.calls.answer(response, what=WHAT)
        with reading(WHAT, write=False):
            return [
                comment_of(post_urn, comment)
                for comment in answer["elements"]
                if comment.get("actor") == sent.author
                and (comment.get("message") or {}).get("text") == sent.comment
                and (from_ms((comment.get("created") or {}).get("time")) or since) >= since
            ]
