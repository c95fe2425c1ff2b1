"""Settings: read from the environment once, at each process's edge, then passed down."""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Literal

from limits import parse_many
from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from shared.network_apps import NetworkApps

_DURATION = re.compile(r"(\d+)([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_schedule(schedule: str) -> tuple[timedelta, ...]:
    """Read "15m,1h,3d": durations with a unit (s, m, h, d, w), each longer than the one before."""
    steps = []
    for text in schedule.split(","):
        matched = _DURATION.fullmatch(text.strip())
        if matched is None:
            raise ValueError(f"{text.strip()!r} is not a duration such as 15m, 6h or 3d")
        steps.append(timedelta(seconds=int(matched[1]) * _UNIT_SECONDS[matched[2]]))
    if steps[0] <= timedelta(0) or any(later <= earlier for earlier, later in pairwise(steps)):
        raise ValueError("the steps must be longer than zero, each longer than the one before")
    return tuple(steps)


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_HOST_NAME = re.compile(r"(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*")


def parse_allowed_hosts(value: str) -> tuple[frozenset[str], tuple[IPNetwork, ...]]:
    """Read "mastodon.lan, 10.0.0.0/8, 192.168.1.20": host names (lower-cased), and networks."""
    names: set[str] = set()
    networks: list[IPNetwork] = []
    for item in value.split(","):
        entry = item.strip().lower().rstrip(".")
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            continue
        except ValueError:
            pass
        if not _HOST_NAME.fullmatch(entry):
            raise ValueError(f"{item.strip()!r} is neither a host name nor an address or network (CIDR)")
        names.add(entry)
    return frozenset(names), tuple(networks)


def local_url(bind: str) -> str:
    """The address a browser on this machine reaches a server listening on `bind` at.

    `bind` takes gunicorn's forms: HOST, HOST:PORT, [IPV6]:PORT (port 8000 when left out). A Unix socket
    or an inherited file descriptor has no such address.
    """
    address = bind.strip().removeprefix("tcp://")
    if address.startswith(("unix:", "fd://")):
        raise ValueError(
            f"the API listens on {bind}, which has no web address: "
            "set CRIER_PUBLIC_URL to where users reach it"
        )
    if address.startswith("["):
        host, _, port = address[1:].partition("]")
        port = port.removeprefix(":")
    else:
        host, _, port = address.partition(":")
    port = port or "8000"
    if not port.isdigit():
        raise ValueError(f"{bind!r} is not host:port: {port!r} is not a port number")
    # A server on every interface is reached here over loopback. Other machines use a name only the person
    # deploying knows, which is what CRIER_PUBLIC_URL is for.
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


SECRET_KEY_MIN_LENGTH = 32
# Fewer different characters than this is a pattern, not randomness; 32 hex digits (128 random bits) have
# fewer than 16 one time in five, so the bar is below that.
SECRET_KEY_MIN_DISTINCT = 10
MAKE_A_SECRET_KEY = "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`"
# Words of example configurations: a key holding one was copied from somewhere, not made at random.
PLACEHOLDER_WORDS = (
    "changeme",
    "changethis",
    "replaceme",
    "yoursecret",
    "secretkey",
    "mysecret",
    "placeholder",
    "example",
    "insecure",
    "notsecret",
    "password",
    "default",
)


def secret_key_weakness(secret: str) -> str | None:
    """Why a secret key is too weak to guard a production installation; None when it is not.

    A key made as the README says (32 random bytes, 43 characters), or 32 hex digits and more, passes;
    short keys, keys that repeat a few characters, and the placeholders of example files do not.
    """
    if len(secret) < SECRET_KEY_MIN_LENGTH:
        return f"it is {len(secret)} characters long; it needs at least {SECRET_KEY_MIN_LENGTH}"
    letters = re.sub(r"[^a-z0-9]", "", secret.lower())
    found = next((word for word in PLACEHOLDER_WORDS if word in letters), None)
    if found:
        return f"it contains {found!r}, as keys copied from an example do"
    if len(set(secret)) < SECRET_KEY_MIN_DISTINCT:
        return f"it uses only {len(set(secret))} different characters, too few for a random key"
    return None


class Settings(NetworkApps):
    """Everything a Crier process can be told. Defaults are the embedded mode: no servers needed."""

    # An error names the setting and says what is wrong, never its value: a secret key or a database URL's
    # password would otherwise be printed to whatever reads the process's output.
    model_config = SettingsConfigDict(
        env_prefix="CRIER_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    data_dir: Path = Field(
        default=Path("var"),
        description="Where the embedded mode keeps its SQLite files and its file-system broker.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL. Unset: a SQLite file in the data directory.",
    )
    broker_url: str = Field(
        default="filesystem://",
        description="Celery broker. `filesystem://` keeps messages under the data directory, written whole.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis for shared limits and locks; /readyz checks it when set.",
    )
    task_queue: str = Field(
        default="celery",
        description="How the API and the scheduler send tasks: `celery`, through CRIER_BROKER_URL; or "
        "`memory`, kept in the process and never run, for tests and tools.",
    )
    rate_limiter: str | None = Field(
        default=None,
        description="Where Crier's own posting and reading limits keep their buckets: `redis` (at "
        "CRIER_REDIS_URL) or `database`. Unset: `redis` when CRIER_REDIS_URL is set, else `database`.",
    )
    media_storage: str = Field(
        default="filesystem",
        description="Where uploaded media are kept: `filesystem`, in the data directory's `media/`.",
    )
    secret_key: str | None = Field(
        default=None,
        description="Seals channel credentials and signs the dashboard's cookie; several, comma-separated, "
        "rotate (the first seals and signs).",
    )
    environment: Literal["development", "production"] = Field(
        default="development",
        description="`production` refuses to start without a strong CRIER_SECRET_KEY (docker compose sets "
        "it).",
    )
    api_bind: str = Field(default="127.0.0.1:8000", description="host:port the API server listens on.")
    # After api_bind, which its default is made from: a validator sees only the fields declared before it.
    public_url: str = Field(
        default="",
        validate_default=True,
        description="Where users reach the API. Unset: where CRIER_API_BIND listens (127.0.0.1 for every "
        "interface).",
    )

    scheduler_tick_seconds: float = Field(
        default=0.25, gt=0, description="How often the scheduler looks for due deliveries."
    )
    scheduler_lookahead_seconds: float = Field(
        default=1.0,
        ge=0,
        description="Claim deliveries due this far ahead, so publishing starts at the scheduled second.",
    )
    claim_batch_size: int = Field(default=500, gt=0, description="Deliveries claimed per statement.")
    enqueue_lease_seconds: float = Field(
        default=60, gt=0, description="How long a claimed delivery is reserved for its message."
    )
    publish_lease_seconds: float = Field(
        default=120, gt=0, description="How long one publish attempt may take before it is suspect."
    )
    max_publish_attempts: int = Field(
        default=5, gt=0, description="Attempts per delivery before a transient failure is final."
    )
    max_lateness_seconds: float = Field(
        default=1800,
        gt=0,
        description="A delivery that could not go out within this long of its time is marked missed.",
    )
    publish_batch_size: int = Field(
        default=20, gt=0, description="Deliveries per publish message: fewer messages in a burst."
    )
    network_call_threads: int = Field(
        default=64, gt=0, description="Network calls one worker process makes at once."
    )
    reconcile_interval_seconds: float = Field(
        default=10, gt=0, description="How often deliveries in `unknown` are checked with their network."
    )
    reconcile_give_up_seconds: float = Field(
        default=3600,
        gt=0,
        description="A delivery the network could not be asked about for this long goes to needs_review.",
    )
    changes_interval_seconds: float = Field(
        default=5,
        gt=0,
        description="How often deletes and edits of published posts that are due are applied (each is "
        "also sent to a worker at once).",
    )
    worker_concurrency: int = Field(default=8, gt=0, description="Threads per worker process.")
    metrics_interval_seconds: float = Field(
        default=60, gt=0, description="How often the scheduler looks for deliveries whose metrics are due."
    )
    metrics_schedule: str = Field(
        default="15m,1h,6h,24h,3d,7d,30d",
        description="When a published delivery's metrics are collected, after it was published; then never.",
    )
    metrics_retention_days: int = Field(
        default=400,
        gt=0,
        description="Raw metric samples older than this are deleted; latest values and rollups are kept.",
    )
    inbox_read_min_seconds: int = Field(
        default=60,
        gt=0,
        description="The shortest time between two reads of a channel's inbox or a saved search: the "
        "interval of a busy one. Each read also keeps to the network's read limits.",
    )
    inbox_read_max_seconds: int = Field(
        default=900,
        gt=0,
        description="The longest time between two reads of an inbox or saved search where nothing new comes.",
    )
    webhook_interval_seconds: float = Field(
        default=5, gt=0, description="How often webhook messages that are due are sent."
    )
    webhook_max_attempts: int = Field(
        default=7, gt=0, description="Attempts per webhook message before it is marked failed."
    )
    webhook_timeout_seconds: float = Field(
        default=10, gt=0, description="How long a webhook receiver may take to answer one request."
    )
    webhook_allow_private_urls: bool = Field(
        default=False,
        description="Replaced by CRIER_ALLOWED_PRIVATE_HOSTS; `true` stops the process at start, saying so.",
    )
    allowed_private_hosts: str = Field(
        default="",
        description="Servers on this machine or a private network that channels and webhooks may call: host "
        "names and addresses or networks (CIDR), comma-separated. Plain http only to these.",
    )
    network_call_deadline_seconds: float = Field(
        default=30,
        gt=0,
        description="The longest one call to a network or a webhook receiver may take, from connecting to "
        "the answer's last byte, however slowly it answers.",
    )
    network_upload_deadline_seconds: float = Field(
        default=300, gt=0, description="The same for a call that uploads a media file."
    )
    network_answer_max_bytes: int = Field(
        default=4 * 1024 * 1024,
        gt=0,
        description="The largest answer read from a network or a webhook receiver; a larger one is cut off.",
    )
    api_network_deadline_seconds: float = Field(
        default=10,
        gt=0,
        description="How long the network calls of one API request (connecting, verifying, authorizing, "
        "previewing) may take together.",
    )
    api_network_calls_per_workspace: int = Field(
        default=2,
        gt=0,
        description="API requests of one workspace that may be calling networks at once, per API process; "
        "another answers 429.",
    )
    request_max_bytes: int = Field(
        default=1024 * 1024,
        gt=0,
        description="The largest request body the API reads, in bytes, except on the routes that take "
        "files (media uploads, imports), which have their own limits.",
    )
    rate_limits_enabled: bool = Field(
        default=True, description="Whether the API limits how many requests each client makes."
    )
    rate_limit_per_token: str = Field(
        default="600/minute",
        description="Requests to /v1 per API token (counted before the token is checked, so a wrong one "
        "counts too).",
    )
    rate_limit_per_address: str = Field(
        default="1200/minute",
        description="Requests per client address, on every route but the health checks and /metrics.",
    )
    rate_limit_sign_in: str = Field(
        default="10/minute;50/hour", description="Dashboard sign-in attempts per client address."
    )
    rate_limit_token_creation: str = Field(
        default="10/hour", description="API tokens one token may create (POST /v1/tokens)."
    )
    trusted_proxy_hops: int = Field(
        default=0,
        ge=0,
        description="How many reverse proxies in front of the API add X-Forwarded-For: the client's "
        "address is read from it, that many hops back. 0: the connection's own address.",
    )
    link_click_window_seconds: float = Field(
        default=3600,
        gt=0,
        description="A client's clicks on one short link within this long count as one.",
    )
    media_max_bytes: int = Field(
        default=100 * 1024 * 1024,
        gt=0,
        description="The largest file one upload may be, in bytes; each network's own limit applies too.",
    )
    mastodon_settle_seconds: float = Field(
        default=120,
        ge=0,
        description="How long after an uncertain attempt a Mastodon post that cannot be found may still "
        "appear (the request waiting in a busy server's queue); after it, the post is taken as not made.",
    )
    credentials_refresh_ahead_seconds: float = Field(
        default=900,
        gt=0,
        description="How long before a channel's access token expires Crier renews it (networks whose tokens "
        "expire: X, LinkedIn, Threads, Instagram).",
    )
    sandbox_store_url: str | None = Field(
        default=None,
        description="Where the sandbox network keeps its posts. Unset: a SQLite file in the data directory.",
    )
    log_level: str = Field(default="INFO", description="Python logging level.")
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Log lines as text for a person at a terminal, or `json`, one object a line, for a "
        "log collector.",
    )
    prometheus_dir: Path | None = Field(
        default=None,
        description="Where every Crier process on this host keeps its Prometheus counters, for the API's "
        "/metrics to add up. Unset: `prometheus/` in the data directory.",
    )
    metrics_token: str | None = Field(
        default=None, description="When set, GET /metrics needs `Authorization: Bearer` with this token."
    )

    @field_validator("webhook_allow_private_urls")
    @classmethod
    def _refuse_the_old_private_switch(cls, allow: bool) -> bool:
        # It let any workspace's webhooks reach every private address; an operator now names what may be
        # reached. Ignoring it would break their webhooks silently, so the process says so at start.
        if allow:
            raise ValueError(
                "CRIER_WEBHOOK_ALLOW_PRIVATE_URLS is replaced by CRIER_ALLOWED_PRIVATE_HOSTS: list the hosts "
                "or networks (such as 10.0.0.0/8) Crier may call, and unset it"
            )
        return allow

    @field_validator("allowed_private_hosts")
    @classmethod
    def _check_allowed_private_hosts(cls, value: str) -> str:
        parse_allowed_hosts(value)
        return value

    @field_validator("metrics_schedule")
    @classmethod
    def _check_metrics_schedule(cls, schedule: str) -> str:
        parse_schedule(schedule)
        return schedule

    @field_validator(
        "rate_limit_per_token", "rate_limit_per_address", "rate_limit_sign_in", "rate_limit_token_creation"
    )
    @classmethod
    def _check_rate_limit(cls, limit: str) -> str:
        try:
            parse_many(limit)
        except ValueError as error:
            raise ValueError(f"{limit!r} is not a rate such as 600/minute or 10/minute;50/hour") from error
        return limit

    @field_validator("public_url")
    @classmethod
    def _follow_the_api_bind(cls, url: str, info: ValidationInfo) -> str:
        # Without api_bind, its own validation error says what is wrong.
        if url or "api_bind" not in info.data:
            return url
        return local_url(info.data["api_bind"])

    @field_validator("database_url", "sandbox_store_url")
    @classmethod
    def _use_psycopg3(cls, url: str | None) -> str | None:
        # `postgresql://` means psycopg2 to SQLAlchemy; we ship psycopg 3, so users can write the plain URL.
        if url and url.startswith(("postgresql://", "postgres://")):
            return "postgresql+psycopg://" + url.split("://", 1)[1]
        return url

    @model_validator(mode="after")
    def _refuse_a_weak_secret_in_production(self) -> Settings:
        if self.environment != "production":
            return self
        if not self.secret_keys:
            raise ValueError(
                "CRIER_SECRET_KEY is required when CRIER_ENVIRONMENT is production: it seals the channels' "
                f"credentials and signs the dashboard's cookie. Make one with {MAKE_A_SECRET_KEY}."
            )
        weakness = secret_key_weakness(self.secret_keys[0])
        if weakness:
            raise ValueError(
                f"CRIER_SECRET_KEY is too weak for production ({weakness}): whoever guesses it can open "
                f"every channel's credentials. Make one with {MAKE_A_SECRET_KEY}, put it first, keep the "
                "old one after it, and run `crier credentials reseal`."
            )
        return self

    @property
    def secret_keys(self) -> list[str]:
        """CRIER_SECRET_KEY's secrets, newest (the one that seals and signs) first."""
        return [part.strip() for part in (self.secret_key or "").split(",") if part.strip()]

    @property
    def allowed_private(self) -> tuple[frozenset[str], tuple[IPNetwork, ...]]:
        """CRIER_ALLOWED_PRIVATE_HOSTS read: the host names, and the networks (an address is one of /32)."""
        return parse_allowed_hosts(self.allowed_private_hosts)

    @property
    def metrics_steps(self) -> tuple[timedelta, ...]:
        """When metrics are collected, as time since publication, in order."""
        return parse_schedule(self.metrics_schedule)

    @property
    def resolved_rate_limiter(self) -> str:
        """The rate limiter's name, with the default filled in: Redis when there is one."""
        return self.rate_limiter or ("redis" if self.redis_url else "database")

    @property
    def resolved_database_url(self) -> str:
        """The database URL, with the embedded default filled in."""
        return self.database_url or f"sqlite:///{self.data_dir / 'crier.db'}"

    @property
    def resolved_sandbox_store_url(self) -> str:
        """The sandbox network's store URL, with the embedded default filled in."""
        return self.sandbox_store_url or f"sqlite:///{self.data_dir / 'sandbox.db'}"

    @property
    def media_folder(self) -> Path:
        """The folder the file-system media storage keeps uploads in, one file per distinct content."""
        return self.data_dir / "media"

    @property
    def prometheus_folder(self) -> Path:
        """The folder the processes' Prometheus counters are kept in, with the embedded default filled in."""
        return self.prometheus_dir or self.data_dir / "prometheus"

    @property
    def broker_folder(self) -> Path:
        """The folder the file-system broker passes messages through."""
        return self.data_dir / "broker"

    @property
    def is_embedded_broker(self) -> bool:
        return self.broker_url.startswith("filesystem:")
