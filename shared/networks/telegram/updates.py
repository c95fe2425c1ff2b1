"""The bot's update queue: one per bot, read by the inbox and by the reaction counts.

Telegram keeps a bot's updates for 24 hours, until a getUpdates call confirms them by asking with an
`offset` past their `update_id`, or with a negative offset, which keeps only the latest and forgets the
rest. The queue is the bot's, not a chat's: confirming drops an update for every reader of that bot. Two
consequences Crier lives with:
- a bot serves one Crier channel: the inbox of one channel confirms every update of the bot, so another
  channel reading the same bot would lose its own (a channel's comments, its messages);
- the inbox confirms the reaction updates too: their counts come back with the page it read
  (InboxPage.engagement, kept by Crier as a metrics reading), and fetch_engagement sees those still
  pending.

`allowed_updates` is remembered by Telegram until the next call that names it: every reader asks for the
same list, so that none turns off what another reads.
"""

from __future__ import annotations

# "message": comments in the discussion group, messages in groups, private messages to the bot;
# "message_reaction_count": reactions to the channel's posts (sent only when asked for by name).
ALLOWED_UPDATES = ["message", "message_reaction_count"]
# getUpdates answers at most 100 updates a call.
UPDATES_LIMIT = 100
