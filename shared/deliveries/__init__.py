"""Deliveries: one post on one channel, with its own state, due time and attempts.

The delivery state machine. Every transition is a conditional UPDATE (compare-and-set).

- scheduled or retry_wait, once due → enqueued (a scheduler's claim, with a lease and a claim number);
  if it comes due too long after its time → missed (claiming).
- enqueued → publishing (an attempt row committed before the network call); if the message is lost,
  the lease runs out and it is claimed again under a new number, which makes the old message stale
  (claiming, attempts).
- publishing → published | failed (refused, or attempts spent) | retry_wait (transient) | scheduled
  (rate limited; or the credentials expired, and it waits for the channel to be reconnected) | unknown
  (the request may have reached the network; also when the attempt outlives its lease) (attempts).
- unknown → checked with the network → published | retry_wait (nothing there; or a thread found in part,
  to be finished from its last part); when the network's answer cannot settle it, at once, or when it
  does not answer for long → needs_review (reconciling).
- Each part a delivery makes on the network (the post, each reply of its thread) is recorded in
  delivery_parts as soon as the network confirms it, whatever happens next: a later attempt goes on from
  the last part, and a delivery with parts out there is never called failed — a person reviews it (parts).
- A person may retry (failed, missed, cancelled), republish or mark published (unknown, needs_review),
  or cancel (anything not yet out and not uncertain) (services).
- scheduled, unclaimed, nothing of it out → withdrawn (deleted): its post is being rescheduled, or was
  changed after approval by a member who may not publish and waits for an approver again (services).

Each UPDATE names the state (and the claim number) it expects, so two schedulers, a redelivered message
or a message for an old claim change nothing.
"""
