"""What an uncertain attempt made on X, found among the account's own recent posts.

X takes no idempotency key, and offers no lookup by one: an attempt whose answer was lost (a 5xx, a
proxy's 502 after the write, a timeout after sending) is recognised by what it sent. The account's posts
since the first attempt (less a minute of clock skew) are read from `GET /2/users/:id/tweets`, newest
first, at most MAX_PAGES pages of 100, and a post matches a part of the draft when:

- it replies to the part before it (`referenced_tweets` of type replied_to), or for the post to the post
  it answers (Draft.reply_to) or to nothing: a post of the same words elsewhere is not the one sent;
- the post carries as many attachments (`attachments.media_keys`) as the draft has media;
- its text reads as the draft's once both are put in the form X keeps. X stores a post's text with each
  URL replaced by a t.co link, `&`, `<` and `>` escaped as HTML entities, and, for a post with media, a
  t.co link to the media appended. So the media's t.co links (those of `entities.urls` that carry a
  `media_key`) are dropped, every other t.co link and every URL of the draft (as twitter-text finds them)
  stands as one placeholder, entities are unescaped, and runs of spaces are compared as one. Two texts
  that differ only in *which* URL they link are taken as the same: a t.co link hides the URL's exact form
  (X expands `example.com` to `http://example.com`), and matching on the expanded URL would miss a post
  X had normalised. A reply to another account's post starts with the @names X fills in, which the
  draft does not have: they are compared with and without. The reply chain and the time window make a
  collision unlikely; several matches are never guessed between (CannotTell: a person decides).

A part that is not there is only certainly absent once the uncertain attempt is `settle` old: a write X
accepted may take a moment to show in the timeline, and until then the answer is Transient.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.networks.ports import CannotTell, PublishedPart, PublishedPost
from shared.networks.toolkit.answers import identifier, reading
from shared.networks.toolkit.calls import Calls
from shared.networks.toolkit.own_posts import AmongOwnPosts
from shared.networks.toolkit.parts import Attempt
from shared.networks.x.api import created_at, part_of
from shared.text.x import x_normalised, x_url_spans

PAGE_SIZE = 100
MAX_PAGES = 5
CLOCK_SKEW = timedelta(seconds=60)
# How far back a 403 "duplicate content" sends Crier to look for the post X says it already has.
DUPLICATE_LOOKBACK = timedelta(hours=24)
TWEET_FIELDS = "created_at,text,referenced_tweets,attachments,entities,note_tweet"
_URL = "\ufffcurl\ufffc"
_T_CO = re.compile(r"https?://t\.co/[A-Za-z0-9]+")
# The @names X puts before a reply's text: the users of the conversation it answers.
_REPLY_NAMES = re.compile(r"^(?:@\w{1,15}\s+)+")


def comparable_draft_text(text: str) -> str:
    """A draft's text in the form compared: NFC, each URL a placeholder, whitespace runs as one space."""
    text = x_normalised(text)
    pieces, written = [], 0
    for start, end in x_url_spans(text):
        pieces += [text[written:start], f" {_URL} "]
        written = end
    pieces.append(text[written:])
    return " ".join("".join(pieces).split())


def comparable_post_text(tweet: Mapping[str, Any], *, reply_names: bool = True) -> str:
    """A post's text as X gives it, in the form compared (see the module); without the @names that open
    it when `reply_names` is False."""
    note = tweet.get("note_tweet")
    text = note.get("text") if isinstance(note, Mapping) and isinstance(note.get("text"), str) else None
    if text is None:
        text = tweet["text"]
        if not isinstance(text, str):
            raise TypeError("a post's text must be text")
    entities = tweet.get("entities") if isinstance(tweet.get("entities"), Mapping) else {}
    urls = entities.get("urls") if isinstance(entities, Mapping) else None
    media_links = {
        entity.get("url")
        for entity in (urls if isinstance(urls, list) else ())
        if isinstance(entity, Mapping) and entity.get("media_key")
    }
    if not reply_names:
        text = _REPLY_NAMES.sub("", text)
    text = _T_CO.sub(lambda link: "" if link.group(0) in media_links else f" {_URL} ", text)
    return " ".join(x_normalised(html.unescape(text)).split())


def replies_to(tweet: Mapping[str, Any]) -> str | None:
    """The post this one replies to; None for a post that replies to none."""
    for reference in tweet.get("referenced_tweets") or ():
        if isinstance(reference, Mapping) and reference.get("type") == "replied_to":
            return identifier(reference.get("id"))
    return None


def media_count(tweet: Mapping[str, Any]) -> int:
    attachments = tweet.get("attachments")
    keys = attachments.get("media_keys") if isinstance(attachments, Mapping) else None
    return len(keys) if isinstance(keys, list) else 0


