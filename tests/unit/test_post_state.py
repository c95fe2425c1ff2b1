"""A post's state is derived from its deliveries, and says plainly when a person must look."""

from __future__ import annotations

import pytest

from shared.deliveries.models import Delivery, DeliveryState
from shared.posts.models import Post, PostState


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([DeliveryState.SCHEDULED, DeliveryState.PUBLISHED], PostState.SCHEDULED),
        ([DeliveryState.PUBLISHING, DeliveryState.UNKNOWN], PostState.SCHEDULED),
        ([DeliveryState.UNKNOWN, DeliveryState.PUBLISHED], PostState.NEEDS_ATTENTION),
        ([DeliveryState.PUBLISHED, DeliveryState.PUBLISHED], PostState.PUBLISHED),
        ([DeliveryState.FAILED, DeliveryState.FAILED], PostState.FAILED),
        ([DeliveryState.PUBLISHED, DeliveryState.FAILED], PostState.PARTIALLY_PUBLISHED),
    ],
)
def test_a_posts_state_follows_from_its_deliveries(states: list[DeliveryState], expected: PostState):
    post = Post(text="t", deliveries=[Delivery(state=state) for state in states])

    assert post.state is expected
