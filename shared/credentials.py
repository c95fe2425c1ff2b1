"""Credentials sealed at rest with Fernet and opened only for the call that needs them.

Channels seal their credentials with it, and notifications their webhook endpoints' signing secrets: it
sits below both features. The composition root builds the one cipher a process uses.

CRIER_SECRET_KEY may hold several secrets separated by commas: the first seals, every one opens. To rotate,
put a new secret first and keep the old ones after it, run `crier credentials reseal` (every channel's
credentials sealed again with the new secret), then drop the old secrets. Each secret is stretched into a
Fernet key with HKDF, so any long random string serves.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared.config import Settings
from shared.networks.ports import Account, AuthExpired

HKDF_INFO = b"crier channel credentials v1"
EMBEDDED_SECRET_FILE = "secret_key"


class CredentialsUnreadable(AuthExpired):
    """Sealed credentials that none of the configured secrets opens (the secret changed or was lost).

    To every caller this is expired credentials: nothing was sent, and a person must reconnect the channel.
    """


def _fernet_key(secret: str) -> bytes:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(secret.encode())
    return base64.urlsafe_b64encode(derived)


class CredentialCipher:
    """Seals and opens credentials with the configured secrets."""

    def __init__(self, secrets: list[str]) -> None:
        if not secrets:
            raise ValueError("at least one secret is needed to seal credentials")
        self._fernet = MultiFernet([Fernet(_fernet_key(secret)) for secret in secrets])

    def seal(self, credentials: Mapping[str, Any]) -> bytes | None:
        if not credentials:
            return None
        return self._fernet.encrypt(json.dumps(dict(credentials)).encode())

    def open(self, sealed: bytes | None) -> dict[str, Any]:
        if sealed is None:
            return {}
        try:
            return dict(json.loads(self._fernet.decrypt(sealed)))
        except InvalidToken as error:
            raise CredentialsUnreadable(
                "The channel's credentials cannot be opened with the configured CRIER_SECRET_KEY; "
                "reconnect the channel, or restore the secret that sealed them."
            ) from error

    def reseal(self, sealed: bytes) -> bytes:
        """The same credentials sealed with the first (newest) secret."""
        return self._fernet.rotate(sealed)

    def open_into(
        self,
        account: Account,
        sealed: bytes | None,
        save: Callable[[Mapping[str, Any]], None] | None = None,
    ) -> Account:
        """The account with its credentials for one network call, and where renewed ones are kept."""
        return replace(account, credentials=self.open(sealed), save_credentials=save)


def cipher_from_settings(settings: Settings) -> CredentialCipher:
    return CredentialCipher(configured_secrets(settings))


def configured_secrets(settings: Settings) -> list[str]:
    """CRIER_SECRET_KEY's secrets, newest first; in the embedded mode without one, a secret kept in the
    data directory, made on first use, readable by this user only."""
    return settings.secret_keys or [embedded_secret(settings.data_dir / EMBEDDED_SECRET_FILE)]


def embedded_secret(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole under another name, then linked into place: when processes start together, one
        # link wins and every process reads the same complete secret.
        draft = path.with_name(f"{path.name}.{os.getpid()}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(base64.urlsafe_b64encode(os.urandom(32)).decode())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()
