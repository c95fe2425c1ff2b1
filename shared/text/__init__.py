"""How each network measures a post's text, and the rich-text facets Bluesky needs alongside it.

Each network counts differently: Mastodon in grapheme clusters with every link at a fixed weight and
mentions without their domain, Bluesky in graphemes and in UTF-8 bytes at once, Discord in code points,
Slack in characters it leaves undefined. Network adapters measure with these before they post, so a text
that is too long is refused here, with a reason, rather than cut or rejected by the network. Each module
names the documents it follows.
"""

from __future__ import annotations

from shared.text.bluesky import (
    BLUESKY_MAX_BYTES,
    BLUESKY_MAX_GRAPHEMES,
    BLUESKY_TAG_MAX_BYTES,
    BLUESKY_TAG_MAX_GRAPHEMES,
    Facet,
    FacetKind,
    bluesky_length,
    detect_facets,
)
from shared.text.discord import DISCORD_LIMIT, discord_length
from shared.text.graphemes import grapheme_count
from shared.text.mastodon import (
    MASTODON_DEFAULT_LIMIT,
    MASTODON_DEFAULT_URL_WEIGHT,
    link_spans,
    mastodon_length,
)
from shared.text.slack import SLACK_TEXT_LIMIT, slack_length

__all__ = [
    "BLUESKY_MAX_BYTES",
    "BLUESKY_MAX_GRAPHEMES",
    "BLUESKY_TAG_MAX_BYTES",
    "BLUESKY_TAG_MAX_GRAPHEMES",
    "DISCORD_LIMIT",
    "MASTODON_DEFAULT_LIMIT",
    "MASTODON_DEFAULT_URL_WEIGHT",
    "SLACK_TEXT_LIMIT",
    "Facet",
    "FacetKind",
    "bluesky_length",
    "detect_facets",
    "discord_length",
    "grapheme_count",
    "link_spans",
    "mastodon_length",
    "slack_length",
]
