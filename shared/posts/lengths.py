"""How long a text Crier takes, whatever its networks allow.

Some networks set no limit (the generic webhook, a Mastodon server that raised its own), so without one of
Crier's a single request could make it store, count and send texts of any length. 100,000 characters is
more than any network Crier knows takes (Facebook's 63,206 is the longest), so no post a network would
publish is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.errors import Problem

MAX_TEXT_CHARACTERS = 100_000


def length_problems(texts: Iterable[tuple[str, object]]) -> list[Problem]:
    """A problem at each (pointer, value) whose value is a text over MAX_TEXT_CHARACTERS."""
    return [
        Problem(
            pointer, f"The text is {len(value):,} characters; Crier takes at most {MAX_TEXT_CHARACTERS:,}."
        )
        for pointer, value in texts
        if isinstance(value, str) and len(value) > MAX_TEXT_CHARACTERS
    ]


def draft_texts(
    pointer: str, text: str | None, thread: Iterable[str] | None, options: Mapping[str, Any]
) -> list[tuple[str, object]]:
    """A post's or a variant's texts by pointer under `pointer`: its text, each reply, each option."""
    texts: list[tuple[str, object]] = [(f"{pointer}/text", text)]
    texts += [(f"{pointer}/thread/{index}", item) for index, item in enumerate(thread or ())]
    for name, value in options.items():
        items = enumerate(value) if isinstance(value, list) else [(None, value)]
        token = str(name).replace("~", "~0").replace("/", "~1")  # a JSON pointer's token (RFC 6901)
        texts += [
            (f"{pointer}/options/{token}" + (f"/{index}" if index is not None else ""), item)
            for index, item in items
        ]
    return texts
