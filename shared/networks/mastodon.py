"""Mastodon: the adapter for any Mastodon server, and the OAuth steps that connect an account to Crier.

Followed, from the Mastodon documentation (docs.joinmastodon.org, repository mastodon/documentation):
methods/statuses (post with an Idempotency-Key kept "for up to 1 hour"; view one, view several with `id[]`
since 4.3; delete; view source), entities/Status (the counts; no bookmark count: `bookmarked` is only whether
the caller bookmarked it) and entities/Account (followers_count, following_count, statuses_count),
methods/media (POST /api/v2/media answers 200, or 202 while the file is processed: poll GET /api/v1/media/:id,
206 until done), methods/accounts (verify_credentials; an account's statuses, at most 40 a page),
methods/instance (GET /api/v2/instance: `configuration.statuses`), methods/apps and methods/oauth (register,
authorize, exchange the code; PKCE with S256 since 4.3, announced in the server metadata at
/.well-known/oauth-authorization-server), api/rate-limits (the X-RateLimit-* headers; Reset is an ISO 8601
time), user/posting (URLs count 23; images up to 16 MB, video up to 99 MB, 4 attachments). From Mastodon's
source (mastodon/mastodon): `app/lib/rate_limiter.rb` (300 statuses per account per 3 hours, a fixed window),
`app/controllers/api/base_controller.rb` (at most 20 ids per batch read, the error bodies).

What counts as "the request may have been sent" decides whether a failed post is retried or looked for:
only a connection that was never made (ConnectError, ConnectTimeout, PoolTimeout, UnsupportedProtocol)
proves that a POST /api/v1/statuses did not reach the server. Anything later (a read timeout, a reset or
a disconnect mid-response, a write error, a 504 from a proxy that had forwarded it) may have made a post.
"""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shared.config import Settings
from shared.limits.ports import Rate
from shared.networks.outbound import UPLOAD, AddressPolicy, Outbound
from shared.networks.ports import (
    Account,
    Audience,
    AuthExpired,
    AuthorizationStart,
    CannotTell,
    Draft,
    Engagement,
    MediaItem,
    MediaRule,
    NetworkError,
    NetworkInfo,
    PostGone,
    Profile,
    PublishedPart,
    PublishedPost,
    Rejected,
    TextPreview,
    Transient,
)
from shared.networks.toolkit.answers import (
    answer_object,
    identifier,
    network_words,
    reading,
    refusal,
    says_credentials_refused,
)
from shared.networks.toolkit.calls import transport_failure
from shared.networks.toolkit.settings import LEGACY_LOOPBACK_SETTING, check_server_url
from shared.text.mastodon import MASTODON_DEFAULT_LIMIT, MASTODON_DEFAULT_URL_WEIGHT, mastodon_length

VISIBILITIES = ("public", "unlisted", "private", "direct")
SETTING_KEYS = frozenset({"base_url", "visibility", "language", LEGACY_LOOPBACK_SETTING})
SCOPES = "read write"
OUT_OF_BAND = "urn:ietf:wg:oauth:2.0:oob"
PKCE_METHOD = "S256"
SERVER_METADATA_PATH = "/.well-known/oauth-authorization-server"

IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
VIDEO_TYPES = ("video/mp4",)
IMAGE_MAX_BYTES = 16 * 1024 * 1024
VIDEO_MAX_BYTES = 99 * 1024 * 1024
MAX_MEDIA = 4
ALT_TEXT_LIMIT = 1500
# GET /api/v1/statuses refuses more ids than this with a 422 (Api::BaseController::DEFAULT_STATUSES_LIMIT).
BATCH_READ_LIMIT = 20
PAGE_SIZE = 40

TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=5.0)
UPLOAD_TIMEOUT = httpx.Timeout(connect=5.0, read=60.0, write=120.0, pool=5.0)


@dataclass(frozen=True)
class ChannelSettings:
    """A Mastodon channel's options, checked."""

    base_url: str
    visibility: str | None = None
    language: str | None = None

    @property
    def host(self) -> str:
        return urllib.parse.urlsplit(self.base_url).netloc


def _check_base_url(value: object, policy: AddressPolicy) -> tuple[str | None, list[str]]:
    return check_server_url(
        value,
        setting="base_url",
        example="https://mastodon.social",
        secret="an access token",
        policy=policy,
    )


