"""The `linkedin` network's adapter: posting as a member or a page through LinkedIn's versioned Posts API."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shared.config import Settings
from shared.limits.ports import Rate
from shared.networks.linkedin.channel import (
    MEDIA_RULE,
    ChannelSettings,
    draft_problems,
    parse_settings,
)
from shared.networks.linkedin.engagement import fetch_counts, page_followers
from shared.networks.linkedin.finding import CLOCK_SKEW, PostFinder, Sent, comment_of
from shared.networks.linkedin.oauth import Authorizations
from shared.networks.linkedin.rest import (
    COMMENT_URN,
    DUPLICATE,
    POST_URN,
    WHAT,
    LinkedInApi,
    LinkedInDialect,
    access_token,
    encoded,
    post_part,
    post_url,
)
from shared.networks.outbound import Outbound
from shared.networks.ports import (
    Account,
    Audience,
    AuthorizationStart,
    Draft,
    Engagement,
    MediaItem,
    NetworkInfo,
    OutcomeUnknown,
    PostGone,
    Profile,
    PublishedPart,
    PublishedPost,
    Rejected,
    TextPreview,
)
from shared.networks.toolkit.answers import (
    identifier,
    network_words,
    reading,
    required_text,
    storable_profile,
)
from shared.networks.toolkit.calls import SERVER_TIMEOUT, Calls
from shared.networks.toolkit.own_posts import SentByThisProcess
from shared.networks.toolkit.parts import (
    Attempt,
    FindsPublished,
    publish_in_parts,
    refuse_before_sending,
    text_previews,
)
from shared.networks.toolkit.tokens import stored_expiry, token_problems
from shared.text.linkedin import LINKEDIN_LIMIT, commentary, linkedin_length

DAY = 24 * 3600


class LinkedInNetwork(FindsPublished):
    """The `linkedin` network's adapter: one per process, for every member and page."""

    info = NetworkInfo(
        name="linkedin",
        display_name="LinkedIn",
        text_limit=LINKEDIN_LIMIT,
        text_unit="UTF-16 code units of the text as sent, each reserved character escaped (counting 2)",
        supports_first_comment=True,
        media=MEDIA_RULE,
        # Views and reposts for pages only (organizationalEntityShareStatistics); a member's stay None.
        metrics=("likes", "replies", "reposts", "views"),
        credential_keys=("access_token",),
        optional_credential_keys=(
            "expires_at",
            "member_urn",
            "refresh_token",
            "refresh_token_expires_at",
        ),
        can_find_published=True,
        can_delete=True,
        can_edit=True,
        # LinkedIn allows a member 150 posts a day (and an app 100,000), counted per UTC day: a bucket of 10
        # refilled at 140 a day never spends more than 150 in a day.
        account_rate=Rate(burst=10, per_second=140 / DAY),
        network_rate=Rate(burst=100, per_second=90_000 / DAY),
        # Reads count against the same daily quotas: metrics keep to a few hundred a member a day.
        account_read_rate=Rate(burst=20, per_second=400 / DAY),
    )

    def __init__(
        self,
        outbound: Outbound | None = None,
        *,
        api_url: str = "https://api.linkedin.com",
        oauth_url: str = "https://www.linkedin.com/oauth/v2",
        version: str = "202510",
        client_id: str | None = None,
        client_secret: str | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        settle: timedelta = timedelta(minutes=1),
    ) -> None:
        calls = Calls(outbound or Outbound(), SERVER_TIMEOUT, dialect=LinkedInDialect(), http=http)
        self._api = LinkedInApi(calls, api_url=api_url, version=version)
        self._clock = clock
        self._finder = PostFinder(self._api, clock=clock, settle=settle)
        self._authorizations = Authorizations(
            self._api, oauth_url=oauth_url, client_id=client_id, client_secret=client_secret
        )
        # What this process sent (see finding): LinkedIn keeps no idempotency key.
        self._sent: SentByThisProcess[Sent] = SentByThisProcess(WHAT, clock)
        self._lock = threading.Lock()
        self._members: dict[str, str] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> LinkedInNetwork:
        return cls(
            Outbound.from_settings(settings),
            api_url=settings.linkedin_api_url,
            oauth_url=settings.linkedin_oauth_url,
            version=settings.linkedin_version,
            client_id=settings.linkedin_client_id,
            client_secret=settings.linkedin_client_secret,
        )

    # -- What a channel and a draft may be ------------------------------------------------------------

    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        return parse_settings(settings)[1]

    def check_credentials(self, credentials: Mapping[str, Any]) -> list[str]:
        return token_problems(credentials, ("access_token",), "LinkedIn")

    def validate(self, draft: Draft) -> list[str]:
        return draft_problems(draft)

    def preview(self, account: Account, draft: Draft) -> list[TextPreview]:
        def problems(index: int, text: str) -> list[str]:
            return [problem for problem in draft_problems(Draft(text=text)) if "empty" not in problem]

        previews = text_previews(draft, limit=LINKEDIN_LIMIT, length=linkedin_length, problems=problems)
        # What is sent, escaped; its length is the one LinkedIn counts.
        return [replace(preview, text=commentary(preview.text)) for preview in previews]

    # -- Publishing: the post, then its first comment --------------------------------------------------

    def publish(
        self,
        account: Account,
        draft: Draft,
        idempotency_key: str,
        *,
        published: Sequence[PublishedPart] = (),
    ) -> PublishedPost:
        """The post, then the first comment the draft asks for, going on after the parts already made."""
        channel = self._channel(account)
        refuse_before_sending(self.validate(draft), network="LinkedIn")
        token = access_token(account)
        author = self._author(account, channel)
        sent = self._sent.remember(idempotency_key, lambda sent_at: Sent.of(author, draft, sent_at))

        def make(index: int, parts: Sequence[PublishedPart]) -> PublishedPart:
            if index == 0:
                return self._post(token, author, draft, sent)
            assert sent.comment is not None
            return self._comment(token, author, parts[0].external_id, sent.comment)

        return publish_in_parts(2 if sent.comment else 1, make, published=published)

    def _post(self, token: str, author: str, draft: Draft, sent: Sent) -> PublishedPart:
        # Nothing is posted while the images upload: a failure there leaves no post.
        images = [self._upload(token, author, item) for item in draft.media]
        body: dict[str, Any] = {
            "author": author,
            "commentary": sent.commentary,
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        if len(images) == 1:
            body["content"] = {"media": images[0]}
        elif images:
            body["content"] = {"multiImage": {"images": images}}
        response = self._api.send("POST", "/rest/posts", token, write=True, json=body)
        if response.status_code in (409, 422):
            duplicate = DUPLICATE.search(network_words(response))
            if duplicate:
                return self._duplicate(token, sent, duplicate.group(1))
        self._api.check(response, write=True)
        urn = response.headers.get("x-restli-id", "").strip()
        if not POST_URN.match(urn):
            raise OutcomeUnknown(
                f"LinkedIn answered {response.status_code} without the post's id (x-restli-id); the post "
                "may exist, and Crier checks"
            )
        return post_part(urn)

    def _duplicate(self, token: str, sent: Sent, urn: str) -> PublishedPart:
        """LinkedIn refuses a text the author posted lately, naming that post: it is this delivery's own when
        it is the author's, reads the same and was made since this delivery's first attempt (one whose
        answer was lost); any other is a refusal that names it."""
        refusal = f"LinkedIn refuses this text as a duplicate of an earlier post: {post_url(urn)}"
        response = self._api.send("GET", f"/rest/posts/{encoded(urn)}", token)
        if 400 <= response.status_code < 500 and response.status_code not in (401, 429):
            raise Rejected(refusal + " (which Crier cannot read)")
        post = self._api.calls.answer(response, what=WHAT)
        with reading(WHAT, write=False):
            created = post.get("createdAt")
            ours = (
                post.get("author") == sent.author
                and post.get("commentary") == sent.commentary
                and isinstance(created, int)
                and created / 1000 >= (sent.sent_at - CLOCK_SKEW).timestamp()
            )
        if ours:
            return post_part(urn, created)
        raise Rejected(refusal)

    def _upload(self, token: str, author: str, item: MediaItem) -> dict[str, Any]:
        """Images API: initializeUpload gives an upload URL and the image's URN; the bytes go there."""
        started = self._api.calls.answer(
            self._api.send(
                "POST",
                "/rest/images?action=initializeUpload",
                token,
                json={"initializeUploadRequest": {"owner": author}},
            ),
            what=WHAT,
        )
        with reading(WHAT, write=False):
            value = started["value"]
            upload_url = self._api.upload_url(required_text(value["uploadUrl"]))
            image = identifier(value["image"])
        uploaded = self._api.send(
            "PUT",
            upload_url,
            token,
            upload=True,
            content=item.data,
            headers={"Content-Type": item.content_type},
        )
        self._api.check(uploaded)
        return {"id": image, **({"altText": item.alt_text} if item.alt_text else {})}

    def _comment(self, token: str, author: str, post_urn: str, text: str) -> PublishedPart:
        response = self._api.send(
            "POST",
            f"/rest/socialActions/{encoded(post_urn)}/comments",
            token,
            write=True,
            json={"actor": author, "object": post_urn, "message": {"text": text}},
        )
        self._api.check(response, write=True)
        header = response.headers.get("x-restli-id", "").strip()
        if COMMENT_URN.match(header):
            return comment_of(post_urn, {"$URN": header})
        body = self._api.calls.answer(response, what=WHAT, write=True)
        with reading(WHAT, write=True):
            return comment_of(post_urn, body)

    # -- Finding what an uncertain attempt made --------------------------------------------------------

    def find_made(self, account: Account, idempotency_key: str, attempt: Attempt) -> PublishedPost | None:
        """See shared.networks.linkedin.finding."""
        channel = self._channel(account)
        token = access_token(account)
        author = self._author(account, channel)
        sent = self._sent.expected(
            idempotency_key,
            attempt.draft,
            attempt.attempted_at,
            lambda draft, sent_at: Sent.of(author, draft, sent_at),
        )
        return self._finder.find(token, sent, attempt.last_attempted_at, attempt.published)

    # -- Reading, changing and removing posts -----------------------------------------------------------

    def fetch_engagement(
        self, account: Account, external_ids: Sequence[str]
    ) -> Mapping[str, Engagement | PostGone]:
        channel = self._channel(account)
        posts = [urn for urn in external_ids if POST_URN.match(urn)]
        return fetch_counts(self._api, access_token(account), posts, channel.organization)

    def fetch_audience(self, account: Account) -> Audience:
        """A page's followers (networkSizes); LinkedIn's API tells a member's to no app but its own."""
        channel = self._channel(account)
        if channel.organization is None:
            return Audience()
        followers = page_followers(self._api, access_token(account), channel.organization)
        return Audience(followers=followers, raw={"firstDegreeSize": followers})

    def edit(self, account: Account, external_id: str, draft: Draft) -> PublishedPart:
        """The post's new commentary (Posts API partial update; its images stay as they are)."""
        refuse_before_sending(draft_problems(Draft(text=draft.text)), network="LinkedIn", what="text")
        response = self._post_call(
            "POST",
            account,
            external_id,
            write=True,
            headers={"X-RestLi-Method": "PARTIAL_UPDATE"},
            json={"patch": {"$set": {"commentary": commentary(draft.text)}}},
        )
        self._api.check(response, write=True)
        return post_part(external_id)

    def reads_as(self, account: Account, external_id: str, draft: Draft) -> bool:
        response = self._post_call("GET", account, external_id)
        post = self._api.calls.answer(response, what=WHAT)
        return post.get("commentary") == commentary(draft.text)

    def delete(self, account: Account, external_id: str) -> None:
        """A post (DELETE /rest/posts/{urn}) or a first comment (DELETE …/comments/{id}?actor=…)."""
        comment = COMMENT_URN.match(external_id)
        if comment is None:
            response = self._post_call("DELETE", account, external_id)
        else:
            author = self._author(account, self._channel(account))
            parent, comment_id = comment.groups()
            response = self._api.send(
                "DELETE",
                f"/rest/socialActions/{encoded(parent)}/comments/{comment_id}?actor={encoded(author)}",
                access_token(account),
            )
            if response.status_code in (404, 410):
                raise PostGone(f"LinkedIn: the comment {external_id} is gone")
        self._api.check(response)

    def _post_call(self, method: str, account: Account, urn: str, **request: Any) -> httpx.Response:
        if not POST_URN.match(urn):
            raise Rejected(f"LinkedIn: {urn!r} is not a post's URN")
        response = self._api.send(method, f"/rest/posts/{encoded(urn)}", access_token(account), **request)
        if response.status_code in (404, 410):
            raise PostGone(f"LinkedIn: the post {urn} does not exist (any more)")
        return response

    def verify(self, account: Account) -> Profile:
        """Who the token is (OpenID userinfo), and for a page, the page (GET /rest/organizations/{id})."""
        channel = self._channel(account)
        token = access_token(account)
        me = self._api.get("/v2/userinfo", token)
        with reading(WHAT, write=False):
            member = f"urn:li:person:{required_text(me['sub'])}"
            name = me.get("name") if isinstance(me.get("name"), str) else None
        self._remember_member(token, member)
        if channel.organization is None:
            return storable_profile(Profile(handle=member, display_name=name), what=WHAT)
        organization_id = channel.organization.rsplit(":", 1)[-1]
        page = self._api.get(f"/rest/organizations/{organization_id}", token)
        with reading(WHAT, write=False):
            vanity = page.get("vanityName")
            handle = vanity if isinstance(vanity, str) and vanity else channel.organization
            return storable_profile(
                Profile(
                    handle=handle,
                    display_name=page.get("localizedName") or None,
                    url=f"https://www.linkedin.com/company/{vanity}/" if handle == vanity else None,
                ),
                what=WHAT,
            )

    # -- Connecting and renewing (shared.networks.linkedin.oauth) ---------------------------------------

    def begin_authorization(
        self, settings: Mapping[str, Any], *, redirect_uri: str, state: str, code_challenge: str
    ) -> AuthorizationStart:
        """LinkedIn's consent page; the challenge is not sent (no PKCE for standard apps: see oauth)."""
        return self._authorizations.begin(self._settings(settings), redirect_uri=redirect_uri, state=state)

    def complete_authorization(
        self,
        settings: Mapping[str, Any],
        app_credentials: Mapping[str, Any],
        *,
        code: str,
        redirect_uri: str,
        code_verifier: str,
    ) -> dict[str, Any]:
        self._settings(settings)
        return self._authorizations.complete(code=code, redirect_uri=redirect_uri, now=self._clock())

    def expires_at(self, credentials: Mapping[str, Any]) -> datetime | None:
        return stored_expiry(credentials)

    def refresh_credentials(self, account: Account) -> dict[str, Any]:
        return self._authorizations.refresh(account.credentials, self._clock())

    # -- Who posts ---------------------------------------------------------------------------------------

    def _author(self, account: Account, channel: ChannelSettings) -> str:
        """The page's URN, or the member's: kept at connect, else asked once per token (OpenID userinfo)."""
        if channel.organization is not None:
            return channel.organization
        kept = account.credentials.get("member_urn")
        if isinstance(kept, str) and kept.startswith("urn:li:person:"):
            return kept
        token = access_token(account)
        with self._lock:
            known = self._members.get(_fingerprint(token))
        if known is not None:
            return known
        me = self._api.get("/v2/userinfo", token)
        with reading(WHAT, write=False):
            member = f"urn:li:person:{required_text(me['sub'])}"
        self._remember_member(token, member)
        return member

    def _remember_member(self, token: str, member: str) -> None:
        with self._lock:
            if len(self._members) > 10_000:
                self._members.clear()
            self._members[_fingerprint(token)] = member

    def _settings(self, settings: Mapping[str, Any]) -> ChannelSettings:
        channel, problems = parse_settings(settings)
        if channel is None:
            raise Rejected("the LinkedIn channel's settings are not usable: " + "; ".join(problems))
        return channel

    def _channel(self, account: Account) -> ChannelSettings:
        return self._settings(account.settings)


def _fingerprint(token: str) -> str:
    """A token as a key of this process's memory, which need not hold the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()
