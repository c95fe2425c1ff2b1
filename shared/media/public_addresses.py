"""Public addresses of media: where a network that takes media only by URL (Instagram, Threads) fetches a
file of a delivery itself, without a token.

An address is `<CRIER_PUBLIC_URL>/public-media/<token>`, the token signed with CRIER_SECRET_KEY (HMAC-SHA256
through itsdangerous, with a salt of its own so no other signed value of Crier's passes for one). It names
the asset, its workspace and when it stops working, so it cannot be guessed, altered to name another file,
or used after it expires; a forged, altered, expired or unknown token reads as no token at all. Several
secrets are tried in turn, as CRIER_SECRET_KEY rotates: an address made before a rotation works until it
expires.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadData, URLSafeSerializer

PUBLIC_MEDIA_PATH = "/public-media/"
# Long enough for a network to fetch the file while it builds the post (Instagram keeps a container 24 h,
# but fetches at once), short enough that an address copied from a log is soon worth nothing.
DEFAULT_LIFETIME = timedelta(hours=1)
_SALT = "crier public media address v1"


@dataclass(frozen=True)
class NamedAsset:
    """What a valid token names: the asset and the workspace it belongs to."""

    workspace_id: uuid.UUID
    asset_id: uuid.UUID


class PublicAddresses:
    """Makes and reads the signed, expiring addresses of media files under the public URL."""

    def __init__(
        self,
        public_url: str,
        secrets: Sequence[str],
        *,
        lifetime: timedelta = DEFAULT_LIFETIME,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not secrets:
            raise ValueError("signing media addresses needs at least one secret")
        self.public_url = public_url.rstrip("/")
        self.lifetime = lifetime
        self._clock = clock
        # itsdangerous signs with the last key and accepts any; CRIER_SECRET_KEY lists the newest first.
        self._serializer = URLSafeSerializer(list(reversed(secrets)), salt=_SALT)

    def address_of(self, workspace_id: uuid.UUID, asset_id: uuid.UUID) -> str:
        """The asset's public address, working for `lifetime` from now."""
        expires = int((self._clock() + self.lifetime).timestamp())
        token = self._serializer.dumps([workspace_id.hex, asset_id.hex, expires])
        return f"{self.public_url}{PUBLIC_MEDIA_PATH}{token}"

    def asset_named(self, token: str) -> NamedAsset | None:
        """The asset a token names while it has not expired; None for any token that is not one of ours,
        was altered, or has expired (the caller never says which)."""
        try:
            payload = self._serializer.loads(token)
            workspace_hex, asset_hex, expires = payload
            named = NamedAsset(uuid.UUID(hex=workspace_hex), uuid.UUID(hex=asset_hex))
        except (BadData, ValueError, TypeError):
            return None
        if not isinstance(expires, int) or self._clock().timestamp() >= expires:
            return None
        # Unpadded base64 leaves spare bits in a signature's last character: a token with them changed
        # still verifies. Only the one spelling Crier made is taken, so that no altered token works at all.
        if token not in (self._spelling(payload, key) for key in self._serializer.secret_keys):
            return None
        return named

    def _spelling(self, payload: object, key: bytes) -> str:
        return URLSafeSerializer(key, salt=_SALT).dumps(payload)
