"""A Bluesky post's record key, fixed by the delivery before anything is written, and its addresses.

Each post's record key is computed from the delivery's idempotency key, so every attempt of one delivery
writes to the same path of the account's repository, and a path holds one record (see the package).
"""

from __future__ import annotations

import hashlib

from shared.networks.ports import Rejected
from shared.networks.toolkit.parts import part_key

POST = "app.bsky.feed.post"

_BASE32_SORTABLE = "234567abcdefghijklmnopqrstuvwxyz"
# 2000-01-01T00:00:00Z in microseconds: the start of the range our keys' timestamp part falls in.
_KEY_EPOCH_MICROS = 946_684_800_000_000
_KEY_SPAN_BITS = 48  # about 8.9 years: 2000 to 2008, before any clock-made post key on the network


def record_key(idempotency_key: str, item: int = 0) -> str:
    """The record key of a delivery's post (item 0) or of its thread reply `item`: a TID, the same every time.

    The app.bsky.feed.post lexicon declares `"key": "tid"`. The reference PDS checks only the record-key
    syntax today (its prepare.ts carries a TODO to check the lexicon's key type), so a free-form key such as
    `crier-<uuid>` would be taken now and might be refused later; a TID is valid under both rules.

    A TID is 64 bits: a zero, 53 bits of microseconds since 1970, 10 bits of "clock id", in 13 characters
    of base32-sortable. Crier's idempotency key (a random UUID) carries no time, and publish() is not told
    when the delivery was first attempted, so both parts come from SHA-256 of the key: 48 bits place the
    timestamp between 2000 and 2008 (no post made by a clock can collide with ours), 10 bits are the clock
    id. 58 bits of hash per account make a collision between two of one account's deliveries negligible
    (about one in 10^7 after a million posts). The timestamp part says nothing about when it was posted,
    which the TID spec warns readers not to trust anyway; `createdAt` holds the true time.
    """
    digest = int.from_bytes(
        hashlib.sha256(part_key(idempotency_key, item).encode("utf-8")).digest()[:8], "big"
    )
    micros = _KEY_EPOCH_MICROS + (digest >> (64 - _KEY_SPAN_BITS))
    value = (micros << 10) | (digest & 0x3FF)
    return "".join(_BASE32_SORTABLE[(value >> shift) & 0x1F] for shift in range(60, -1, -5))


def at_uri(did: str, rkey: str) -> str:
    return f"at://{did}/{POST}/{rkey}"


def split_uri(uri: str) -> tuple[str, str]:
    """The repository's DID and the record key of a post's at:// URI."""
    parts = uri.removeprefix("at://").split("/")
    if not uri.startswith("at://") or len(parts) != 3 or parts[1] != POST or not parts[2]:
        raise Rejected(f"{uri!r} is not the at:// URI of a Bluesky post")
    return parts[0], parts[2]


def post_url(uri: str) -> str:
    """The post's page on bsky.app. By DID, not handle: a handle may change, the DID stays."""
    did, rkey = split_uri(uri)
    return f"https://bsky.app/profile/{did}/post/{rkey}"
