"""The generic webhook: Crier POSTs each post, signed, to a URL of the channel owner's choosing.

The contract is Crier's own (there is no network to follow), written for receivers to implement:

- `POST <url>` with a JSON body `{"id", "text", "thread", "media", "options", "created_at"}`. `id` is the
  delivery's idempotency key, the same on every attempt, so a receiver can drop a repeat; `media` lists each
  item's type, size, SHA-256 and description, never its bytes; `created_at` is when this request was made
  (UTC, ISO 8601), so a receiver may refuse stale replays.
- `X-Crier-Signature: sha256=<hex>`: HMAC-SHA256 of the exact body bytes with the channel's secret.
  `X-Crier-Timestamp: <unix seconds>` is `created_at` again, for receivers that refuse stale requests
  (say, older than five minutes) before parsing the body; it is signed through the body's `created_at`.
  `Idempotency-Key: <id>` repeats the key for receivers that dedupe on headers.
- A 2xx answer means published. A JSON body with `"id"` (and `"url"`) names the post; otherwise its id is
  the idempotency key. 401 means the receiver no longer accepts the secret; 408 means try again, 429 try
  again after its Retry-After; any other 3xx or 4xx is a refusal. A 5xx, or no answer once the request was
  sent, leaves it unknown whether the receiver took the post: Crier cannot ask, so a person decides (a
  receiver that drops a repeated `id` makes their "republish" harmless).

"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from shared.config import Settings
from shared.networks.outbound import DEFAULT_TIMEOUT, AddressPolicy, Outbound, address_problem, readable_url
from shared.networks.ports import (
    Account,
    AuthExpired,
    Draft,
    NetworkInfo,
    Profile,
    PublishedPart,
    PublishedPost,
    Rejected,
    TextPreview,
)
from shared.networks.toolkit.answers import refusal
from shared.networks.toolkit.calls import transport_failure
from shared.networks.toolkit.settings import LEGACY_LOOPBACK_SETTING
from shared.networks.toolkit.write_only import WriteOnly

SIGNATURE_HEADER = "X-Crier-Signature"
TIMESTAMP_HEADER = "X-Crier-Timestamp"
MIN_SECRET_LENGTH = 16


def signature(secret: str, body: bytes) -> str:
    """The X-Crier-Signature value for a body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookNetwork(WriteOnly):
    """The `webhook` network's adapter."""

    cannot_look_up = "Crier's webhook contract has no lookup"
    info = NetworkInfo(
        name="webhook",
        display_name="Webhook",
        # No limit of its own: a channel may set `max_length`, which preview and publish apply.
        text_limit=None,
        text_unit="characters (Unicode code points)",
        metrics=(),
        supports_threads=True,
        credential_keys=("secret",),
        # The receiver is anyone's code; Crier's contract has no lookup, so an uncertain attempt goes to a
        # person. A receiver that dedupes on `id` makes their "republish" harmless.
        can_find_published=False,
    )

    # `allow_insecure_loopback`, which older channels carry, is read and ignored (LEGACY_LOOPBACK_SETTING).
    SETTINGS = ("url", "max_length", LEGACY_LOOPBACK_SETTING)

    def __init__(self, outbound: Outbound | None = None, timeout: httpx.Timeout = DEFAULT_TIMEOUT) -> None:
        self._outbound = outbound or Outbound()
        self._http = self._outbound.client(timeout)

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookNetwork:
        return cls(Outbound.from_settings(settings))

    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        problems = [f"unknown option {key!r}" for key in settings if key not in self.SETTINGS]
        url = settings.get("url")
        if not isinstance(url, str) or not url:
            problems.append("url is required: where Crier sends each post")
        else:
            problems += _url_problems(url, self._outbound.policy)
        if "max_length" in settings:
            limit = settings["max_length"]
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                problems.append("max_length must be a whole number of at least 1")
        return problems

    def check_credentials(self, credentials: Mapping[str, Any]) -> list[str]:
        """Problems with the signing secret's shape."""
        secret = credentials.get("secret")
        if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
            return [
                f"secret must be at least {MIN_SECRET_LENGTH} characters, so its signatures cannot be guessed"
            ]
        return []

    def validate(self, draft: Draft) -> list[str]:
        # The channel's max_length is not known here (validate sees only the draft): preview and publish
        # apply it.
        return [problem for text in (draft.text, *draft.thread) for problem in _text_problems(text, None)]

    def preview(self, account: Account, draft: Draft) -> list[TextPreview]:
        limit = _max_length(account.settings)
        return [
            TextPreview(text=text, length=len(text), limit=limit, problems=tuple(_text_problems(text, limit)))
            for text in (draft.text, *draft.thread)
        ]

    def publish(
        self,
        account: Account,
        draft: Draft,
        idempotency_key: str,
        *,
        published: Sequence[PublishedPart] = (),
    ) -> PublishedPost:
        url, secret = self._endpoint(account)
        problems = [problem for preview in self.preview(account, draft) for problem in preview.problems]
        problems += self.check_settings(account.settings)
        if problems:
            raise Rejected("Webhook: not sent: " + "; ".join(problems))
        sent_at = datetime.now(UTC)
        body = json.dumps(
            {
                "id": idempotency_key,
                "text": draft.text,
                "thread": list(draft.thread),
                "media": [item.summary() for item in draft.media],
                "options": dict(draft.options),
                "created_at": sent_at.isoformat(),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
            SIGNATURE_HEADER: signature(secret, body),
            TIMESTAMP_HEADER: str(int(sent_at.timestamp())),
        }
        try:
            response = self._http.post(url, content=body, headers=headers)
        except httpx.TransportError as error:
            raise transport_failure(error, what="Webhook", secrets=[secret]) from None
        return self._published(response, idempotency_key, secret)

    def delete(self, account: Account, external_id: str) -> None:
        raise Rejected("Webhook: Crier's webhook contract has no delete; remove the post at the receiver.")

    def verify(self, account: Account) -> Profile:
        # The contract has no read-only call to try the secret with; the first post proves it (a receiver
        # that no longer accepts it answers 401, and the channel asks to be reconnected).
        url, _ = self._endpoint(account)
        return Profile(handle=account.handle, display_name=urlsplit(url).hostname)

    def _endpoint(self, account: Account) -> tuple[str, str]:
        secret = account.credentials.get("secret")
        if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
            raise AuthExpired(f"Webhook: the signing secret must be at least {MIN_SECRET_LENGTH} characters.")
        url = account.settings.get("url")
        if not isinstance(url, str) or _url_problems(url, self._outbound.policy):
            raise Rejected(
                "Webhook: the channel's url is missing or not allowed; fix the channel's settings."
            )
        return url, secret

    def _published(self, response: httpx.Response, idempotency_key: str, secret: str) -> PublishedPost:
        status = response.status_code
        if 200 <= status < 300:
            external_id, url = idempotency_key, ""
            try:
                answer = response.json()
            except ValueError:
                answer = None
            if isinstance(answer, dict):
                if isinstance(answer.get("id"), str | int) and not isinstance(answer.get("id"), bool):
                    external_id = str(answer["id"])
                if isinstance(answer.get("url"), str):
                    url = answer["url"]
            return PublishedPost(external_id=external_id, url=url)
        raise refusal(response, what="Webhook receiver", write=True, secrets=[secret])


def _url_problems(url: str, policy: AddressPolicy) -> list[str]:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return ["url is not a valid URL"]
    if not readable_url(url):
        return ["url is not a valid URL"]
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ["url must be an absolute https URL with a host"]
    if parts.username or parts.password:
        return ["url must not carry a user name or password: the signature authenticates Crier"]
    problem = address_problem(parts.scheme, parts.hostname, policy, secret="the signed post")
    return [f"url {problem}"] if problem else []


def _text_problems(text: str, limit: int | None) -> list[str]:
    if not text.strip():
        return ["the text is empty"]
    if limit and len(text) > limit:
        return [f"the text is {len(text)} characters long; this webhook takes at most {limit}"]
    return []


def _max_length(settings: Mapping[str, Any]) -> int | None:
    limit = settings.get("max_length")
    if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
        return limit
    return None
