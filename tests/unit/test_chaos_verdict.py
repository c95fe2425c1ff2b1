"""The chaos run's judge: each part of each published delivery stored once, on its network, in its chain."""

from __future__ import annotations

from bench.chaos.verdict import DeliveryRecord, StoredPart, verify


def thread(delivery_id: str, network: str = "mastodon", replies: int = 2) -> list[StoredPart]:
    """The post and its replies as the network stores them, each answering the one before."""
    keys = [delivery_id, *(f"{delivery_id}:{n}" for n in range(1, replies + 1))]
    return [
        StoredPart(network, f"{delivery_id}-{n}", key, f"{delivery_id}-{n - 1}" if n else None)
        for n, key in enumerate(keys)
    ]


def published(delivery_id: str, network: str = "mastodon", replies: int = 2) -> DeliveryRecord:
    recorded = tuple(part.post_id for part in thread(delivery_id, network, replies))
    return DeliveryRecord(delivery_id, "published", network, replies, recorded)


def deliveries(*records: DeliveryRecord) -> dict[str, DeliveryRecord]:
    return {record.id: record for record in records}


def test_threads_stored_once_in_order_and_recorded_pass() -> None:
    verdict = verify(
        deliveries(published("a"), published("b", "sandbox", replies=0)),
        [*thread("a"), *thread("b", "sandbox", replies=0)],
    )

    assert verdict.passed, verdict.report
    assert (verdict.deliveries, verdict.parts) == (2, 4)


def test_a_reply_stored_twice_is_one_duplicate() -> None:
    stored = thread("a")
    verdict = verify(deliveries(published("a")), [*stored, StoredPart("mastodon", "again", "a:1", "a-0")])

    assert verdict.duplicates == 1
    assert not verdict.passed
    assert "a:1 x2 (published)" in verdict.report[0]


def test_a_published_thread_missing_a_reply_and_a_delivery_never_final_are_lost() -> None:
    stuck = DeliveryRecord("b", "unknown", "sandbox", 0, ())
    verdict = verify(deliveries(published("a"), stuck), thread("a")[:2])

    assert verdict.lost == 2
    assert any("still unknown: b" in line for line in verdict.report)
    assert any("parts missing from their network: a (a:2)" in line for line in verdict.report)


def test_a_part_on_another_network_is_lost_there_and_unaccounted_for_here() -> None:
    stored = [*thread("a")[:2], StoredPart("sandbox", "a-2", "a:2", "a-1")]
    verdict = verify(deliveries(published("a")), stored)

    assert (verdict.lost, verdict.mismatches) == (1, 1)


def test_a_reply_that_answers_the_wrong_part_breaks_the_chain() -> None:
    post, first, _ = thread("a")
    verdict = verify(deliveries(published("a")), [post, first, StoredPart("mastodon", "a-2", "a:2", "a-0")])

    assert verdict.mismatches == 1
    assert "do not answer the part before" in verdict.report[0]


def test_a_post_out_there_for_a_delivery_crier_calls_failed_is_a_mismatch() -> None:
    failed = DeliveryRecord("a", "failed", "mastodon", 0, ())
    verdict = verify(deliveries(failed), thread("a", replies=0))

    assert verdict.mismatches == 1
    assert (verdict.duplicates, verdict.lost) == (0, 0)


def test_parts_recorded_other_than_those_stored_are_a_mismatch() -> None:
    record = DeliveryRecord("a", "published", "mastodon", 0, ("elsewhere",))
    verdict = verify(deliveries(record), thread("a", replies=0))

    assert verdict.mismatches == 1
    assert "records ['elsewhere']" in verdict.report[0]


def test_a_needs_review_delivery_may_own_what_is_out_there() -> None:
    review = DeliveryRecord("a", "needs_review", "mastodon", 2, ())
    verdict = verify(deliveries(review), thread("a")[:1])

    assert verdict.passed, verdict.report
