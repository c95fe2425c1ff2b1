"""A Discord message's length, counted in the unit Discord's API checks `content` against.

Documents followed:
- Create Message and Execute Webhook, https://discord.com/developers/docs/resources/message#create-message
  and https://discord.com/developers/docs/resources/webhook#execute-webhook — `content` is "the message
  contents (up to 2000 characters)".
- Those pages do not say what a character is. Discord's staff answered it in discord/discord-api-docs issue
  #1315, https://github.com/discord/discord-api-docs/issues/1315 (January 2020): the API is written in
  Python 3 and measures length in Unicode code points, so `\\U0010FFFF \\uffff` is 3 characters. An emoji
  outside the Basic Multilingual Plane is therefore 1, not the 2 UTF-16 units a JavaScript `.length` gives,
  and a family joined by zero-width joiners is as many as its code points (👨‍👩‍👧‍👦 is 7).
"""

from __future__ import annotations

DISCORD_LIMIT = 2000


def discord_length(text: str) -> int:
    """The text's length in Unicode code points, the unit of Discord's 2000-character `content` limit."""
    return len(text)
