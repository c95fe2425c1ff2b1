"""What a request may carry: text Crier can keep, and JSON no parser chokes on.

A JSON body is read once here, before the views' schemas read it, and refused when it holds what would
otherwise fail deep inside (a 500) instead of being answered: nesting deeper than any request needs (the
parser and every walk over the document recurse), numbers no column stores (and 5,000-digit ones, which
Python refuses to convert), NaN and Infinity (not JSON, though Python's parser takes them), and text with a
NUL character or a lone surrogate (shared.text.storable). The body's size is bounded before this reads it
(services.api.request_limits).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flask import request
from flask_smorest import abort

from services.api.problems import json_pointer_token
from shared.errors import InvalidInput, Problem
from shared.text.storable import printable, why_unstorable

# Deeper than any request of the API (a post's variants' thread is 4 levels), far from the interpreter's
# recursion limit, which a walk over the document would otherwise reach.
MAX_JSON_DEPTH = 32
# What every database column and JSON field Crier keeps takes: a signed 64-bit integer.
LARGEST_INTEGER = 2**63 - 1
# Enough for any 64-bit integer (19 digits and a sign); a longer literal is refused unread.
LONGEST_INTEGER_LITERAL = 20
NUMBER_REFUSED = f"A number must be finite and between {-LARGEST_INTEGER - 1} and {LARGEST_INTEGER}."


class UnreadableJSON(ValueError):
    """A JSON document Crier refuses to read, though it may be well formed."""


@dataclass(frozen=True)
class OutOfRange:
    """A number too large to keep, in place of its value: refused with its pointer."""

    literal: str


def check_text_input() -> None:
    """A before-request hook on the API (/v1): 400 or 422 for what a request may not carry, by field.

    The pages outside /v1 (a short link's redirect, the OAuth callback) answer in their own way and store
    none of what they are sent. Form fields are left to their schemas: reading a form here would read an
    upload's whole body before the view's own checks.
    """
    if not request.path.startswith("/v1/"):
        return
    problems = []
    for name, value in request.args.items(multi=True):
        reason = why_unstorable(name) or why_unstorable(value)
        if reason is not None:
            problems.append(Problem(f"/{json_pointer_token(name)}", reason))
    if request.is_json:
        try:
            body = read_json(request.get_data(cache=True))
        except UnreadableJSON as unreadable:
            # The same 400 as a body that is not JSON, with what is refused in it.
            abort(400, messages={"json": [f"Invalid JSON body: {unreadable}."]})
        except ValueError:
            # Not JSON at all: the view's schema says so, as it says what else is wrong.
            body = None
        problems += [Problem(pointer or "/", reason) for pointer, reason in _refused_values(body, "")]
    if problems:
        raise InvalidInput(problems)


def read_json(data: bytes | str) -> Any:
    """The JSON document, with numbers too large to keep as OutOfRange; UnreadableJSON for what is refused.

    A document that is not JSON raises json.JSONDecodeError, as json.loads does.
    """
    try:
        document = json.loads(data, parse_int=_integer, parse_float=_decimal, parse_constant=_refuse_constant)
    except RecursionError as error:
        raise UnreadableJSON(f"it nests deeper than {MAX_JSON_DEPTH} levels") from error
    if _deeper_than(document, MAX_JSON_DEPTH):
        raise UnreadableJSON(f"it nests deeper than {MAX_JSON_DEPTH} levels")
    return document


def _integer(literal: str) -> int | OutOfRange:
    if len(literal) > LONGEST_INTEGER_LITERAL:
        return OutOfRange(literal)
    value = int(literal)
    return value if -LARGEST_INTEGER - 1 <= value <= LARGEST_INTEGER else OutOfRange(literal)


def _decimal(literal: str) -> float | OutOfRange:
    value = float(literal)
    return value if math.isfinite(value) else OutOfRange(literal)


def _refuse_constant(name: str) -> Any:
    raise UnreadableJSON(f"{name} is not a JSON value")


def _deeper_than(document: Any, depth: int) -> bool:
    """Whether the document nests more than `depth` levels; without recursion, so at any depth."""
    levels = [(document, 1)]
    while levels:
        value, level = levels.pop()
        if isinstance(value, dict | list):
            if level > depth:
                return True
            levels.extend(
                (item, level + 1) for item in (value.values() if isinstance(value, dict) else value)
            )
    return False


def _refused_values(value: object, pointer: str) -> Iterator[tuple[str, str]]:
    """(pointer, why) for each text Crier cannot keep and each number out of range; at most MAX_JSON_DEPTH
    levels deep, which read_json has checked."""
    if isinstance(value, str):
        reason = why_unstorable(value)
        if reason is not None:
            yield pointer, reason
    elif isinstance(value, OutOfRange):
        yield pointer, NUMBER_REFUSED
    elif isinstance(value, dict):
        for key, item in value.items():
            reason = why_unstorable(key)
            # A key that is not text cannot be said back as it is: the answer must encode as UTF-8.
            here = f"{pointer}/{json_pointer_token(printable(key))}"
            if reason is not None:
                yield here, reason
            yield from _refused_values(item, here)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _refused_values(item, f"{pointer}/{index}")
