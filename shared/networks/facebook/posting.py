"""Publishing on a Facebook Page: the post (text, a link, or photos), then its first comment.

- Text and a link: `POST /{page-id}/feed` with `message` and `link`; Graph answers the post's `id`.
- One photo: `POST /{page-id}/photos` with the bytes as the multipart `source`, the text as `message`;
  Graph answers the photo's `id` and the post's `post_id`.
- Several photos: each uploaded with `published=false` (nothing anyone sees: a lost answer leaves only
  an unpublished photo, so it is not a write), then `POST /{page-id}/feed` with the text and each photo in
  `attached_media[n]={"media_fbid": …}`.
- The first comment: `POST /{post-id}/comments` with `message`, made as the post's next part.
- A reply (Draft.reply_to): `POST /{comment-id}/comments` with `message`, one comment under the comment it
  answers (or on the post, for a reply to the post itself); Graph answers the comment's `id`.

Graph refuses a post that repeats the Page's previous one (506, duplicate post). After an attempt that may
have made it, that is likely Crier's own: the Page's posts since the attempt are read, and exactly one that
reads as the draft is the post; none is a refusal (a person posted it), several a person's to settle. The
look goes back an hour before this process's first attempt, since an earlier process may have made it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta

from shared.networks.facebook.channel import ChannelSettings, first_comment, link, reply_object
from shared.networks.facebook.finding import WHAT, PostFinder, comment_part, post_part
from shared.networks.facebook.graph import DuplicatePost, GraphCalls
from shared.networks.ports import CannotTell, Draft, MediaItem, PublishedPart, Rejected
from shared.networks.toolkit.answers import identifier, reading
from shared.networks.toolkit.parts import MakePart

DUPLICATE_LOOKBACK = timedelta(hours=1)


class Publisher:
    """Makes a draft's parts on a Page, one request a part."""

    def __init__(self, calls: GraphCalls, finder: PostFinder, *, permalink_base: str) -> None:
        self._calls = calls
        self._finder = finder
        self._permalink_base = permalink_base

    def part_maker(
        self, channel: ChannelSettings, token: str, draft: Draft, idempotency_key: str
    ) -> MakePart:
        """Part 0 is the post, part 1 its first comment."""
        sent = self._finder.remember(idempotency_key, draft)

        def make(index: int, parts: Sequence[PublishedPart]) -> PublishedPart:
            if draft.reply_to is not None:
                target = reply_object(draft.reply_to)
                assert target is not None, "validate() refuses a reply to no usable comment"
                return self._comment(token, target, draft.text, post_id=str(draft.reply_to.ref["post"]))
            if index == 0:
                try:
                    return self._post(channel, token, draft)
                except DuplicatePost as duplicate:
                    return self._the_duplicate(channel, token, draft, sent.sent_at, duplicate)
            comment = first_comment(draft)
            assert comment is not None, "only a draft with a first comment has a second part"
            return self._comment(token, parts[0].external_id, comment)

        return make

    def _post(self, channel: ChannelSettings, token: str, draft: Draft) -> PublishedPart:
        if len(draft.media) == 1:
            answer = self._upload(channel, token, draft.media[0], message=draft.text, published=True)
            with reading(WHAT, write=True):
                return post_part(identifier(answer["post_id"]), self._permalink_base)
        fields: dict[str, str] = {"message": draft.text}
        if draft.media:
            for number, item in enumerate(draft.media):
                photo = self._upload(channel, token, item, published=False)
                with reading(WHAT, write=False):
                    fields[f"attached_media[{number}]"] = json.dumps({"media_fbid": identifier(photo["id"])})
        elif link(draft):
            fields["link"] = link(draft) or ""
        answer = self._calls.graph(
            "POST", (channel.page_id, "feed"), what=WHAT, write=True, token=token, data=fields
        )
        with reading(WHAT, write=True):
            return post_part(identifier(answer["id"]), self._permalink_base)

    def _upload(
        self,
        channel: ChannelSettings,
        token: str,
        item: MediaItem,
        *,
        published: bool,
        message: str | None = None,
    ) -> dict[str, object]:
        fields = {"published": "true" if published else "false"}
        if message is not None:
            fields["message"] = message
        if item.alt_text:
            fields["alt_text_custom"] = item.alt_text
        extension = item.content_type.rsplit("/", 1)[-1]
        return self._calls.graph(
            "POST",
            (channel.page_id, "photos"),
            what=WHAT,
            write=published,
            token=token,
            upload=True,
            data=fields,
            files={"source": (f"photo.{extension}", item.data, item.content_type)},
        )

    def _comment(
        self, token: str, object_id: str, message: str, *, post_id: str | None = None
    ) -> PublishedPart:
        """A comment of the Page's on `object_id` (a post, or a comment of the post `post_id`)."""
        answer = self._calls.graph(
            "POST", (object_id, "comments"), what=WHAT, write=True, token=token, data={"message": message}
        )
        with reading(WHAT, write=True):
            return comment_part(post_id or object_id, identifier(answer["id"]), self._permalink_base)

    def _the_duplicate(
        self, channel: ChannelSettings, token: str, draft: Draft, sent_at: datetime, duplicate: DuplicatePost
    ) -> PublishedPart:
        """The post Graph says this one duplicates, when it is the Page's only post since the first attempt
        that reads as the draft."""
        # An hour further back than this process's first attempt: an earlier process may have made the post
        # before it stopped, and Graph compares with the Page's recent posts only.
        matches = self._finder.posts_matching(channel, token, draft.text, sent_at - DUPLICATE_LOOKBACK)
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise CannotTell(
                f"{duplicate}; {len(matches)} posts since the first attempt read as this one: a person must "
                "tell which is Crier's"
            )
        raise Rejected(
            f"{duplicate}; no post since the first attempt reads as this one, so it repeats a post Crier "
            "did not make"
        )
