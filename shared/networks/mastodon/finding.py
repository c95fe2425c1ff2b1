"""What an uncertain attempt made on Mastodon, found among the account's own statuses.

Mastodon offers no lookup by idempotency key: the key lives on the server for an hour (and some servers
ignore it), and only a new POST can consult it, which would make the post if the server no longer (or
never) knew it. So nothing is posted here. Instead the account's statuses since the first attempt are read,
newest first, a bounded number of pages back, and the post is recognised by what was sent: the same reply-to
(none for a post, the answered status for a reply, so a post of the same text is not taken for it), the
same content warning and number of attachments, the same application as this token, created no earlier than
the attempt (less a minute of clock skew), and the same source text (GET .../source, exact after trimming,
as Mastodon trims it). Each thread reply must answer the part before it. Parts already recorded are taken
as found.

What was sent comes from the draft and the time of the attempt when the caller passes them, else from this
process's record of its own publish calls (kept a day). Without either it cannot look, and says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.networks.mastodon.channel import ChannelSettings, content_warning, status_texts
from shared.networks.mastodon.statuses import created_at, get_json, normalised, part_of, status_url
from shared.networks.ports import CannotTell, Draft, PublishedPart, PublishedPost, Transient
from shared.networks.toolkit.answers import identifier, reading
from shared.networks.toolkit.calls import Calls
from shared.networks.toolkit.own_posts import AmongOwnPosts, SentByThisProcess

# An account's statuses, read this many a page (Mastodon's most), this many pages back at most.
PAGE_SIZE = 40
MAX_PAGES = 5
# How far the server's clock may be behind Crier's.
CLOCK_SKEW = timedelta(seconds=60)


@dataclass(frozen=True)
class Sent:
    """What one publish sent under an idempotency key, so that find_published knows what to look for."""

    texts: tuple[str, ...]
    content_warning: str
    media_count: int
    sent_at: datetime
    # The status the post answers, for a reply from the engagement inbox.
    reply_to: str | None = None

    @classmethod
    def of(cls, draft: Draft, sent_at: datetime) -> Sent:
        return cls(
            texts=status_texts(draft),
            content_warning=content_warning(draft),
            media_count=len(draft.media),
            sent_at=sent_at,
            reply_to=draft.reply_to.external_id if draft.reply_to else None,
        )


class StatusFinder:
    """Remembers what this process sent, and finds what an attempt made among the account's statuses."""

    def __init__(self, calls: Calls, *, clock: Callable[[], datetime], settle: timedelta) -> None:
        self._calls = calls
        self._clock = clock
        # How long after an attempt a request that timed out might still be processed by the server: a
        # post that is not there yet may still appear, so absence is only certain after this.
        self._settle = settle
        self._sent: SentByThisProcess[Sent] = SentByThisProcess("Mastodon", clock)

    def remember(self, idempotency_key: str, draft: Draft) -> None:
        """Keep what is about to be sent under this key (a day), for a check without the draft."""
        self._sent.remember(idempotency_key, lambda sent_at: Sent.of(draft, sent_at))

    def expected(self, idempotency_key: str, draft: Draft | None, attempted_at: datetime | None) -> Sent:
        """What the attempt sent: the caller's draft and time, else this process's record of it."""
        return self._sent.expected(idempotency_key, draft, attempted_at, Sent.of)

    def find(
        self,
        channel: ChannelSettings,
        token: str,
        sent: Sent,
        last_attempted_at: datetime | None,
        published: Sequence[PublishedPart],
    ) -> PublishedPost | None:
        """The post and as much of its thread as is there, when exactly one status matches each part found
        and the next part is certainly absent; None when not even the post is there.

        A part is only certainly absent once the uncertain attempt (begun at `last_attempted_at`) is old
        enough (`settle`) that a request still queued on the server can no longer appear: until then it
        raises Transient. It raises CannotTell when several statuses match one part (the same text posted
        twice in the window), or the attempt lies further back than the pages read.
        """
        since = sent.sent_at - CLOCK_SKEW
        own = AmongOwnPosts(channel.host, self._clock, self._settle, items="statuses")
        settled = own.settled(last_attempted_at or sent.sent_at)
        me = get_json(self._calls, channel, token, "/api/v1/accounts/verify_credentials")
        app_name = self._app_name(channel, token)
        with reading(channel.host, write=False):
            account_id = identifier(me["id"])
        statuses = self._statuses_since(channel, token, account_id, since)

        def sent_by_us(status: Mapping[str, Any]) -> bool:
            application = status.get("application") or {}
            return (
                created_at(status) >= since
                and (status.get("spoiler_text") or "") == sent.content_warning.strip()
                and (app_name is None or not application or application.get("name") == app_name)
            )

        parts = list(published[: len(sent.texts)])
        for index in range(len(parts), len(sent.texts)):
            follows = parts[-1].external_id if parts else sent.reply_to
            with reading(channel.host, write=False):
                matches = [
                    status
                    for status in statuses
                    if sent_by_us(status)
                    and status.get("in_reply_to_id") == follows
                    and (index > 0 or len(status.get("media_attachments") or ()) == sent.media_count)
                    and self._source_text(channel, token, identifier(status["id"]))
                    == normalised(sent.texts[index])
                ]
            what = "the post" if index == 0 else f"thread reply {index} of {len(sent.texts) - 1}"
            match = own.the_one(matches, what, settled=settled, published=parts, address=status_url)
            if match is None:
                break
            with reading(channel.host, write=False):
                parts.append(part_of(match))
        return PublishedPost.of(parts) if parts else None

    def _statuses_since(
        self, channel: ChannelSettings, token: str, account_id: str, since: datetime
    ) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        max_id: str | None = None
        for _ in range(MAX_PAGES):
            params = {"limit": PAGE_SIZE, "exclude_reblogs": "true"} | ({"max_id": max_id} if max_id else {})
            page = get_json(
                self._calls, channel, token, f"/api/v1/accounts/{account_id}/statuses", params=params
            )
            if not isinstance(page, list):
                raise Transient(f"{channel.host}: the account's statuses were not a list")
            found += page
            with reading(channel.host, write=False):
                if len(page) < PAGE_SIZE or created_at(page[-1]) < since:
                    return found
                max_id = identifier(page[-1]["id"])
        raise CannotTell(
            f"{channel.host}: more than {MAX_PAGES * PAGE_SIZE} posts since the attempt; "
            "too many to be sure the post is not among older ones"
        )

    def _source_text(self, channel: ChannelSettings, token: str, status_id: str) -> str | None:
        response = self._calls.send(
            "GET", f"{channel.base_url}/api/v1/statuses/{status_id}/source", token=token
        )
        if response.status_code == 404:
            return None  # deleted since it was listed
        text = self._calls.answer(response, what=channel.host).get("text")
        return normalised(text) if isinstance(text, str) else None

    def _app_name(self, channel: ChannelSettings, token: str) -> str | None:
        response = self._calls.send("GET", f"{channel.base_url}/api/v1/apps/verify_credentials", token=token)
        if response.status_code in (401, 403, 429) or response.status_code >= 500:
            self._calls.check(response, what=channel.host)
        if not response.is_success:
            return None  # not offered: match without it
        name = self._calls.answer(response, what=channel.host).get("name")
        return name if isinstance(name, str) else None
