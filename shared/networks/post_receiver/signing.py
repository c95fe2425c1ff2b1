"""How Crier signs what it POSTs to a receiver: HMAC-SHA256 of the exact body with the shared secret.

The workspace webhooks (shared/notifications) sign their messages the same way, so a receiver checks both
with one function.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Crier-Signature"
TIMESTAMP_HEADER = "X-Crier-Timestamp"


def signature(secret: str, body: bytes) -> str:
    """The X-Crier-Signature value for a body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