def parse_settings(
    settings: Mapping[str, Any], policy: AddressPolicy
) -> tuple[ChannelSettings | None, list[str]]:
    """The channel's options and the problems with them; None when they cannot be used.

    `allow_insecure_loopback`, which older channels carry, is read and ignored (see LEGACY_LOOPBACK_SETTING).
    """
    problems = [f"unknown option {key!r}" for key in settings if key not in SETTING_KEYS]
    base_url, url_problems = _check_base_url(settings.get("base_url"), policy)
    problems += url_problems
    visibility = settings.get("visibility")
    if visibility is not None and visibility not in VISIBILITIES:
        problems.append(f"visibility must be one of {', '.join(VISIBILITIES)}")
    language = settings.get("language")
    if language is not None and not (
        isinstance(language, str) and language.isascii() and language.isalpha() and 2 <= len(language) <= 3
    ):
        problems.append("language must be an ISO 639 code such as 'en' or 'de'")
    if problems or base_url is None:
        return None, problems
    return ChannelSettings(base_url=base_url, visibility=visibility, language=language), []


@dataclass(frozen=True)
class InstanceLimits:
    """What a server announces about statuses (GET /api/v2/instance, configuration.statuses)."""

    max_characters: int = MASTODON_DEFAULT_LIMIT
    characters_reserved_per_url: int = MASTODON_DEFAULT_URL_WEIGHT


@dataclass(frozen=True)
class Sent:
    """What one publish sent under an idempotency key, so that find_published knows what to look for."""

    texts: tuple[str, ...]
    content_warning: str
    media_count: int
    sent_at: datetime


