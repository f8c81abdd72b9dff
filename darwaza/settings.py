"""Settings of the platform, read from ``DARWAZA_*`` environment variables."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Used only in an explicit development environment (`make run` sets DARWAZA_ENV), so the
# demo works at once. Anything else refuses to start with these (`refuse_default_secrets`).
DEVELOPMENT_SECRET_KEY = "development-only-secret-key-change-me"  # noqa: S105 (refused in production)
DEVELOPMENT_KEY_SEALING_SECRET = "development-only-key-sealing-secret-change-me"  # noqa: S105
DEVELOPMENT_PSP_WEBHOOK_SECRET = "development-only-psp-webhook-secret"  # noqa: S105
DEVELOPMENT_ONEBILL_CHANNELS: dict[str, str] = {"sandbox": "sandbox-1bill"}

PACKAGE_DIR = Path(__file__).parent


class InsecureSettings(RuntimeError):
    """A production deployment was started with a default or weak secret."""


class Settings(BaseSettings):
    """Every setting of the platform. The README documents each one."""

    model_config = SettingsConfigDict(env_prefix="DARWAZA_", extra="ignore")

    # Unset means production: only an explicit "development" may run on default secrets.
    env: Literal["development", "test", "production"] = "production"
    data_dir: Path = Path("data")
    database_url: str = ""
    # Read-only pages and verification may read from a replica; writes go to the primary.
    database_replica_url: str = ""
    database_replica_max_lag_seconds: float = Field(default=5, ge=0)
    database_pool_size: int = Field(default=10, ge=1)
    database_max_overflow: int = Field(default=10, ge=0)
    database_pool_timeout_seconds: float = Field(default=3, gt=0)
    database_statement_timeout_seconds: int = Field(default=15, ge=1)
    # On PostgreSQL, documents' statuses kept in each server's memory, told of every
    # change by LISTEN/NOTIFY (darwaza.documents.statuses), and the status lists, trust
    # bundle and agencies' keys it serves; off: read for each request.
    status_memory: bool = True
    # Threads that run requests, per process; 0 means as many as database connections.
    request_threads: int = Field(default=0, ge=0)
    secret_key: str = DEVELOPMENT_SECRET_KEY
    key_sealing_secret: str = DEVELOPMENT_KEY_SEALING_SECRET
    # "localhost", not an IP address: passkeys need a host name.
    base_url: str = "http://localhost:8000"
    # The platform's root key as verifiers pin it: its RFC 7638 thumbprint (SHA-256,
    # base64url), printed by `darwaza trust-bundle save`. Empty: nothing pinned.
    trust_root: str = Field(default="", pattern=r"^\s*([A-Za-z0-9_-]{43})?\s*$")
    catalogue_dir: Path = PACKAGE_DIR / "demo" / "catalogue"
    # Where files are kept (see darwaza/storage.py): empty for a folder in the data directory.
    storage_url: str = ""
    storage_endpoint: str = ""
    storage_region: str = ""
    storage_access_key_id: str = ""
    storage_secret_access_key: str = ""
    sms_gateway: Literal["outbox"] = "outbox"
    default_language: Literal["en", "ur"] = "en"
    otp_ttl_seconds: int = Field(default=600, ge=60, le=3600)
    otp_max_attempts: int = Field(default=5, ge=1, le=10)
    otp_resend_cooldown_seconds: int = Field(default=60, ge=0)
    # Many people share one address behind mobile carriers' NAT: keep this generous.
    otp_codes_per_address: int = Field(default=100, ge=1)
    otp_wrong_codes_per_address: int = Field(default=300, ge=1)
    staff_password_failures_per_address: int = Field(default=50, ge=1)
    # Texts cost money and can be used to harass: a cap per number and one for the platform.
    sms_per_number_per_hour: int = Field(default=6, ge=1)
    sms_per_minute: int = Field(default=600, ge=1)
    # E-mail over SMTP; with no host, e-mails go to outbox/email.jsonl in the data directory.
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_from: str = "Darwaza <no-reply@darwaza.localhost>"
    smtp_starttls: bool = False
    # The SMS provider signs its delivery reports with this (HMAC-SHA256 of the body).
    # Empty: the callback route refuses every report.
    sms_callback_secret: str = ""
    # Non-urgent texts and e-mails wait for the morning (Asia/Karachi). Empty: no quiet hours.
    quiet_hours: str = Field(default="22:00-08:00", pattern=r"^\s*(\d{2}:\d{2}-\d{2}:\d{2})?\s*$")
    notification_templates_dir: Path = PACKAGE_DIR / "notifications" / "templates"
    # Addresses of the load balancers whose X-Forwarded-For is believed (comma-separated,
    # or "*" behind a private network). None by default: the peer address is the client.
    trusted_proxies: str = ""
    citizen_session_idle_minutes: int = Field(default=30, ge=1)
    citizen_session_absolute_hours: int = Field(default=12, ge=1)
    staff_session_idle_minutes: int = Field(default=15, ge=1)
    staff_session_absolute_hours: int = Field(default=8, ge=1)
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    audit_checkpoint_minutes: float = Field(default=60, ge=0)
    audit_sequence_seconds: float = Field(default=2, ge=0)
    log_level: str = "INFO"
    # "json": one JSON object per line, for a log pipeline; "text" for people.
    log_format: Literal["text", "json"] = "text"
    # Who may read /metrics: scrapers' addresses or networks (comma-separated, e.g.
    # "10.0.0.0/8,127.0.0.1"), or a bearer token. Neither set: /metrics answers 404.
    metrics_allow: str = ""
    metrics_token: str = ""
    # Payments (docs/payments.md). A PSID challan is valid this many days.
    psid_valid_days: int = Field(default=7, ge=1, le=90)
    # 1Bill channels allowed to call the biller API: {"username": "password"} as JSON.
    onebill_channels: dict[str, str] = Field(
        default_factory=lambda: dict(DEVELOPMENT_ONEBILL_CHANNELS)
    )
    # Addresses (networks) 1Bill calls from, comma-separated; "*" allows any.
    onebill_allowed_networks: str = "127.0.0.0/8,::1/128"
    # The online payment service provider: "sandbox" is the local sandbox PSP.
    psp_base_url: str = "http://127.0.0.1:8100"
    psp_webhook_secret: str = DEVELOPMENT_PSP_WEBHOOK_SECRET
    psp_api_key: str = "development-only-psp-api-key"
    # A payment pending longer than this is asked about by the reconciliation job.
    psp_pending_minutes: int = Field(default=15, ge=1)
    # Where the sandbox bank finds Darwaza's biller API.
    sandbox_darwaza_url: str = "http://127.0.0.1:8000"

    @model_validator(mode="after")
    def refuse_default_secrets(self) -> Settings:
        """Nothing but an explicit development setup runs on the secrets that ship with the code."""
        if self.env != "development":
            weak = []
            if self.secret_key == DEVELOPMENT_SECRET_KEY or len(self.secret_key) < 32:
                weak.append("DARWAZA_SECRET_KEY")
            if (
                self.key_sealing_secret == DEVELOPMENT_KEY_SEALING_SECRET
                or len(self.key_sealing_secret) < 32
            ):
                weak.append("DARWAZA_KEY_SEALING_SECRET")
            if weak:
                raise InsecureSettings(
                    f"Refusing to start in {self.env} with a default or short secret: "
                    + ", ".join(weak)
                    + " (set at least 32 random characters, or DARWAZA_ENV=development"
                    " for a local demo)."
                )
        return self

    @property
    def payment_secrets_are_defaults(self) -> bool:
        """Production with the payment channels' public development secrets: payments are
        refused (1Bill answers 04, webhooks 401) until real ones are set at onboarding."""
        return self.env == "production" and (
            self.psp_webhook_secret == DEVELOPMENT_PSP_WEBHOOK_SECRET
            or self.onebill_channels == DEVELOPMENT_ONEBILL_CHANNELS
        )

    @property
    def resolved_database_url(self) -> str:
        """The database URL; by default an SQLite file in the data directory."""
        if self.database_url:
            url = self.database_url
            # Accept the common spellings and use the psycopg 3 driver for PostgreSQL.
            for prefix in ("postgres://", "postgresql://"):
                if url.startswith(prefix):
                    return "postgresql+psycopg://" + url[len(prefix) :]
            return url
        data_dir = self.data_dir if self.data_dir.is_absolute() else Path.cwd() / self.data_dir
        return _sqlite_url(data_dir)

    @property
    def resolved_replica_url(self) -> str:
        """The replica's URL in the driver's spelling, or "" when there is none."""
        url = self.database_replica_url
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @property
    def outbox_dir(self) -> Path:
        """Where the local SMS gateway writes the messages it would have sent."""
        return self.data_dir / "outbox"

    @property
    def secure_cookies(self) -> bool:
        """Cookies carry the Secure flag whenever the platform is served over HTTPS."""
        return self.base_url.startswith("https://")


@functools.lru_cache(maxsize=64)
def _sqlite_url(data_dir: Path) -> str:
    # Resolving a path reads the file system; every request asks for the URL.
    return f"sqlite:///{(data_dir / 'darwaza.db').resolve()}"


@functools.cache
def get_settings() -> Settings:
    """The settings of this process, read once from the environment."""
    return Settings()


class VerifierSettings(BaseSettings):
    """What `darwaza verify` needs, and no more: a verifier holds none of the platform's
    secrets, so it runs anywhere (a checkpoint's laptop) without them."""

    model_config = SettingsConfigDict(env_prefix="DARWAZA_", extra="ignore")

    base_url: str = "http://localhost:8000"
    trust_root: str = Field(default="", pattern=r"^\s*([A-Za-z0-9_-]{43})?\s*$")


@functools.cache
def get_verifier_settings() -> VerifierSettings:
    """The verifier's settings of this process, read once from the environment."""
    return VerifierSettings()
