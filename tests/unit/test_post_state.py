"""A post's state is derived from its deliveries, and says plainly when a person must look."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.deliveries.models import Delivery, DeliveryState
from shared.posts.models import Post, PostStage, PostState
from shared.workflow.states import post_state

S = DeliveryState


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([S.SCHEDULED, S.PUBLISHED], PostState.SCHEDULED),
        ([S.RETRY_WAIT, S.PUBLISHED], PostState.SCHEDULED),
        ([S.UNKNOWN, S.PUBLISHED], PostState.SCHEDULED),
        ([S.NEEDS_REVIEW, S.SCHEDULED], PostState.NEEDS_ATTENTION),
        ([S.NEEDS_REVIEW, S.PUBLISHED], PostState.NEEDS_ATTENTION),
        ([S.PUBLISHED, S.PUBLISHED], PostState.PUBLISHED),
        ([S.PUBLISHED, S.MISSED], PostState.PARTIALLY_PUBLISHED),
        ([S.PUBLISHED, S.FAILED], PostState.PARTIALLY_PUBLISHED),
        ([S.FAILED, S.MISSED], PostState.FAILED),
        ([S.CANCELLED, S.FAILED], PostState.FAILED),
        ([S.CANCELLED, S.CANCELLED], PostState.CANCELLED),
    ],
)
def test_a_posts_state_follows_from_its_deliveries(states: list[DeliveryState], expected: PostState):
    post = Post(text="t", stage=PostStage.SCHEDULED, deliveries=[Delivery(state=state) for state in states])

    assert post_state(post) is expected


@pytest.mark.parametrize(
    "stage", [PostStage.DRAFT, PostStage.PENDING_APPROVAL, PostStage.REJECTED, PostStage.EXPIRED]
)
def test_before_it_is_scheduled_a_posts_state_is_its_stage(stage: PostStage) -> None:
    assert post_state(Post(text="t", stage=stage, deliveries=[])).value == stage.value


def test_a_series_with_occurrences_to_come_is_scheduled_though_every_made_one_went_out() -> None:
    post = Post(
        text="t",
        stage=PostStage.SCHEDULED,
        next_occurrence_at=datetime(2027, 1, 1, tzinfo=UTC),
        deliveries=[Delivery(state=DeliveryState.PUBLISHED)],
    )

    assert post_state(post) is PostState.SCHEDULED


def test_every_delivery_state_is_either_in_progress_or_final():
    assert DeliveryState.in_progress() | DeliveryState.final() == set(DeliveryState)
    assert not DeliveryState.in_progress() & DeliveryState.final()