class MastodonNetwork:
    """The `mastodon` network's adapter: one per process, for every Mastodon server and account."""

    info = NetworkInfo(
        name="mastodon",
        display_name="Mastodon",
        text_limit=MASTODON_DEFAULT_LIMIT,
        text_unit="graphemes (URLs count 23)",
        supports_threads=True,
        media=MediaRule(
            content_types=IMAGE_TYPES + VIDEO_TYPES,
            # The image limit; a video may be up to 99 MB, checked in validate().
            max_bytes=IMAGE_MAX_BYTES,
            max_items=MAX_MEDIA,
            alt_text_limit=ALT_TEXT_LIMIT,
        ),
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
        # Every /api/* call counts against 300 per account in 5 minutes (api/rate-limits): metrics take at
        # most a third, so publishing and the person's own client keep the rest.
        account_read_rate=Rate.per_minute(20, burst=10),
    )

    # Reading back only what the caller can be sure of: see find_published.
    CLOCK_SKEW = timedelta(seconds=60)
    MAX_PAGES = 5

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
        self._outbound = outbound or Outbound()
        self._http = http or self._outbound.client(TIMEOUT)
        self._clock = clock
        self._media_poll_interval = media_poll_interval
        self._media_poll_attempts = media_poll_attempts
        self._instance_ttl = instance_ttl
        # How long after an attempt a request that timed out might still be processed by the server: a
        # post that is not there yet may still appear, so absence is only certain after this.
        self._settle = settle
        self._lock = threading.Lock()
        self._instances: dict[str, tuple[float, InstanceLimits]] = {}
        self._no_batch_read: set[str] = set()
        self._sent: dict[str, Sent] = {}
        # Crier's registration on each server, by server and redirect URI: see begin_authorization.
        self._apps: dict[tuple[str, str], RegisteredApp] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> MastodonNetwork:
        return cls(
            Outbound.from_settings(settings), settle=timedelta(seconds=settings.mastodon_settle_seconds)
        )

    # -- What a channel and a draft may be ------------------------------------------------------------

    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        return parse_settings(settings, self._outbound.policy)[1]

    def check_credentials(self, credentials: Mapping[str, Any]) -> list[str]:
        """Problems with the access token's shape; whether Mastodon takes it, verify() asks."""
        token = credentials.get("access_token")
        if not isinstance(token, str) or not token.strip() or any(char.isspace() for char in token):
            return ["access_token must be the token Mastodon issued, without spaces"]
        return []

    def validate(self, draft: Draft) -> list[str]:
        # The text's length is not checked here: each server sets its own limit, which preview() reads.
        problems: list[str] = []
        if not draft.text.strip() and not draft.media:
            problems.append("the text is empty")
        problems += [
            f"thread item {index} is empty" for index, text in enumerate(draft.thread, 1) if not text.strip()
        ]
        problems += _option_problems(draft.options)
        problems += _media_problems(draft.media)
        return problems

    def preview(self, account: Account, draft: Draft) -> list[TextPreview]:
        channel = self._channel(account)
        limits = self.instance_limits(channel.base_url)
        warning = _content_warning(draft)
        previews = []
        for text in (draft.text, *draft.thread):
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
            response = self._http.get(f"{base_url}/api/v2/instance")
            if response.status_code == 404:  # before Mastodon 4.0
                response = self._http.get(f"{base_url}/api/v1/instance")
            if response.is_success:
                statuses = response.json().get("configuration", {}).get("statuses", {})
                limits = InstanceLimits(
                    max_characters=int(statuses.get("max_characters", MASTODON_DEFAULT_LIMIT)),
                    characters_reserved_per_url=int(
                        statuses.get("characters_reserved_per_url", MASTODON_DEFAULT_URL_WEIGHT)
                    ),
                )
                ttl = self._instance_ttl
        except (httpx.HTTPError, ValueError, TypeError, AttributeError):
            pass  # a preview with the documented defaults beats no preview; retried in a minute
        with self._lock:
            self._instances[base_url] = (now + ttl, limits)
        return limits

    # -- Publishing ----------------------------------------------------------------------------------

    def publish(
        self,
        account: Account,
        draft: Draft,
        idempotency_key: str,
        *,
        published: Sequence[PublishedPart] = (),
    ) -> PublishedPost:
        """Upload the media, post the status, then each thread item as a reply to the one before.

        Each status carries an Idempotency-Key: the delivery's key for the post, `key:n` for thread item n,
        so a retry within the server's hour returns the statuses already made instead of new ones, on a
        server that honours keys. Parts already `published` are not sent again: the thread goes on from
        the last of them. A failure after some parts were made passes them on with the error.
        """
        channel = self._channel(account)
        token = _token(account)
        problems = self.validate(draft)
        if problems:
            raise Rejected("Mastodon would refuse this draft: " + "; ".join(problems))
        fields = _status_fields(channel, draft)
        self._remember(idempotency_key, draft)
        parts = list(published[: 1 + len(draft.thread)])
        if not parts:
            # Nothing is posted while the media upload: a failure there leaves no post, so it is transient.
            media_ids = [self._upload(channel, token, item) for item in draft.media]
            root = self._post_status(
                channel, token, {**fields, "status": draft.text, "media_ids[]": media_ids}, idempotency_key
            )
            with reading(channel.host, write=True):
                parts.append(_part(root))
        for index in range(len(parts), len(draft.thread) + 1):
            try:
                reply = self._post_status(
                    channel,
                    token,
                    {**fields, "status": draft.thread[index - 1], "in_reply_to_id": parts[-1].external_id},
                    f"{idempotency_key}:{index}",
                )
                with reading(channel.host, write=True):
                    part = _part(reply)
            except NetworkError as error:
                raise error.after(parts) from None
            parts.append(part)
        return PublishedPost.of(parts)

    def _post_status(
        self, channel: ChannelSettings, token: str, fields: Mapping[str, Any], idempotency_key: str
    ) -> dict[str, Any]:
        response = self._send(
            "POST",
            f"{channel.base_url}/api/v1/statuses",
            token,
            may_post=True,
            data={key: value for key, value in fields.items() if value not in (None, [], "")},
            headers={"Idempotency-Key": idempotency_key},
        )
        _check(response, channel.host, may_have_posted=True)
        return answer_object(response, what=channel.host, write=True)

    def _upload(self, channel: ChannelSettings, token: str, item: MediaItem) -> str:
        extension = item.content_type.rsplit("/", 1)[-1]
        response = self._send(
            "POST",
            f"{channel.base_url}/api/v2/media",
            token,
            files={"file": (f"media.{extension}", item.data, item.content_type)},
            data={"description": item.alt_text} if item.alt_text else None,
            timeout=UPLOAD_TIMEOUT,
            extensions=UPLOAD,
        )
        _check(response, channel.host)
        media = answer_object(response, what=channel.host, write=False)
        with reading(channel.host, write=False):
            media_id = identifier(media["id"])
        if response.status_code == 200 and media.get("url"):
            return media_id
        # 202: the full-size file is still processing; a status may not use it until GET says 200.
        for _ in range(self._media_poll_attempts):
            time.sleep(self._media_poll_interval)
            polled = self._send("GET", f"{channel.base_url}/api/v1/media/{media_id}", token)
            if polled.status_code == 206:
                continue
            _check(polled, channel.host)
            if answer_object(polled, what=channel.host, write=False).get("url"):
                return media_id
        raise Transient(
            f"{channel.host}: the media {media_id} was still processing after "
            f"{self._media_poll_attempts * self._media_poll_interval:.0f} s"
        )

    def _remember(self, idempotency_key: str, draft: Draft) -> None:
        sent = Sent(
            texts=(draft.text, *draft.thread),
            content_warning=_content_warning(draft),
            media_count=len(draft.media),
            sent_at=self._clock(),
        )
        with self._lock:
            oldest = sent.sent_at - timedelta(days=1)
            for key in [key for key, value in self._sent.items() if value.sent_at < oldest]:
                del self._sent[key]
            earlier = self._sent.get(idempotency_key)
            # The first attempt's time: a retry must not move the search past a post an earlier one made.
            self._sent[idempotency_key] = sent if earlier is None else replace(sent, sent_at=earlier.sent_at)

    # -- Finding what an uncertain attempt made ------------------------------------------------------

    def find_published(
        self,
        account: Account,
        idempotency_key: str,
        *,
        draft: Draft | None = None,
        attempted_at: datetime | None = None,
        last_attempted_at: datetime | None = None,
        published: Sequence[PublishedPart] = (),
    ) -> PublishedPost | None:
        """Whether the uncertain attempt under this key made the post, read back from the account's posts.

        Mastodon offers no lookup by idempotency key: the key lives on the server for an hour (and some
        servers ignore it), and only a new POST can consult it, which would make the post if the server
        no longer (or never) knew it. So nothing is posted here. Instead the account's statuses since the
        first attempt are read, newest first, a bounded number of pages back, and the post is recognised by
        what was sent: no reply-to, the same content warning and number of attachments, the same
        application as this token, created no earlier than the attempt (less a minute of clock skew), and
        the same source text (GET .../source, exact after trimming, as Mastodon trims it). Each thread reply
        must answer the part before it. Parts already recorded (`published`) are taken as found.

        What was sent comes from `draft` and `attempted_at` when the caller passes them, else from this
        process's record of its own publish calls (kept a day). Without either it cannot look, and says so.

        Answers: the post and as much of its thread as is there, when exactly one status matches each part
        found and the next part is certainly absent; None when not even the post is there. A part is only
        certainly absent once the uncertain attempt is old enough (`settle`) that a request still queued on
        the server can no longer appear: until then it raises Transient. It raises CannotTell when several
        statuses match one part (the same text posted twice in the window), or the attempt lies further
        back than the pages read.
        """
        channel = self._channel(account)
        token = _token(account)
        sent = self._expected(idempotency_key, draft, attempted_at)
        since = sent.sent_at - self.CLOCK_SKEW
        settled = self._clock() - (last_attempted_at or sent.sent_at) >= self._settle
        me = self._get_json(channel, token, "/api/v1/accounts/verify_credentials")
        app_name = self._app_name(channel, token)
        with reading(channel.host, write=False):
            account_id = identifier(me["id"])
        statuses = self._statuses_since(channel, token, account_id, since)

        def sent_by_us(status: Mapping[str, Any]) -> bool:
            application = status.get("application") or {}
            return (
                _created_at(status) >= since
                and (status.get("spoiler_text") or "") == sent.content_warning.strip()
                and (app_name is None or not application or application.get("name") == app_name)
            )

        parts = list(published[: len(sent.texts)])
        for index in range(len(parts), len(sent.texts)):
            follows = parts[-1].external_id if parts else None
            with reading(channel.host, write=False):
                matches = [
                    status
                    for status in statuses
                    if sent_by_us(status)
                    and status.get("in_reply_to_id") == follows
                    and (
                        follows is not None or len(status.get("media_attachments") or ()) == sent.media_count
                    )
                    and self._source_text(channel, token, identifier(status["id"]))
                    == _normalised(sent.texts[index])
                ]
            what = "the post" if index == 0 else f"thread reply {index} of {len(sent.texts) - 1}"
            if len(matches) > 1:
                raise CannotTell(
                    f"{channel.host}: {len(matches)} statuses since the attempt match {what} "
                    f"({', '.join(_status_url(status) for status in matches)}); a person must say which",
                    published=parts,
                )
            if not matches:
                if not settled:
                    raise Transient(
                        f"{channel.host}: {what} is not there yet, but the attempt was under "
                        f"{self._settle.total_seconds():.0f} s ago and may still be processed; "
                        "ask again later",
                        published=parts,
                    )
                break
            with reading(channel.host, write=False):
                parts.append(_part(matches[0]))
        return PublishedPost.of(parts) if parts else None

    def _expected(self, idempotency_key: str, draft: Draft | None, attempted_at: datetime | None) -> Sent:
        if draft is not None and attempted_at is not None:
            return Sent(
                texts=(draft.text, *draft.thread),
                content_warning=_content_warning(draft),
                media_count=len(draft.media),
                sent_at=attempted_at,
            )
        with self._lock:
            sent = self._sent.get(idempotency_key)
        if sent is None:
            raise CannotTell(
                "Mastodon cannot look a post up by its idempotency key, and this process did not send it: "
                "without the draft and the time of the attempt there is nothing to recognise it by"
            )
        return sent

    def _statuses_since(
        self, channel: ChannelSettings, token: str, account_id: str, since: datetime
    ) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        max_id: str | None = None
        for _ in range(self.MAX_PAGES):
            params = {"limit": PAGE_SIZE, "exclude_reblogs": "true"} | ({"max_id": max_id} if max_id else {})
            page = self._get_json(channel, token, f"/api/v1/accounts/{account_id}/statuses", params=params)
            if not isinstance(page, list):
                raise Transient(f"{channel.host}: the account's statuses were not a list")
            found += page
            with reading(channel.host, write=False):
                if len(page) < PAGE_SIZE or _created_at(page[-1]) < since:
                    return found
                max_id = identifier(page[-1]["id"])
        raise CannotTell(
            f"{channel.host}: more than {self.MAX_PAGES * PAGE_SIZE} posts since the attempt; "
            "too many to be sure the post is not among older ones"
        )

    def _source_text(self, channel: ChannelSettings, token: str, status_id: str) -> str | None:
        response = self._send("GET", f"{channel.base_url}/api/v1/statuses/{status_id}/source", token)
        if response.status_code == 404:
            return None  # deleted since it was listed
        _check(response, channel.host)
        text = answer_object(response, what=channel.host, write=False).get("text")
        return _normalised(text) if isinstance(text, str) else None

    def _app_name(self, channel: ChannelSettings, token: str) -> str | None:
        response = self._send("GET", f"{channel.base_url}/api/v1/apps/verify_credentials", token)
        if response.status_code in (401, 403, 429) or response.status_code >= 500:
            _check(response, channel.host)
        if not response.is_success:
            return None  # not offered: match without it
        name = answer_object(response, what=channel.host, write=False).get("name")
        return name if isinstance(name, str) else None

    # -- Reading and removing posts ------------------------------------------------------------------

    def fetch_engagement(
        self, account: Account, external_ids: Sequence[str]
    ) -> Mapping[str, Engagement | PostGone]:
        """Counts in batches of 20 (GET /api/v1/statuses?id[]=, Mastodon 4.3+), else one status at a time."""
        channel = self._channel(account)
        token = _token(account)
        result: dict[str, Engagement | PostGone] = {}
        ids = list(dict.fromkeys(external_ids))
        for start in range(0, len(ids), BATCH_READ_LIMIT):
            chunk = ids[start : start + BATCH_READ_LIMIT]
            statuses = self._read_batch(channel, token, chunk)
            if statuses is None:
                statuses = self._read_each(channel, token, chunk)
            for status_id in chunk:
                status = statuses.get(status_id)
                if status is None:
                    result[status_id] = PostGone(
                        f"{channel.host}: status {status_id} is gone, or no longer visible"
                    )
                    continue
                with reading(channel.host, write=False):
                    result[status_id] = _engagement(status)
        return result

    def _read_batch(
        self, channel: ChannelSettings, token: str, ids: list[str]
    ) -> dict[str, dict[str, Any]] | None:
        with self._lock:
            if channel.base_url in self._no_batch_read:
                return None
        response = self._send("GET", f"{channel.base_url}/api/v1/statuses", token, params={"id[]": ids})
        if _batch_read_missing(response):
            # Before 4.3 there is no such route (a 404 page), and other servers of the Mastodon API answer
            # 405, 501 or another refusal: remember, so later reads go straight to one at a time.
            with self._lock:
                self._no_batch_read.add(channel.base_url)
            return None
        _check(response, channel.host)
        statuses = response.json()
        if not isinstance(statuses, list):
            raise Transient(f"{channel.host}: the batch of statuses was not a list")
        with reading(channel.host, write=False):
            return {identifier(status["id"]): status for status in statuses}

    def _read_each(self, channel: ChannelSettings, token: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        statuses: dict[str, dict[str, Any]] = {}
        for status_id in ids:
            response = self._send("GET", f"{channel.base_url}/api/v1/statuses/{status_id}", token)
            if response.status_code in (404, 410):
                continue
            _check(response, channel.host)
            statuses[status_id] = answer_object(response, what=channel.host, write=False)
        return statuses

    def edit(self, account: Account, external_id: str, draft: Draft) -> PublishedPart:
        """The status's new text, content warning and language (PUT /api/v1/statuses/:id, Mastodon 3.5+).

        Its media are left as they are: Mastodon keeps the attachments of an edit that names none. A
        content warning is sent even when empty, since an edit without one removes it.
        """
        channel = self._channel(account)
        fields = {
            "status": draft.text,
            "spoiler_text": _content_warning(draft),
            "language": draft.options.get("language") or channel.language,
        }
        response = self._send(
            "PUT",
            f"{channel.base_url}/api/v1/statuses/{external_id}",
            _token(account),
            may_post=True,
            data={key: value for key, value in fields.items() if value is not None},
        )
        if response.status_code in (404, 410):
            raise PostGone(f"{channel.host}: status {external_id} does not exist (any more)")
        _check(response, channel.host, may_have_posted=True)
        edited = answer_object(response, what=channel.host, write=True)
        with reading(channel.host, write=True):
            return _part(edited)

    def reads_as(self, account: Account, external_id: str, draft: Draft) -> bool:
        """Whether the status's source text and content warning are the draft's (an edit that landed)."""
        channel = self._channel(account)
        response = self._send(
            "GET", f"{channel.base_url}/api/v1/statuses/{external_id}/source", _token(account)
        )
        if response.status_code in (404, 410):
            raise PostGone(f"{channel.host}: status {external_id} does not exist (any more)")
        _check(response, channel.host)
        source = answer_object(response, what=channel.host, write=False)
        return _normalised(str(source.get("text") or "")) == _normalised(draft.text) and (
            str(source.get("spoiler_text") or "").strip() == _content_warning(draft).strip()
        )

    def delete(self, account: Account, external_id: str) -> None:
        channel = self._channel(account)
        response = self._send("DELETE", f"{channel.base_url}/api/v1/statuses/{external_id}", _token(account))
        if response.status_code in (404, 410):
            raise PostGone(f"{channel.host}: status {external_id} does not exist (any more)")
        _check(response, channel.host)

    def verify(self, account: Account) -> Profile:
        channel = self._channel(account)
        me = self._get_json(channel, _token(account), "/api/v1/accounts/verify_credentials")
        with reading(channel.host, write=False):
            return Profile(
                handle=_text(me["acct"]), display_name=me.get("display_name") or None, url=me.get("url")
            )

    def fetch_audience(self, account: Account) -> Audience:
        """The account's counts, from verify_credentials (entities/Account: followers_count and the rest)."""
        channel = self._channel(account)
        me = self._get_json(channel, _token(account), "/api/v1/accounts/verify_credentials")
        if not isinstance(me, dict):
            raise Transient(f"{channel.host}: verify_credentials answered with no account")
        counts = {
            key: me[key]
            for key in ("followers_count", "following_count", "statuses_count")
            if isinstance(me.get(key), int)
        }
        return Audience(
            followers=counts.get("followers_count"),
            following=counts.get("following_count"),
            posts=counts.get("statuses_count"),
            raw={"id": str(me.get("id")), **counts},
        )

    # -- Connecting an account: OAuth 2, authorization code with PKCE --------------------------------

    def begin_authorization(
        self, settings: Mapping[str, Any], *, redirect_uri: str, state: str, code_challenge: str
    ) -> AuthorizationStart:
        """The server's page where the person approves Crier, with Crier registered on the server first.

        One registration serves every account on a server for as long as this process runs: Mastodon's
        documentation asks clients not to register anew each time, and a registration costs nothing to
        lose (the next authorization registers again). The challenge is sent only to a server that
        announces S256 in its metadata (Mastodon 4.3 and later): a server that supports PKCE refuses a
        verifier for a code issued without a challenge, and an older one ignores both. There, the client
        secret, which never leaves Crier, still binds the code to Crier.
        """
        channel = self._settings(settings)
        app = self._registered_app(channel, redirect_uri)
        pkce = self._supports_pkce(channel)
        return AuthorizationStart(
            url=authorize_url(app, state=state, code_challenge=code_challenge if pkce else None),
            app_credentials={"client_id": app.client_id, "client_secret": app.client_secret, "pkce": pkce},
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
        """The access token for the code; Rejected when the server refuses the code or the verifier."""
        channel = self._settings(settings)
        app = RegisteredApp(
            base_url=channel.base_url,
            client_id=str(app_credentials.get("client_id", "")),
            client_secret=str(app_credentials.get("client_secret", "")),
            redirect_uri=redirect_uri,
        )
        verifier = code_verifier if app_credentials.get("pkce") is True else None
        try:
            token = exchange_code(app, code, code_verifier=verifier, http=self._http)
        except UnknownClient:
            with self._lock:
                if self._apps.get((channel.base_url, redirect_uri)) == app:
                    del self._apps[(channel.base_url, redirect_uri)]
            raise
        return {"access_token": token.access_token}

    def _registered_app(self, channel: ChannelSettings, redirect_uri: str) -> RegisteredApp:
        key = (channel.base_url, redirect_uri)
        with self._lock:
            app = self._apps.get(key)
        if app is None:
            # Two people starting at once may both register; either registration works, the last is kept.
            app = register_app(
                channel.base_url,
                redirect_uri=redirect_uri,
                policy=self._outbound.policy,
                http=self._http,
            )
            with self._lock:
                self._apps[key] = app
        return app

    def _supports_pkce(self, channel: ChannelSettings) -> bool:
        """Whether the server takes an S256 challenge, from its metadata (RFC 8414; Mastodon 4.3+)."""
        try:
            response = self._http.get(f"{channel.base_url}{SERVER_METADATA_PATH}")
        except httpx.TransportError as error:
            raise transport_failure(error, what=channel.host, sent_a_write=False) from error
        if response.status_code == 404:
            return False  # before 4.3: no metadata, and no PKCE
        _check(response, channel.host)
        methods = answer_object(response, what=channel.host, write=False).get(
            "code_challenge_methods_supported"
        )
        return isinstance(methods, list) and PKCE_METHOD in methods

    # -- HTTP ----------------------------------------------------------------------------------------

    def _settings(self, settings: Mapping[str, Any]) -> ChannelSettings:
        channel, problems = parse_settings(settings, self._outbound.policy)
        if channel is None:
            raise Rejected("the Mastodon channel's settings are not usable: " + "; ".join(problems))
        return channel

    def _channel(self, account: Account) -> ChannelSettings:
        return self._settings(account.settings)

    def _get_json(
        self, channel: ChannelSettings, token: str, path: str, params: Mapping[str, Any] | None = None
    ) -> Any:
        response = self._send("GET", f"{channel.base_url}{path}", token, params=params)
        _check(response, channel.host)
        try:
            return response.json()
        except ValueError as error:
            raise Transient(f"{channel.host}: {path} answered with something other than JSON") from error

    def _send(
        self, method: str, url: str, token: str, *, may_post: bool = False, **kwargs: Any
    ) -> httpx.Response:
        """One request. Transport failures become Transient, except after a POST that may have posted."""
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        host = urllib.parse.urlsplit(url).netloc
        try:
            return self._http.request(method, url, headers=headers, **kwargs)
        except httpx.TransportError as error:
            raise transport_failure(error, what=host, sent_a_write=may_post) from error


def _check(response: httpx.Response, host: str, *, may_have_posted: bool = False) -> None:
    """Raise the error an unsuccessful answer means (shared.networks.answers reads it for every network)."""
    if not response.is_success:
        raise refusal(response, what=host, write=may_have_posted, reset_at=_reset_at(response))


def _batch_read_missing(response: httpx.Response) -> bool:
    """Whether a batch read was refused for want of the route, not for the caller's credentials or pace."""
    if response.status_code in (404, 405, 501):
        return True
    if response.status_code in (401, 403, 429) or not 400 <= response.status_code < 500:
        return False
    return not says_credentials_refused(network_words(response))


def _reset_at(response: httpx.Response) -> datetime | None:
    value = response.headers.get("X-RateLimit-Reset")
    if not value:
        return None
    try:
        reset = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return reset if reset.tzinfo is not None else reset.replace(tzinfo=UTC)


def _token(account: Account) -> str:
    token = account.credentials.get("access_token")
    if not isinstance(token, str) or not token:
        raise AuthExpired("the Mastodon channel has no access token: connect the account again")
    return token


def _content_warning(draft: Draft) -> str:
    warning = draft.options.get("content_warning") or ""
    return warning if isinstance(warning, str) else ""


def _option_problems(options: Mapping[str, Any]) -> list[str]:
    problems = []
    if not isinstance(options.get("content_warning") or "", str):
        problems.append("content_warning must be text")
    visibility = options.get("visibility")
    if visibility is not None and visibility not in VISIBILITIES:
        problems.append(f"visibility must be one of {', '.join(VISIBILITIES)}")
    return problems


def _media_problems(media: Sequence[MediaItem]) -> list[str]:
    problems = []
    if len(media) > MAX_MEDIA:
        problems.append(f"{len(media)} attachments; Mastodon takes at most {MAX_MEDIA}")
    videos = [item for item in media if item.content_type in VIDEO_TYPES]
    if videos and len(media) > 1:
        problems.append("a video must be the only attachment")
    for number, item in enumerate(media, 1):
        if item.content_type not in IMAGE_TYPES + VIDEO_TYPES:
            problems.append(f"attachment {number}: Crier sends {', '.join(IMAGE_TYPES + VIDEO_TYPES)} only")
            continue
        limit = VIDEO_MAX_BYTES if item in videos else IMAGE_MAX_BYTES
        if len(item.data) > limit:
            problems.append(f"attachment {number} is {len(item.data)} bytes; the limit is {limit}")
        if item.alt_text and len(item.alt_text) > ALT_TEXT_LIMIT:
            problems.append(f"attachment {number}: the description is over {ALT_TEXT_LIMIT} characters")
    return problems


def _status_fields(channel: ChannelSettings, draft: Draft) -> dict[str, Any]:
    """The form fields every status of the draft shares: a content warning covers the whole thread."""
    return {
        "spoiler_text": _content_warning(draft),
        "visibility": draft.options.get("visibility") or channel.visibility,
        "language": draft.options.get("language") or channel.language,
    }


def _status_url(status: Mapping[str, Any]) -> str:
    return str(status.get("url") or status.get("uri") or "")


def _part(status: Mapping[str, Any]) -> PublishedPart:
    """A status as one part of a delivery, dated by the server's own clock."""
    return PublishedPart(
        external_id=identifier(status["id"]), url=_status_url(status), created_at=_created_at(status)
    )


def _created_at(status: Mapping[str, Any]) -> datetime:
    created = datetime.fromisoformat(_text(status["created_at"]))
    return created if created.tzinfo is not None else created.replace(tzinfo=UTC)


def _text(value: object) -> str:
    """A field an answer must give as text; TypeError (read inside `reading`) for anything else."""
    if not isinstance(value, str) or not value:
        raise TypeError(f"expected text, not {type(value).__name__}")
    return value


def _normalised(text: str) -> str:
    # Mastodon strips the text before storing it; line endings may arrive as CRLF from a form.
    return text.replace("\r\n", "\n").strip()


def _engagement(status: Mapping[str, Any]) -> Engagement:
    counts = {
        key: status[key]
        for key in ("favourites_count", "reblogs_count", "replies_count", "quotes_count")
        if isinstance(status.get(key), int)
    }
    return Engagement(
        likes=counts.get("favourites_count"),
        reposts=counts.get("reblogs_count"),
        replies=counts.get("replies_count"),
        quotes=counts.get("quotes_count"),  # only from Mastodon 4.5
        raw={"id": identifier(status["id"]), **counts},
    )


# -- Connecting an account (OAuth 2, authorization code) ---------------------------------------------


class UnknownClient(Rejected):
    """The server does not know Crier's registration (invalid_client): it was removed; register again."""


@dataclass(frozen=True)
class RegisteredApp:
    """Crier's client registration on one server (POST /api/v1/apps)."""

    base_url: str
    client_id: str
    client_secret: str = field(default="", repr=False)
    redirect_uri: str = OUT_OF_BAND
    scopes: str = SCOPES


@dataclass(frozen=True)
class AccessToken:
    """A user's token for Crier (POST /oauth/token)."""

    access_token: str = field(repr=False)
    token_type: str
    scope: str
    created_at: int | None = None


def register_app(
    base_url: str,
    *,
    policy: AddressPolicy,
    http: httpx.Client,
    redirect_uri: str = OUT_OF_BAND,
    client_name: str = "Crier",
    website: str | None = None,
) -> RegisteredApp:
    """Register Crier with a server, once per server; keep the result secret.

    `http` must be a client of shared.networks.outbound, which keeps to `policy` on every call.
    """
    url, problems = _check_base_url(base_url, policy)
    if url is None:
        raise Rejected("; ".join(problems))
    fields = {"client_name": client_name, "redirect_uris": redirect_uri, "scopes": SCOPES}
    if website:
        fields["website"] = website
    response = _oauth_call(http, "POST", f"{url}/api/v1/apps", data=fields)
    host = urllib.parse.urlsplit(url).netloc
    body = answer_object(response, what=host, write=False)
    with reading(host, write=False):
        return RegisteredApp(
            base_url=url,
            client_id=_text(body["client_id"]),
            client_secret=_text(body["client_secret"]),
            redirect_uri=redirect_uri,
        )


def authorize_url(
    app: RegisteredApp,
    *,
    state: str | None = None,
    code_challenge: str | None = None,
    force_login: bool = False,
) -> str:
    """Where to send the person to approve Crier; the server then gives a code to `exchange_code`.

    `code_challenge` is the S256 challenge of the verifier that `exchange_code` will send (RFC 7636).
    """
    query = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uri,
        "scope": app.scopes,
    }
    if state is not None:
        query["state"] = state
    if code_challenge is not None:
        query["code_challenge"] = code_challenge
        query["code_challenge_method"] = PKCE_METHOD
    if force_login:
        query["force_login"] = "true"
    return f"{app.base_url}/oauth/authorize?{urllib.parse.urlencode(query, quote_via=urllib.parse.quote)}"


def exchange_code(
    app: RegisteredApp, code: str, *, http: httpx.Client, code_verifier: str | None = None
) -> AccessToken:
    """Turn the code the person was given into an access token.

    `code_verifier` only for a code authorized with a challenge: a server with PKCE refuses one otherwise.
    """
    fields = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "redirect_uri": app.redirect_uri,
        "scope": app.scopes,
    }
    if code_verifier is not None:
        fields["code_verifier"] = code_verifier
    response = _oauth_call(http, "POST", f"{app.base_url}/oauth/token", data=fields)
    host = urllib.parse.urlsplit(app.base_url).netloc
    body = answer_object(response, what=host, write=False)
    created = body.get("created_at")
    with reading(host, write=False):
        access_token = _text(body["access_token"])
    return AccessToken(
        access_token=access_token,
        token_type=str(body.get("token_type", "Bearer")),
        scope=str(body.get("scope", app.scopes)),
        created_at=created if isinstance(created, int) else None,
    )


def _oauth_call(http: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    host = urllib.parse.urlsplit(url).netloc
    try:
        response = http.request(method, url, **kwargs)
    except httpx.TransportError as error:
        # Registering twice or failing to exchange a code harms nothing: every failure may be retried.
        raise transport_failure(error, what=host, sent_a_write=False) from error
    if response.status_code == 401:
        # invalid_client: the registration is unknown to the server; register again.
        raise UnknownClient(f"{host} answered 401: {network_words(response)}")
    _check(response, host)
    return response
