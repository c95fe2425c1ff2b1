"""Rate limits: per-key token buckets, so one busy network or account cannot starve the others.

The port is `ports.RateLimiter`. Its adapters keep the buckets in Redis (`redis`), shared by every host, or
in the database (`database`), the embedded mode's only shared store; CRIER_RATE_LIMITER chooses one at the
process's edge, in the composition root.
"""
