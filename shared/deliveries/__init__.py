"""Deliveries: one post on one channel, with its own state, due time and attempts.

This package is the only writer of delivery rows (and of their attempts, parts and changes): the
workflow (shared/workflow: posts scheduled, changed, cancelled, published now; channels disconnected),
imports and the metrics collector call the functions below. Every transition is a conditional
UPDATE (compare-and-set) that names the state, and where there is one the claim number, it expects, so
two schedulers, a redelivered message or a message for an old claim change nothing.

Made (a post is scheduled, or a series' occurrence comes near):
- → scheduled: creating.schedule_at (at the post's time), creating.schedule_in_queue (in each channel's
  next free slot, queueing.free_queue_slots; a post that shares the next slot moves the queued ones down
  one, queueing.share_next_slot), creating.add_imported (an import's posts at once).
- → scheduled, or missed when its time passed too long ago: creating.add_occurrence.

Claimed and published (the scheduler and the workers):
- scheduled or retry_wait, once due on an active channel → enqueued, with a lease and a new claim
  number: claiming.claim_due. Due too long after its time, nothing of it out → missed:
  claiming.mark_missed.
- enqueued whose lease ran out before an attempt began (a lost message) → enqueued under a new claim
  number, which makes the old message stale: claiming.reclaim_lost.
- enqueued → publishing, an attempt row committed before the network call: attempts.begin_attempts; or
  back to scheduled when Crier's own rate limit holds it: attempts.defer.
- publishing → published | failed (refused, or attempts spent) | retry_wait (transient) | scheduled
  (rate limited; or the credentials expired, and it waits for the channel to be reconnected) | unknown
  (the request may have reached the network) | needs_review (part of it is out, the rest refused or
  attempts spent): attempts.finish_attempts, which also settles an unknown one a late success answers.
- publishing whose lease ran out (the worker died, or hangs) → unknown: claiming.expire_stalled_attempts.
- unknown → checked with the network → published | retry_wait (nothing there; or a thread found in
  part, finished from its last part) | failed or needs_review (attempts spent) | needs_review (the answer
  cannot settle it, or no answer for long): reconciling.record_reconciliation; → needs_review at once
  when the network offers no check: reconciling.send_to_review.
- Each part a delivery makes on the network (the post, each reply of its thread) is recorded as soon as
  the network confirms it, whatever happens next: parts.record_parts. A later attempt goes on from the
  last part, and a delivery with parts out there is never called failed: a person reviews it.

A person's actions on one delivery:
- failed, missed or cancelled → scheduled, due now, its attempts renewed: services.retry_delivery.
- unknown or needs_review → scheduled, due now: services.republish_delivery; → published at the address
  the person gives: services.mark_published.
- scheduled, retry_wait or enqueued (services.CANCELLABLE) → cancelled: services.cancel_delivery.

What posts and channels do to theirs:
- the same states → cancelled, for a cancelled post or a disconnected channel: services.cancel_waiting.
- scheduled → scheduled, due now (a post published now): services.bring_forward.
- scheduled, unclaimed, nothing of it out → withdrawn (deleted), for a post being rescheduled or sent
  back for approval: services.withdraw_unclaimed.
- published → deleted, once a delete asked through Crier is done on the network: changes.mark_deleted
  (the changes themselves, delete and edit, are a state machine of their own in changes).
- when the metrics collector next reads a published delivery, and how often it has:
  metrics_due.reschedule_metrics, metrics_due.note_collections.
"""
