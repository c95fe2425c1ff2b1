"""The `webhook` network's adapter: each post, signed, to the channel's receiver (see the package)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from shared.config import Settings
from shared.networks.outbound import DEFAULT_TIMEOUT, AddressPolicy, Outbound, address_problem, split_url
from shared.networks.ports import (
    Account,
    AuthExpired,
    Draft,
    NetworkInfo,
    Profile,
    PublishedPost,
    Rejected,
    TextPreview,
)
from shared.networks.post_receiver.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature
from shared.networks.toolkit.calls import Calls
from shared.networks.toolkit.parts import InOneRequest, text_previews
from shared.networks.toolkit.settings import LEGACY_LOOPBACK_SETTING, unknown_options
from shared.networks.toolkit.write_only import WriteOnly

MIN_SECRET_LENGTH = 16


class PostReceiverNetwork(WriteOnly, InOneRequest):
    """The `webhook` network's adapter: one per process, for every channel's receiver."""

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
        self._calls = Calls(outbound or Outbound(), timeout)

    @classmethod
    def from_settings(cls, settings: Settings) -> PostReceiverNetwork:
        return cls(Outbound.from_settings(settings))

    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        problems = unknown_options(settings, self.SETTINGS)
        url = settings.get("url")
        if not isinstance(url, str) or not url:
            problems.append("url is required: where Crier sends each post")
        else:
            problems += _url_problems(url, self._calls.outbound.policy)
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
        return text_previews(
            draft, limit=limit, length=len, problems=lambda _, text: _text_problems(text, limit)
        )

    def publish_whole(self, account: Account, draft: Draft, idempotency_key: str) -> PublishedPost:
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
        response = self._calls.send(
            "POST", url, what="Webhook", write=True, secrets=[secret], content=body, headers=headers
        )
        self._calls.check(response, what="Webhook receiver", write=True, secrets=[secret])
        return _published(response, idempotency_key)

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
        if not isinstance(url, str) or _url_problems(url, self._calls.outbound.policy):
            raise Rejected(
                "Webhook: the channel's url is missing or not allowed; fix the channel's settings."
            )
        return url, secret


def _url_problems(url: str, policy: AddressPolicy) -> list[str]:
    parts = split_url(url)
    if parts is None:
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


def _published(response: httpx.Response, idempotency_key: str) -> PublishedPost:
    """The post a receiver's 2xx names: its JSON `id` (and `url`), else the delivery's key."""
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
