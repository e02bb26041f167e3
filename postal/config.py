"""Settings: one pydantic-settings class, read from the environment (prefix POSTAL_)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]


DEFAULT_SECRET_KEY = "change-me-in-production-0123456789abcdef"


class Settings(BaseSettings):
    """Every tunable of the service; documented in the README's settings table."""

    model_config = SettingsConfigDict(env_prefix="POSTAL_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./postal.db",
        description="SQLAlchemy URL: an SQLite file by default, or postgresql+psycopg://...",
    )
    secret_key: str = Field(
        default=DEFAULT_SECRET_KEY,
        description="Key for the keyed hash of ID numbers and for signing; set it in production.",
    )
    data_dir: Path = Field(default=REPO_ROOT / "data", description="Reference data directory.")
    locality: str = Field(default="hanoi", description="Locality served by default.")
    timezone: str = Field(default="Asia/Ho_Chi_Minh", description="Local time zone shown to users.")
    s10_service_indicator: str = Field(
        default="EB", description="S10 service indicator (2 letters)."
    )
    s10_country: str = Field(default="VN", description="S10 country code.")
    s10_serial_start: int = Field(
        default=10_000_000, description="First serial of the issued range."
    )
    s10_serial_end: int = Field(default=99_999_999, description="Last serial of the issued range.")
    s10_reuse_after_days: int = Field(default=366, description="A number is never reissued sooner.")
    booking_lead_minutes: int = Field(
        default=60, description="A slot can be booked until this many minutes before it starts."
    )
    booking_horizon_days: int = Field(default=30, description="How far ahead a slot can be booked.")
    geocoder_url: str | None = Field(
        default=None, description="Nominatim-compatible geocoder base URL; offline when unset."
    )
    geocoder_user_agent: str = Field(default="postal-onestop", description="Geocoder User-Agent.")
    circuity_factor: float = Field(
        default=1.4,
        description="Road over geodesic distance, measured by `postal bench circuity` (1.38-1.42).",
    )
    speed_kmh: float = Field(default=22.0, description="Courier motorbike speed in the city.")
    travel_provider: Literal["geodesic", "roadgraph", "osrm"] = Field(
        default="geodesic",
        description="Where plans get distances and times: geodesic x circuity, the locality's "
        "road graph, or an OSRM server's table service.",
    )
    roadgraph_max_snap_m: float = Field(
        default=500.0,
        description="Road graph provider: a point farther than this from the graph's roads "
        "is off the graph and its pairs use geodesic x circuity.",
    )
    osrm_url: str | None = Field(
        default=None, description="OSRM server base URL, e.g. http://127.0.0.1:5000."
    )
    osrm_profile: str = Field(default="driving", description="OSRM profile in the table URL.")
    osrm_max_table_size: int = Field(
        default=100,
        description="Sources (and destinations) per OSRM table request: the server's "
        "--max-table-size.",
    )
    osrm_timeout_s: float = Field(default=30.0, description="Timeout of one OSRM request.")
    plan_time_limit_s: float = Field(default=30.0, description="Solver budget of one plan.")
    plan_part_max_stops: int = Field(
        default=400,
        ge=20,
        le=5000,
        description="A post office with more stops than this is planned in parts (sectors "
        "around the office), each a task with the plan's whole time budget.",
    )
    plan_solver_processes: int = Field(
        default=1,
        ge=1,
        le=8,
        description="Processes one planning task's solve uses (a worker runs one part at a "
        "time per unit of concurrency; more workers, not more processes, scale a province).",
    )
    worker_concurrency: int = Field(
        default=1, ge=1, le=64, description="Tasks one `postal worker` process runs at once."
    )
    worker_queues: str = Field(
        default="planning,messages,default",
        description="Queues a worker takes tasks from (comma-separated).",
    )
    worker_heartbeat_s: float = Field(
        default=5.0, gt=0, description="How often a worker tells the queue it is alive."
    )
    worker_stalled_after_s: float = Field(
        default=30.0,
        gt=0,
        description="A task whose worker has been silent this long is given to another worker.",
    )
    worker_poll_s: float = Field(
        default=1.0, gt=0, description="How often an idle worker looks for new tasks."
    )
    embedded_worker: bool | None = Field(
        default=None,
        description="Run a worker inside the web process. Default: on for SQLite (the queue "
        "is then in memory), off for PostgreSQL (run `postal worker`).",
    )
    optimise_sync_max_tasks: int = Field(
        default=200,
        ge=0,
        description="POST /optimise problems with more jobs and shipment legs than this answer "
        "202 with a URL to poll; smaller ones wait for their task and answer 200.",
    )
    optimise_wait_margin_s: float = Field(
        default=30.0,
        ge=0,
        description="How much longer than its time limit a small optimise problem's reply "
        "waits for a worker before answering 202 with a URL to poll.",
    )
    optimise_max_in_flight: int = Field(
        default=2,
        ge=1,
        description="Optimise problems one client (user or API key) may have queued or solving.",
    )
    optimise_max_in_flight_total: int = Field(
        default=8,
        ge=1,
        description="Optimise problems queued or solving across all clients (429 beyond).",
    )
    # Rate limits and counters (postal/ratelimit.py); every refusal is 429 with Retry-After.
    rate_limit_storage: str = Field(
        default="database",
        description="Where rate-limit counters live, shared by every process: `database` (a "
        "table of the service's database) or a Redis URL such as redis://127.0.0.1:6379/0.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses of the reverse proxies whose X-Forwarded-For is believed, JSON: "
        '["10.0.0.5"]; with none, the client address is the connection\'s.',
    )
    login_max_failures: int = Field(
        default=5,
        ge=1,
        description="Wrong passwords for one user name before sign-in is locked out.",
    )
    login_max_failures_per_address: int = Field(
        default=20,
        ge=1,
        description="Failed sign-ins from one client address before it is locked out.",
    )
    login_lockout_s: int = Field(
        default=900,
        ge=1,
        description="Window of the sign-in failure counts, and so the longest lockout.",
    )
    login_max_concurrent_hashes: int = Field(
        default=4,
        ge=1,
        description="Password hashes one server process computes at once (each takes 64 MiB).",
    )
    login_hash_wait_s: float = Field(
        default=2.0,
        ge=0,
        description="How long a sign-in waits for a free hash slot before a 429.",
    )
    otp_max_attempts: int = Field(
        default=5, ge=1, description="Wrong tries after which a one-time code is dead."
    )
    otp_requests_per_item_hour: int = Field(
        default=3, ge=1, description="One-time codes sent for one item in an hour."
    )
    otp_requests_per_courier_hour: int = Field(
        default=20, ge=1, description="One-time codes one courier may request in an hour."
    )
    tracking_limit_per_address: int = Field(
        default=60,
        ge=1,
        description="Public tracking look-ups (API and /track page) from one client address "
        "per tracking_limit_window_s.",
    )
    tracking_limit_window_s: int = Field(
        default=600, ge=1, description="Window of the public tracking limit."
    )
    booking_limit_per_address: int = Field(
        default=10,
        ge=1,
        description="Bookings without credentials (API and form) from one client address per "
        "booking_limit_window_s.",
    )
    booking_limit_window_s: int = Field(
        default=3600, ge=1, description="Window of the anonymous booking limit."
    )
    find_booking_tries_per_reference: int = Field(
        default=5,
        ge=1,
        description="Tries of the /find-booking page (reference and phone) for one reference "
        "per find_booking_window_s, whatever the address; each address is also counted under "
        "the public tracking limit.",
    )
    find_booking_window_s: int = Field(
        default=900, ge=1, description="Window of the find-booking limit."
    )
    idempotency_retention_days: int = Field(
        default=7, ge=1, description="Idempotency records are purged this long after use."
    )
    outbox_retention_days: int = Field(
        default=30,
        ge=1,
        description="Sent messages and delivered webhooks are purged this long after sending.",
    )
    courier_capacity: int = Field(default=40, description="Items a courier's box holds.")
    courier_shift: str = Field(default="07:30-17:30", description="Courier shift, local time.")
    courier_break: str = Field(
        default="11:30-13:00/30",
        description="Courier lunch break: earliest-latest start / minutes.",
    )
    courier_fleet_factor: float = Field(
        default=1.5,
        description="Couriers offered to the optimiser per post office: items / 12 times this.",
    )
    courier_cost_per_hour_vnd: int = Field(
        default=40_000,
        ge=0,
        description="A courier's working hour (leaving the post office to coming back, waiting "
        "included) in the optimiser's objective; 0 with a zero fixed cost: fewest couriers, "
        "then distance, as before.",
    )
    courier_fixed_cost_vnd: int = Field(
        default=200_000,
        ge=0,
        description="Cost of sending one more courier out for the day, in the objective.",
    )
    service_citizen_s: int = Field(default=420, description="Time at a citizen's door.")
    service_desk_s: int = Field(default=180, description="Time per item at a desk.")
    token_ttl_hours: int = Field(default=12, description="Lifetime of a staff bearer token.")
    auth_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        description="How long a server process remembers who holds a token or API key (0: "
        "never); a token revoked elsewhere or a deactivated user is refused at most this late.",
    )
    cookie_secure: bool = Field(
        default=True, description="Send the session cookie over HTTPS only."
    )
    demo_bookings: int = Field(default=500, description="Bookings `postal demo` creates.")
    demo_phone: bool = Field(
        default=False,
        description="Serve /demo/phone and /demo/sms-gateway: an SMS gateway stand-in that "
        "shows the messages sent (`postal demo` turns it on; never in production).",
    )
    # Messages to citizens (SMS, Zalo ZNS, e-mail) and webhooks: a channel without its
    # settings is "not configured": reported at start-up, its messages wait (or go by SMS).
    sms_url: str | None = Field(
        default=None, description="SMS gateway endpoint (HTTP POST, JSON); SMS is off when unset."
    )
    sms_username: str | None = Field(
        default=None, description="SMS gateway user (HTTP basic auth with sms_password)."
    )
    sms_password: str | None = Field(default=None, description="SMS gateway password.")
    sms_token: str | None = Field(
        default=None, description="SMS gateway bearer token (instead of user and password)."
    )
    sms_brandname: str = Field(
        default="VNPOST", description="Registered brand name the SMS is sent from."
    )
    zalo_url: str | None = Field(
        default=None, description="Zalo ZNS send endpoint; Zalo is off when unset."
    )
    zalo_access_token: str | None = Field(
        default=None, description="Zalo Official Account access token (header access_token)."
    )
    zalo_templates: dict[str, str] = Field(
        default_factory=dict,
        description="Approved ZNS template id per message, JSON: "
        '{"otp": "123456", ...}; a message without one goes by SMS.',
    )
    smtp_host: str | None = Field(
        default=None, description="SMTP server; e-mail is off when unset."
    )
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP server port.")
    smtp_username: str | None = Field(default=None, description="SMTP user (login when set).")
    smtp_password: str | None = Field(default=None, description="SMTP password.")
    smtp_from: str | None = Field(
        default=None, description="Sender address of e-mails (required with smtp_host)."
    )
    smtp_starttls: bool = Field(default=True, description="Upgrade the SMTP link with STARTTLS.")
    message_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Timeout of one send to a gateway, SMTP server or webhook receiver.",
    )
    message_max_attempts: int = Field(
        default=8, ge=1, description="Tries of a message before it is dead-lettered."
    )
    webhook_max_attempts: int = Field(
        default=8, ge=1, description="Tries of a webhook delivery before it is dead-lettered."
    )
    message_retry_base_s: float = Field(
        default=30.0, gt=0, description="First retry delay; doubles per try, with jitter."
    )
    message_retry_max_s: float = Field(default=3600.0, gt=0, description="Longest retry delay.")
    message_claim_timeout_s: float = Field(
        default=300.0,
        gt=0,
        description="A message or webhook left 'sending' this long (its sender died) is taken "
        "again, with the same idempotency key.",
    )
    message_unconfigured_wait_s: float = Field(
        default=600.0,
        gt=0,
        description="How long a message whose channel is not configured waits before the next "
        "look.",
    )
    host: str = Field(default="127.0.0.1", description="Address `postal serve` listens on.")
    port: int = Field(default=8000, description="Port `postal serve` listens on.")


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings (read once, on first use, never at import)."""
    return Settings()
