"""A network's errors, as the API answers the person who asked it something (to connect an account, to
authorize Crier): the network refusing what they gave is their input to fix; anything else, a later try."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from shared.errors import InvalidInput, Problem, Unavailable
from shared.networks.ports import AuthExpired, NetworkError, NetworkInfo, Rejected


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


@contextmanager
def network_asked(network: NetworkInfo, *, to: str, refused: str, pointer: str) -> Iterator[None]:
    """as_api_errors, the network named first: "<network> refused <refused>: …" at `pointer`, or
    "<network> could not be reached to <to>: …"."""
    name = network.display_name
    with as_api_errors(
        pointer=pointer,
        refused=f"{name} refused {refused}",
        unreachable=f"{name} could not be reached to {to}",
    ):
        yield
