"""One rule for every text a request carries: no NUL characters.

PostgreSQL cannot store U+0000 in text or JSONB (SQLite can), and no network takes it in a post, so a
request carrying one is refused up front, with the field it is in, instead of failing at the database.
"""

from __future__ import annotations

from collections.abc import Iterator

from flask import request

from services.api.problems import json_pointer_token
from shared.errors import InvalidInput, Problem

NUL = "\x00"


def refuse_nul_characters() -> None:
    """A before-request hook on the API (/v1): 422 naming each field or parameter holding a NUL character.

    The pages outside /v1 (a short link's redirect, the OAuth callback) answer in their own way and store
    none of what they are sent. Form fields are left to their schemas: reading a form here would read an
    upload's whole body before its size limit applies.
    """
    if not request.path.startswith("/v1/"):
        return
    problems = [
        Problem(f"/{json_pointer_token(name)}", "Text may not contain NUL (U+0000) characters.")
        for name, value in request.args.items(multi=True)
        if NUL in name or NUL in value
    ]
    if request.is_json:
        body = request.get_json(silent=True)
        problems += [
            Problem(pointer, "Text may not contain NUL (U+0000) characters.")
            for pointer in _nul_pointers(body, "")
        ]
    if problems:
        raise InvalidInput(problems)


def _nul_pointers(value: object, pointer: str) -> Iterator[str]:
    if isinstance(value, str):
        if NUL in value:
            yield pointer or "/"
    elif isinstance(value, dict):
        for key, item in value.items():
            here = f"{pointer}/{json_pointer_token(str(key))}"
            if NUL in str(key):
                yield here
            yield from _nul_pointers(item, here)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_pointers(item, f"{pointer}/{index}")
