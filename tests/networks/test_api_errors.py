"""A network's errors as the API answers them: a refusal is the person's input to fix, anything else a
later try."""

from __future__ import annotations

import pytest

from shared.errors import InvalidInput, Unavailable
from shared.networks.ports import AuthExpired, OutcomeUnknown, RateLimited, Rejected, Transient
from shared.networks.toolkit.api_errors import as_api_errors


def asking(error: Exception) -> None:
    with as_api_errors(pointer="/code", refused="Mastodon refused the code", unreachable="Mastodon is away"):
        raise error


@pytest.mark.parametrize("refusal", [AuthExpired("invalid_grant"), Rejected("invalid_grant")])
def test_a_refusal_is_invalid_input_at_the_pointer_with_the_networks_words(refusal: Exception) -> None:
    with pytest.raises(InvalidInput) as raised:
        asking(refusal)

    [problem] = raised.value.problems
    assert (problem.pointer, problem.detail) == ("/code", "Mastodon refused the code: invalid_grant")


@pytest.mark.parametrize(
    "failure", [Transient("no connection"), OutcomeUnknown("no connection"), RateLimited("no connection")]
)
def test_any_other_network_error_is_unavailable(failure: Exception) -> None:
    with pytest.raises(Unavailable, match=r"^Mastodon is away: no connection$"):
        asking(failure)


def test_an_error_that_is_not_the_networks_passes_through() -> None:
    with pytest.raises(KeyError):
        asking(KeyError("a bug"))
