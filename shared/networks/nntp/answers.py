"""What a news server's replies mean for Crier, in one place: the ladder of docs/networks.md in NNTP's words.

RFC 3977 section 3.2 gives each reply a code; what matters for a retry is how far the exchange had gone
(the client's `Stage`). Only an answer that proves nothing was stored is retried blind:

- a certificate that does not prove the server's name → Rejected: a person fixes the channel;
- a connection never made, or one that broke, timed out or spoke garbage before the article's final dot
  was sent: the server cannot have the article → Transient;
- 400 (service temporarily unavailable) and, at the greeting, 502 (service unavailable) before the
  article was sent → Transient;
- 480 (authentication required), 481 (authentication failed or rejected), 482 (authentication commands
  out of sequence) → AuthExpired: a person gives the channel working credentials;
- 483 (encryption required), 440 (posting not permitted), 441 (posting failed: the server read the article
  and refused it) and any other refusal → Rejected;
- 441 saying the article is a duplicate (INN: "441 435 Duplicate", "441 437 Duplicate article"): the
  Message-ID, which Crier chose for this part, is already on the server → the part was posted;
- no reply after the final dot (a hang-up, a timeout, garbage), or a reply that is neither 240 nor 441 →
  OutcomeUnknown: STAT <message-id> settles it exactly.
"""

from __future__ import annotations

import re

from shared.networks.nntp.client import NntpFailure, Reply, Stage
from shared.networks.ports import AuthExpired, NetworkError, OutcomeUnknown, Rejected, Transient

POSTED = 240
POSTING_FAILED = 441
# RFC 3977's IHAVE/TAKETHIS refusals that INN quotes inside its 441 for an article it already has, and the
# words other servers use.
_DUPLICATE = re.compile(r"\b(435|437)\b|duplicate|already (have|exists|posted)", re.IGNORECASE)
_CREDENTIALS = (480, 481, 482)


def is_duplicate(reply: Reply) -> bool:
    """Whether a reply to POST says the server already has an article with this Message-ID."""
    return reply.code == POSTING_FAILED and bool(_DUPLICATE.search(reply.text))


def network_error(failure: NntpFailure, *, what: str = "Usenet") -> NetworkError:
    """The NetworkError an exchange's failure means (see the module)."""
    reply = failure.reply
    said = f"{what}: {failure.reason}" + (f": the server said {reply}" if reply else "")
    if failure.stage is Stage.SENT:
        if reply is not None and reply.code == POSTING_FAILED:
            return Rejected(said)
        if reply is not None and reply.code in _CREDENTIALS:
            return AuthExpired(said)
        return OutcomeUnknown(said + "; the server may have the article, and STAT will tell")
    if reply is None:
        return Rejected(said) if failure.lasting else Transient(said)
    if reply.code in _CREDENTIALS:
        return AuthExpired(said)
    if reply.code == 400 or (reply.code == 502 and failure.stage is Stage.SESSION):
        return Transient(said)
    if reply.code == 483:
        return Rejected(said + "; the channel's tls setting must allow encryption (starttls or implicit)")
    return Rejected(said)
