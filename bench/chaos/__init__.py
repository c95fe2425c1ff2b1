"""The chaos run: crash schedulers and workers, and kill the database and the broker, while posts fall due;
then prove that no post or thread reply was published twice and none was lost.

    .venv/bin/python -m bench.chaos [--deliveries 10000] [--spread-seconds 200] [--kill-every 3] [--short]
                                    [--mastodon-share 0.3] [--mastodon-settle 15] [--drain-timeout S]
                                    [--seed N] [--keep]

It starts a PostgreSQL cluster of its own (initdb into a temporary folder) and a redis-server of its own
(the broker), so it can kill both, and a fake Mastodon server in this process (tests/networks/mastodon/
fake.py) that the workers reach over HTTP. It seeds posts through the core, a fifth of them with
a thread of 2 or 3 replies, on sandbox channels that are slow, fail, lose replies and do NOT honour
idempotency keys, and on accounts of the Mastodon server, which ignores idempotency keys too and loses a
share of answers after storing (a proxy's 502 or 504, or a closed connection): a second publish of one
part really stores a second post. Two schedulers and two Celery workers run with the real command lines;
every few seconds one of them is killed with SIGKILL (its whole process group) and replaced; once
PostgreSQL is killed (the server and every backend) and started again, and once the broker is killed and
started again empty. When the last post has fallen due the killing stops, and the run waits for every
delivery to reach a final state. Then it compares the deliveries with what the two networks stored, part
by part: each part under its key, the delivery's id for the post and `<id>:<n>` for reply n.

The last line reads `deliveries=N parts=… published=… failed=… needs_review=… duplicates=0 lost=0
missed=… kill_cycles=… redis_restarts=… postgres_restarts=… seconds=…`. The exit status is 0 only with no
duplicate, nothing lost and no stored post that Crier does not account for.
"""