class PostFinder:
    """Finds the posts an attempt made among the account's own, by what it sent (see the module)."""

    def __init__(
        self, calls: Calls, api_url: str, *, clock: Callable[[], datetime], settle: timedelta
    ) -> None:
        self._calls = calls
        self._api_url = api_url
        self._clock = clock
        self._own = AmongOwnPosts("X", clock, settle)

    def find(self, access_token: str, handle: str, attempt: Attempt) -> PublishedPost | None:
        """The post and as much of its thread as is there, when exactly one post matches each part found
        and the next part is certainly absent; None when not even the post is there."""
        if attempt.draft is None or attempt.attempted_at is None:
            raise CannotTell(
                "X cannot look a post up by a key: without the draft and the time of the attempt there is "
                "nothing to recognise it by"
            )
        draft = attempt.draft
        texts = (draft.text, *draft.thread)
        settled = self._own.settled(attempt.last_attempted_at or attempt.attempted_at)
        posts = self.recent_posts(access_token, since=attempt.attempted_at - CLOCK_SKEW)
        parts = list(attempt.published[: len(texts)])
        first_follows = draft.reply_to.external_id if draft.reply_to is not None else None
        for index in range(len(parts), len(texts)):
            follows = parts[-1].external_id if parts else first_follows
            attached = len(draft.media) if index == 0 else 0
            matches = self._matching(posts, texts[index], follows, attached)
            what = "the post" if index == 0 else f"thread reply {index} of {len(texts) - 1}"
            match = self._own.the_one(matches, what, settled=settled, published=parts)
            if match is None:
                break
            with reading("X", write=False):
                parts.append(part_of(match, handle))
        return PublishedPost.of(parts) if parts else None

    def find_duplicate(
        self, access_token: str, handle: str, text: str, *, follows: str | None, attached: int
    ) -> PublishedPart | None:
        """The account's recent post that X called this text a duplicate of, when exactly one reads as it
        in the same place (a reply to `follows`, with `attached` media); None when none does."""
        posts = self.recent_posts(access_token, since=self._clock() - DUPLICATE_LOOKBACK)
        matches = self._matching(posts, text, follows, attached)
        if len(matches) > 1:
            raise CannotTell(f"X: {len(matches)} recent posts of the account read as this one")
        if not matches:
            return None
        with reading("X", write=False):
            return part_of(matches[0], handle)

    def _matching(
        self, posts: Sequence[Mapping[str, Any]], text: str, follows: str | None, attached: int
    ) -> list[Mapping[str, Any]]:
        wanted = comparable_draft_text(text)
        with reading("X", write=False):
            return [
                post
                for post in posts
                if replies_to(post) == follows
                and media_count(post) == attached
                and wanted in _readings(post, reply=follows is not None)
            ]

    def account_id(self, access_token: str) -> str:
        response = self._calls.send("GET", f"{self._api_url}/2/users/me", token=access_token)
        me = self._calls.answer(response, what="X")
        with reading("X", write=False):
            return identifier(me["data"]["id"])

    def recent_posts(self, access_token: str, *, since: datetime) -> list[Mapping[str, Any]]:
        """The account's posts since `since`, newest first; CannotTell beyond MAX_PAGES pages."""
        user_id = self.account_id(access_token)
        found: list[Mapping[str, Any]] = []
        params: dict[str, Any] = {
            "max_results": PAGE_SIZE,
            "start_time": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tweet.fields": TWEET_FIELDS,
            "exclude": "retweets",
        }
        for _ in range(MAX_PAGES):
            response = self._calls.send(
                "GET", f"{self._api_url}/2/users/{user_id}/tweets", token=access_token, params=params
            )
            page = self._calls.answer(response, what="X")
            with reading("X", write=False):
                posts = page.get("data") or []
                if not isinstance(posts, list):
                    raise TypeError("the account's posts were not a list")
                found += [post for post in posts if (created_at(post) or since) >= since]
                next_token = (page.get("meta") or {}).get("next_token")
            if not next_token:
                return found
            params["pagination_token"] = next_token
        raise CannotTell(
            f"X: more than {MAX_PAGES * PAGE_SIZE} posts since the attempt; too many to be sure the post "
            "is not among older ones"
        )


def _readings(tweet: Mapping[str, Any], *, reply: bool) -> set[str]:
    """The forms a post's text may match a draft in: a reply's also without the @names X put before it."""
    readings = {comparable_post_text(tweet)}
    if reply:
        readings.add(comparable_post_text(tweet, reply_names=False))
    return readings
