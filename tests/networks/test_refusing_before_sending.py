"""A draft the network would refuse is refused by Crier before anything is sent, with every problem named."""

from __future__ import annotations

import pytest

from shared.networks.ports import Rejected
from shared.networks.toolkit.parts import refuse_before_sending


def test_no_problem_lets_the_draft_go() -> None:
    refuse_before_sending([], network="Example")


def test_each_problem_is_named_in_the_refusal() -> None:
    with pytest.raises(Rejected) as refused:
        refuse_before_sending(["the text is empty", "3 attachments"], network="Example")
    assert str(refused.value) == "Example would refuse this draft: the text is empty; 3 attachments"


def test_an_edit_is_refused_for_its_text() -> None:
    with pytest.raises(Rejected, match=r"^Example would refuse this text: too long$"):
        refuse_before_sending(["too long"], network="Example", what="text")
