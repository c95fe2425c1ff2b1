"""What one chaos run does: how many deliveries, how fast they fall due, how often a process dies."""

from __future__ import annotations

import argparse
import random
from collections.abc import Sequence
from dataclasses import dataclass

import bench.chaos


@dataclass(frozen=True)
class Plan:
    deliveries: int
    spread_seconds: float
    kill_every: float
    drain_timeout: float
    # The share of a post's targets that are Mastodon accounts; the rest are sandbox channels.
    mastodon_share: float
    # CRIER_MASTODON_SETTLE_SECONDS for the workers.
    mastodon_settle: float
    seed: int
    keep: bool


@dataclass(frozen=True)
class Defaults:
    deliveries: int
    spread_seconds: float
    kill_every: float
    drain_timeout: float


# The full run keeps the pace of 50 deliveries a second that 3,000 over 60 s had.
FULL = Defaults(deliveries=10_000, spread_seconds=200.0, kill_every=3.0, drain_timeout=120.0)
SHORT = Defaults(deliveries=300, spread_seconds=20.0, kill_every=2.0, drain_timeout=45.0)
MASTODON_SHARE = 0.3
# The fake stores a request the moment it arrives, so a post it does not have 15 s after the attempt is
# not coming; Mastodon's real two minutes would make the short run last minutes.
MASTODON_SETTLE_SECONDS = 15.0


def parse_plan(argv: Sequence[str] | None = None) -> Plan:
    parser = argparse.ArgumentParser(
        prog="python -m bench.chaos",
        description=bench.chaos.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--deliveries",
        type=int,
        help=f"deliveries to seed (default {FULL.deliveries}; --short {SHORT.deliveries})",
    )
    parser.add_argument(
        "--spread-seconds",
        type=float,
        help=f"due times spread over this long (default {FULL.spread_seconds:g}; "
        f"--short {SHORT.spread_seconds:g})",
    )
    parser.add_argument(
        "--kill-every",
        type=float,
        help=f"seconds between kills, jittered ±50%% (default {FULL.kill_every:g}; "
        f"--short {SHORT.kill_every:g})",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        help="after the last due time, give up once this long has passed with no delivery becoming final, "
        "unless one still waits for a retry's backoff or an uncertain Mastodon attempt's settle time "
        f"(default {FULL.drain_timeout:g}; --short {SHORT.drain_timeout:g})",
    )
    parser.add_argument(
        "--mastodon-share",
        type=float,
        default=MASTODON_SHARE,
        help=f"share of the targets on Mastodon accounts (default {MASTODON_SHARE:g})",
    )
    parser.add_argument(
        "--mastodon-settle",
        type=float,
        default=MASTODON_SETTLE_SECONDS,
        help="seconds after an uncertain attempt before an unfound Mastodon post counts as not made "
        f"(default {MASTODON_SETTLE_SECONDS:g}; Crier's own default is 120)",
    )
    parser.add_argument("--short", action="store_true", help="a run of about a minute, for the e2e test")
    parser.add_argument("--seed", type=int, help="random seed for the posts, the kills and the fake's losses")
    parser.add_argument(
        "--keep", action="store_true", help="keep the PostgreSQL cluster and the log folder afterwards"
    )
    args = parser.parse_args(argv)
    defaults = SHORT if args.short else FULL
    deliveries = defaults.deliveries if args.deliveries is None else args.deliveries
    spread = defaults.spread_seconds if args.spread_seconds is None else args.spread_seconds
    kill_every = defaults.kill_every if args.kill_every is None else args.kill_every
    drain = defaults.drain_timeout if args.drain_timeout is None else args.drain_timeout
    if deliveries < 1 or spread <= 0 or kill_every <= 0 or drain < 0:
        parser.error(
            "--deliveries, --spread-seconds and --kill-every must be positive, --drain-timeout not negative"
        )
    if not 0 <= args.mastodon_share <= 1 or args.mastodon_settle < 0:
        parser.error("--mastodon-share must be between 0 and 1, --mastodon-settle not negative")
    return Plan(
        deliveries=int(deliveries),
        spread_seconds=float(spread),
        kill_every=float(kill_every),
        drain_timeout=float(drain),
        mastodon_share=args.mastodon_share,
        mastodon_settle=args.mastodon_settle,
        seed=args.seed if args.seed is not None else random.randrange(2**32),
        keep=args.keep,
    )
