"""A network's errors, as the API answers the person who asked it something (to connect an account, to
authorize Crier): the network refusing what they gave is their input to fix; anything else, a later try."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from shared.errors import InvalidInput, Problem, Unavailable
from shared.networks.ports import AuthExpired, NetworkError, Rejected


@contextmanager
def as_api_errors(*, pointer: str, refused: str, unreachable: str) -> Iterator[None]:
    """The network's errors inside, as the API's: a refusal (AuthExpired, Rejected) is InvalidInput at
    `pointer`, "<refused>: <what the network said>"; any other NetworkError is Unavailable,
    "<unreachable>: <what happened>", since asking again later may work."""
    try:
        yield
    except (AuthExpired, Rejected) as error:
        raise InvalidInput([Problem(pointer, f"{refused}: {error}")]) from error
    except NetworkError as error:
        raise Unavailable(f"{unreachable}: {error}") from error
