"""A Slack message's length against the point past which Slack truncates its `text`.

Documents followed:
- "Truncating really long messages", https://api.slack.com/changelog/2018-04-truncating-really-long-messages
  — since August 2018 Slack truncates the `text` of a message longer than 40,000 characters, still posts it,
  and answers with the warning `message_truncated`. This holds for every way of posting: chat.postMessage,
  chat.postEphemeral, interactive-message and slash-command response URLs, and incoming webhooks. Slack may
  also break a long message into several, and asks for messages well under the limit.
- chat.postMessage, https://docs.slack.dev/reference/methods/chat.postMessage — the method the limit is
  stated against.

Slack does not say what it counts as a character. This module counts UTF-16 code units, which is never less
than the count of code points, so a text within the limit here is within it whichever of the two Slack
means; the two differ only by the characters outside the Basic Multilingual Plane, such as most emoji.
"""

from __future__ import annotations

SLACK_TEXT_LIMIT = 40_000


def slack_length(text: str) -> int:
    """The text's length in UTF-16 code units, the larger of the counts Slack's 40,000 could mean."""
    return len(text.encode("utf-16-le")) // 2
