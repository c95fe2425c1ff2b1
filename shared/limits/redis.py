"""Token buckets in Redis, shared by every process and host that reaches the same server."""

from __future__ import annotations

import redis
from sqlalchemy.orm import Session, sessionmaker

from shared.config import Settings
from shared.limits.ports import Rate

# One script, so refill-and-take is atomic without a lock. The time is Redis's own, so hosts whose clocks
# disagree still see one bucket. Numbers go out through string.format: Lua's tostring keeps only 14 digits,
# and a script's plain number reply would be truncated to an integer.
TAKE_TOKEN_SCRIPT = """
local burst = tonumber(ARGV[1])
local per_second = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated_at')
local tokens = tonumber(state[1]) or burst
local updated_at = tonumber(state[2]) or now
-- Time only moves forward for a bucket, even if a failover hands it to a server whose clock is behind.
if now > updated_at then
    tokens = tokens + (now - updated_at) * per_second
    updated_at = now
end
tokens = math.min(burst, tokens)
local wait = 0
if tokens >= 1 then
    tokens = tokens - 1
else
    wait = (1 - tokens) / per_second
end
redis.call('HSET', KEYS[1],
    'tokens', string.format('%.17g', tokens), 'updated_at', string.format('%.17g', updated_at))
-- Once full again the bucket is the same as a missing one, so it may go; idle buckets never pile up.
local full_in_ms = math.max(1, math.ceil((burst - tokens) / per_second * 1000))
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', full_in_ms))
return string.format('%.17g', wait)
"""


class RedisRateLimiter:
    """Token buckets kept in Redis hashes (tokens, updated_at) under `prefix` + key."""

    def __init__(self, client: redis.Redis, prefix: str = "crier:bucket:") -> None:
        self._prefix = prefix
        self._take_token = client.register_script(TAKE_TOKEN_SCRIPT)

    @classmethod
    def from_url(cls, url: str, prefix: str = "crier:bucket:") -> RedisRateLimiter:
        """A limiter on the Redis server at `url`."""
        return cls(redis.Redis.from_url(url), prefix)

    @classmethod
    def from_settings(cls, settings: Settings, sessions: sessionmaker[Session]) -> RedisRateLimiter:
        """The limiter on CRIER_REDIS_URL's server (CRIER_RATE_LIMITER=redis)."""
        if not settings.redis_url:
            raise ValueError("CRIER_RATE_LIMITER is redis, and CRIER_REDIS_URL names no Redis server")
        return cls.from_url(settings.redis_url)

    def try_acquire(self, key: str, rate: Rate) -> float:
        wait = self._take_token(keys=[self._prefix + key], args=[rate.burst, repr(rate.per_second)])
        return float(wait)
