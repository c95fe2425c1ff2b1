"""What networks Crier can post to but not read back from (incoming webhooks) answer alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from shared.networks.ports import Account, CannotTell, Engagement, NetworkInfo, PostGone, PublishedPost
from shared.networks.toolkit.parts import Attempt, FindsPublished


class WriteOnly(FindsPublished):
    """Mixed into an adapter that cannot look a post up or read its counts.

    Its NetworkInfo says can_find_published=False, so an uncertain delivery goes to a person; should anything
    ask anyway, the answer is "unknown", never "not there", which would have Crier send it again.
    """

    info: NetworkInfo
    # Why a person must check, in the network's words: "an incoming webhook cannot read the channel".
    cannot_look_up: str

    def find_made(self, account: Account, idempotency_key: str, attempt: Attempt) -> PublishedPost | None:
        raise CannotTell(f"{self.info.display_name}: {self.cannot_look_up}; a person must check.")

    def fetch_engagement(
        self, account: Account, external_ids: Sequence[str]
    ) -> Mapping[str, Engagement | PostGone]:
        return {}
