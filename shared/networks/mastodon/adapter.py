"""The `mastodon` network's adapter: publishing, editing, reading counts and the engagement inbox on any
Mastodon server."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shared.config import Settings
from shared.limits.ports import Rate
from shared.networks.inbox import InboxEntry, InboxPage
from shared.networks.mastodon.channel import (
    MEDIA_RULE,
    ChannelSettings,
    InstanceLimits,
    content_warning,
    draft_problems,
    parse_settings,
    status_fields,
    status_texts,
)
from shared.networks.mastodon.finding import StatusFinder
from shared.networks.mastodon.inbox import MastodonInbox, query_problems
from shared.networks.mastodon.oauth import Authorizations
from shared.networks.mastodon.statuses import (
    MastodonDialect,
    batch_read_missing,
    engagement,
    get_json,
    normalised,
    part_of,
    token,
)
from shared.networks.outbound import Outbound
from shared.networks.ports import (
    Account,
    Audience,
    AuthorizationStart,
    Draft,
    Engagement,
    InboxAbilities,
    InboxKind,
    MediaItem,
    NetworkError,
    NetworkInfo,
    PostGone,
    Profile,
    PublishedPart,
    PublishedPost,
    Rejected,
    ReplyTarget,
    TextPreview,
    Transient,
)
from shared.networks.toolkit.answers import identifier, reading, required_text
from shared.networks.toolkit.calls import SERVER_TIMEOUT, Calls
from shared.networks.toolkit.counts import BatchReads, audience_from, counts_in_batches
from shared.networks.toolkit.parts import (
    Attempt,
    FindsPublished,
    MakePart,
    PartByPart,
    part_key,
    refuse_before_sending,
)
from shared.networks.toolkit.tokens import token_problems
from shared.text.mastodon import MASTODON_DEFAULT_LIMIT, MASTODON_DEFAULT_URL_WEIGHT, mastodon_length

# GET /api/v1/statuses refuses more ids than this with a 422 (Api::BaseController::DEFAULT_STATUSES_LIMIT).
BATCH_READ_LIMIT = 20


class MastodonNetwork(PartByPart, FindsPublished):
    """The `mastodon` network's adapter: one per process, for every Mastodon server and account."""

    info = NetworkInfo(
        name="mastodon",
        display_name="Mastodon",
        text_limit=MASTODON_DEFAULT_LIMIT,
        text_unit="graphemes (URLs count 23)",
        supports_threads=True,
        media=MEDIA_RULE,
        metrics=("likes", "reposts", "replies", "quotes"),
        credential_keys=("access_token",),
        can_find_published=True,
        can_delete=True,
        # PUT /api/v1/statuses/:id, since Mastodon 3.5.
        can_edit=True,
        # Mastodon allows 300 statuses per account in each fixed 3-hour window (app/lib/rate_limiter.rb).
        # A bucket can spend its burst plus 3 h of refill inside one window: 20 + 3 * 80 = 260, leaving
        # room for what the person posts by hand. Thread replies are statuses too and are not counted here.
        account_rate=Rate.per_hour(80, burst=20),
        engagement_batch_size=BATCH_READ_LIMIT,
        # Every /api/* call counts against 300 per account in 5 minutes (api/rate-limits): Crier's reads,
        # metrics and the inbox together, take at most a third, so publishing and the person's own client
        # keep the rest.
        account_read_rate=Rate.per_minute(20, burst=10),
        # Mentions, replies, private mentions and (from 4.5) quotes come as notifications; Mastodon lets no
        # author hide another's reply under their post.
        inbox=InboxAbilities(
            kinds=(InboxKind.REPLY, InboxKind.MENTION, InboxKind.QUOTE, InboxKind.DIRECT_MESSAGE),
            can_search=True,
            can_reply=True,
            can_like=True,
        ),
    )

    def __init__(
        self,
        outbound: Outbound | None = None,
        *,
        http: httpx.Client | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        media_poll_interval: float = 1.0,
        media_poll_attempts: int = 60,
        instance_ttl: float = 3600.0,
        settle: timedelta = timedelta(minutes=2),
    ) -> None:
        self._calls = Calls(outbound or Outbound(), SERVER_TIMEOUT, dialect=MastodonDialect(), http=http)
        self._media_poll_interval = media_poll_interval
        self._media_poll_attempts = media_poll_attempts
        self._instance_ttl = instance_ttl
        self._lock = threading.Lock()
        self._instances: dict[str, tuple[float, InstanceLimits]] = {}
        self._batch_reads = BatchReads()
        self._finder = StatusFinder(self._calls, clock=clock, settle=settle)
        self._authorizations = Authorizations(self._calls)
        self._inbox = MastodonInbox(self._calls)

    @classmethod
    def from_settings(cls, settings: Settings) -> MastodonNetwork:
        return cls(
            Outbound.from_settings(settings), settle=timedelta(seconds=settings.mastodon_settle_seconds)
        )

    # -- What a channel and a draft may be ------------------------------------------------------------

    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        return parse_settings(settings, self._calls.outbound.policy)[1]

    def check_credentials(self, credentials: Mapping[str, Any]) -> list[str]:
        """Problems with the access token's shape; whether Mastodon takes it, verify() asks."""
        return token_problems(credentials, ("access_token",), "Mastodon")

    def validate(self, draft: Draft) -> list[str]:
        # The text's length is not checked here: each server sets its own limit, which preview() reads.
        return draft_problems(draft)

    def preview(self, account: Account, draft: Draft) -> list[TextPreview]:
        channel = self._channel(account)
        limits = self.instance_limits(channel.base_url)
        warning = content_warning(draft)
        previews = []
        for text in status_texts(draft):
            length = mastodon_length(
                text, content_warning=warning, url_weight=limits.characters_reserved_per_url
            )
            problems: tuple[str, ...] = ()
            if length > limits.max_characters:
                counted = "with the content warning, " if warning else ""
                problems = (
                    f"the text is {length} characters long ({counted}each URL counting "
                    f"{limits.characters_reserved_per_url}); {channel.host} allows {limits.max_characters}",
                )
            previews.append(
                TextPreview(text=text, length=length, limit=limits.max_characters, problems=problems)
            )
        return previews

    def instance_limits(self, base_url: str) -> InstanceLimits:
        """The server's status limits, read at most once an `instance_ttl` (a minute after a failure)."""
        now = time.monotonic()
        with self._lock:
            cached = self._instances.get(base_url)
        if cached is not None and cached[0] > now:
            return cached[1]
        limits, ttl = InstanceLimits(), 60.0
        try:
            response = self._calls.send("GET", f"{base_url}/api/v2/instance")
            if response.status_code == 404:  # before Mastodon 4.0
                response = self._calls.send("GET", f"{base_url}/api/v1/instance")
            if response.is_success:
                statuses = response.json().get("configuration", {}).get("statuses", {})
                limits = InstanceLimits(
                    max_characters=int(statuses.get("max_characters", MASTODON_DEFAULT_LIMIT)),
                    characters_reserved_per_url=int(
                        statuses.get("characters_reserved_per_url", MASTODON_DEFAULT_URL_WEIGHT)
                    ),
                )
                ttl = self._instance_ttl
        except (NetworkError, httpx.HTTPError, ValueError, TypeError, AttributeError):
            pass  # a preview with the documented defaults beats no preview; retried in a minute
        with self._lock:
            self._instances[base_url] = (now + ttl, limits)
        return limits

    # -- Publishing ----------------------------------------------------------------------------------

    def part_maker(self, account: Account, draft: Draft, idempotency_key: str) -> MakePart:
        """Upload the media, post the status, then each thread item as a reply to the one before.

        Each status carries an Idempotency-Key: the delivery's key for the post, `key:n` for thread item n,
        so a retry within the server's hour returns the statuses already made instead of new ones, on a
        server that honours keys. A draft answering a post (`reply_to`) makes its post a reply to it, no
        more open than it (see channel.status_texts and reply_visibility).
        """
        channel = self._channel(account)
        access_token = token(account)
        refuse_before_sending(self.validate(draft), network="Mastodon")
        fields = status_fields(channel, draft)
        texts = status_texts(draft)
        self._finder.remember(idempotency_key, draft)

        def post(index: int, parts: Sequence[PublishedPart]) -> PublishedPart:
            if index == 0:
                # Nothing is posted while the media upload: a failure there leaves no post (transient).
                media_ids = [self._upload(channel, access_token, item) for item in draft.media]
                answered = draft.reply_to.external_id if draft.reply_to else None
                status = {**fields, "status": texts[0], "media_ids[]": media_ids, "in_reply_to_id": answered}
            else:
                status = {**fields, "status": texts[index], "in_reply_to_id": parts[-1].external_id}
            answer = self._post_status(channel, access_token, status, part_key(idempotency_key, index))
            with reading(channel.host, write=True):
                return part_of(answer)

        return post

    def _post_status(
        self, channel: ChannelSettings, access_token: str, fields: Mapping[str, Any], idempotency_key: str
    ) -> dict[str, Any]:
        response = self._calls.send(
            "POST",
            f"{channel.base_url}/api/v1/statuses",
            write=True,
            token=access_token,
            data={key: value for key, value in fields.items() if value not in (None, [], "")},
            headers={"Idempotency-Key": idempotency_key},
        )
        return self._calls.answer(response, what=channel.host, write=True)

    def _upload(self, channel: ChannelSettings, access_token: str, item: MediaItem) -> str:
        extension = item.content_type.rsplit("/", 1)[-1]
        response = self._calls.send(
            "POST",
            f"{channel.base_url}/api/v2/media",
            token=access_token,
            upload=True,
            files={"file": (f"media.{extension}", item.data, item.content_type)},
            data={"description": item.alt_text} if item.alt_text else None,
        )
        media = self._calls.answer(response, what=channel.host)
        with reading(channel.host, write=False):
            media_id = identifier(media["id"])
        if response.status_code == 200 and media.get("url"):
            return media_id
        # 202: the full-size file is still processing; a status may not use it until GET says 200.
        for _ in range(self._media_poll_attempts):
            time.sleep(self._media_poll_interval)
            polled = self._calls.send(
                "GET", f"{channel.base_url}/api/v1/media/{media_id}", token=access_token
            )
            if polled.status_code == 206:
                continue
            if self._calls.answer(polled, what=channel.host).get("url"):
                return media_id
        raise Transient(
            f"{channel.host}: the media {media_id} was still processing after "
            f"{self._media_poll_attempts * self._media_poll_interval:.0f} s"
        )

    # -- Finding what an uncertain attempt made ------------------------------------------------------

    def find_made(self, account: Account, idempotency_key: str, attempt: Attempt) -> PublishedPost | None:
        """Whether the uncertain attempt under this key made the post, read back from the account's
        statuses: see shared.networks.mastodon.finding."""
        channel = self._channel(account)
        access_token = token(account)
        sent = self._finder.expected(idempotency_key, attempt.draft, attempt.attempted_at)
        return self._finder.find(channel, access_token, sent, attempt.last_attempted_at, attempt.published)

    # -- Reading and removing posts ------------------------------------------------------------------

    def fetch_engagement(
        self, account: Account, external_ids: Sequence[str]
    ) -> Mapping[str, Engagement | PostGone]:
        """Counts in batches of 20 (GET /api/v1/statuses?id[]=, Mastodon 4.3+), else one status at a time."""
        channel = self._channel(account)
        access_token = token(account)
        return counts_in_batches(
            external_ids,
            batch_size=BATCH_READ_LIMIT,
            read_batch=lambda ids: self._read_batch(channel, access_token, ids),
            read_each=lambda ids: self._read_each(channel, access_token, ids),
            engagement=engagement,
            missing=lambda status_id: PostGone(
                f"{channel.host}: status {status_id} is gone, or no longer visible"
            ),
            what=channel.host,
        )

    def _read_batch(
        self, channel: ChannelSettings, access_token: str, ids: list[str]
    ) -> dict[str, dict[str, Any]] | None:
        if not self._batch_reads.offered_by(channel.base_url):
            return None
        response = self._calls.send(
            "GET", f"{channel.base_url}/api/v1/statuses", token=access_token, params={"id[]": ids}
        )
        if batch_read_missing(response):
            # Before 4.3 there is no such route (a 404 page), and other servers of the Mastodon API answer
            # 405, 501 or another refusal.
            self._batch_reads.refused_by(channel.base_url)
            return None
        self._calls.check(response, what=channel.host)
        statuses = response.json()
        if not isinstance(statuses, list):
            raise Transient(f"{channel.host}: the batch of statuses was not a list")
        with reading(channel.host, write=False):
            return {identifier(status["id"]): status for status in statuses}

    def _read_each(
        self, channel: ChannelSettings, access_token: str, ids: list[str]
    ) -> dict[str, dict[str, Any]]:
        statuses: dict[str, dict[str, Any]] = {}
        for status_id in ids:
            response = self._calls.send(
                "GET", f"{channel.base_url}/api/v1/statuses/{status_id}", token=access_token
            )
            if response.status_code in (404, 410):
                continue
            statuses[status_id] = self._calls.answer(response, what=channel.host)
        return statuses

    def edit(self, account: Account, external_id: str, draft: Draft) -> PublishedPart:
        """The status's new text, content warning and language (PUT /api/v1/statuses/:id, Mastodon 3.5+).

        Its media are left as they are: Mastodon keeps the attachments of an edit that names none. A
        content warning is sent even when empty, since an edit without one removes it.
        """
        channel = self._channel(account)
        fields = {
            "status": draft.text,
            "spoiler_text": content_warning(draft),
            "language": draft.options.get("language") or channel.language,
        }
        response = self._status_call(
            "PUT",
            channel,
            account,
            external_id,
            write=True,
            data={key: value for key, value in fields.items() if value is not None},
        )
        edited = self._calls.answer(response, what=channel.host, write=True)
        with reading(channel.host, write=True):
            return part_of(edited)

    def reads_as(self, account: Account, external_id: str, draft: Draft) -> bool:
        """Whether the status's source text and content warning are the draft's (an edit that landed)."""
        channel = self._channel(account)
        response = self._status_call("GET", channel, account, external_id, "/source")
        source = self._calls.answer(response, what=channel.host)
        return normalised(str(source.get("text") or "")) == normalised(draft.text) and (
            str(source.get("spoiler_text") or "").strip() == content_warning(draft).strip()
        )

    def delete(self, account: Account, external_id: str) -> None:
        channel = self._channel(account)
        response = self._status_call("DELETE", channel, account, external_id)
        self._calls.check(response, what=channel.host)

    def _status_call(
        self,
        method: str,
        channel: ChannelSettings,
        account: Account,
        status_id: str,
        below: str = "",
        **request: Any,
    ) -> httpx.Response:
        """A call on one of the account's statuses (or on what is `below` it, such as its source);
        PostGone when the server says the status is not there (any more)."""
        response = self._calls.send(
            method, f"{channel.base_url}/api/v1/statuses/{status_id}{below}", token=token(account), **request
        )
        if response.status_code in (404, 410):
            raise PostGone(f"{channel.host}: status {status_id} does not exist (any more)")
        return response

    def verify(self, account: Account) -> Profile:
        channel = self._channel(account)
        me = get_json(self._calls, channel, token(account), "/api/v1/accounts/verify_credentials")
        with reading(channel.host, write=False):
            return Profile(
                handle=required_text(me["acct"]),
                display_name=me.get("display_name") or None,
                url=me.get("url"),
            )

    def fetch_audience(self, account: Account) -> Audience:
        """The account's counts, from verify_credentials (entities/Account: followers_count and the rest)."""
        channel = self._channel(account)
        me = get_json(self._calls, channel, token(account), "/api/v1/accounts/verify_credentials")
        if not isinstance(me, dict):
            raise Transient(f"{channel.host}: verify_credentials answered with no account")
        return audience_from(
            me,
            followers="followers_count",
            following="following_count",
            posts="statuses_count",
            id=str(me.get("id")),
        )

    # -- The engagement inbox (shared.networks.mastodon.inbox) ------------------------------------------

    def read_inbox(self, account: Account, position: str | None) -> InboxPage:
        """Mentions, replies, private mentions and quotes, from the account's notifications."""
        return self._inbox.read_notifications(self._channel(account), token(account), position)

    def read_thread(self, account: Account, external_id: str) -> Sequence[InboxEntry]:
        return self._inbox.read_thread(self._channel(account), token(account), external_id)

    def search_posts(self, account: Account, query: str, position: str | None) -> InboxPage:
        """A `#hashtag`'s timeline, or a full-text search for words.

        Words are found only on a server with full-text search (Elasticsearch or OpenSearch): one without
        it answers no statuses, which Mastodon does not tell apart from no match.
        """
        return self._inbox.search(self._channel(account), token(account), query, position)

    def query_problems(self, query: str) -> list[str]:
        return query_problems(query)

    def like(self, account: Account, target: ReplyTarget, idempotency_key: str) -> None:
        """Favourite the post. No key is sent: Mastodon keeps one favourite however often it is asked."""
        self._inbox.favourite(self._channel(account), token(account), target.external_id)

    # -- Connecting an account: OAuth 2, authorization code with PKCE (shared.networks.mastodon.oauth) --

    def begin_authorization(
        self, settings: Mapping[str, Any], *, redirect_uri: str, state: str, code_challenge: str
    ) -> AuthorizationStart:
        return self._authorizations.begin(
            self._settings(settings), redirect_uri=redirect_uri, state=state, code_challenge=code_challenge
        )

    def complete_authorization(
        self,
        settings: Mapping[str, Any],
        app_credentials: Mapping[str, Any],
        *,
        code: str,
        redirect_uri: str,
        code_verifier: str,
    ) -> dict[str, Any]:
        return self._authorizations.complete(
            self._settings(settings),
            app_credentials,
            code=code,
            redirect_uri=redirect_uri,
            code_verifier=code_verifier,
        )

    # -- The channel ---------------------------------------------------------------------------------

    def _settings(self, settings: Mapping[str, Any]) -> ChannelSettings:
        channel, problems = parse_settings(settings, self._calls.outbound.policy)
        if channel is None:
            raise Rejected("the Mastodon channel's settings are not usable: " + "; ".join(problems))
        return channel

    def _channel(self, account: Account) -> ChannelSettings:
        return self._settings(account.settings)
