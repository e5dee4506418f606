"""Settings, read once from the environment (``SSAR_*``) and passed down explicitly."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class TapPolicy(BaseSettings):
    """Tenant-wide Temporary Access Pass policy (SECURITY.md R25)."""

    model_config = SettingsConfigDict(env_prefix="SSAR_TAP_", extra="ignore")

    length: int = Field(default=16, ge=8, le=48)
    lifetime_minutes: int = Field(default=60, ge=10, le=30 * 24 * 60)
    min_lifetime_minutes: int = Field(default=10, ge=10)
    max_lifetime_minutes: int = Field(default=8 * 60, le=30 * 24 * 60)
    one_time: bool = True

    @model_validator(mode="after")
    def _lifetimes_consistent(self) -> TapPolicy:
        if not self.min_lifetime_minutes <= self.lifetime_minutes <= self.max_lifetime_minutes:
            raise ValueError("TAP lifetime must lie between the minimum and maximum lifetime")
        return self


class RecoveryPolicy(BaseSettings):
    """Self-service recovery limits (SECURITY.md R8, R24), shared by every process through the
    database. ``SSAR_RECOVERY_*``."""

    model_config = SettingsConfigDict(env_prefix="SSAR_RECOVERY_", extra="ignore")

    flow_minutes: int = Field(default=30, ge=5, le=24 * 60)
    #: flows one account may start per 24 hours (NIST 63B caps consecutive failures at 100)
    account_flows_per_day: int = Field(default=5, ge=1, le=100)
    #: flows one client address may start per hour
    address_flows_per_hour: int = Field(default=20, ge=1, le=1000)
    #: consecutive failed face checks that end a flow (R24: at most 5)
    max_face_failures: int = Field(default=5, ge=1, le=5)


class Settings(BaseSettings):
    """Everything configurable about one SSAR deployment."""

    model_config = SettingsConfigDict(env_prefix="SSAR_", extra="ignore")

    database_url: str = "sqlite:///var/ssar.db"
    base_url: str = "http://localhost:8000"
    var_dir: Path = Path("var")
    secret_key_file: Path | None = None
    signing_key_file: Path | None = None
    smtp_url: str | None = None
    mail_from: str = "SSAR <no-reply@localhost>"
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"
    demo: bool = False
    rp_name: str = "SSAR"
    session_idle_minutes: int = Field(default=60, ge=1)
    session_absolute_hours: int = Field(default=24, ge=1)
    recent_auth_minutes: int = Field(default=10, ge=1)
    tap: TapPolicy = Field(default_factory=TapPolicy)
    recovery: RecoveryPolicy = Field(default_factory=RecoveryPolicy)
    #: YAML file naming the OpenID Connect for Identity Assurance providers (docs/OIDC_IDA.md)
    oidc_ida_providers_file: Path | None = None
    #: YAML naming the relying parties of the reference service's OpenID provider (docs/IDV.md)
    idv_oidc_clients_file: Path | None = None

    @field_validator("base_url")
    @classmethod
    def _base_url_is_origin(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("SSAR_BASE_URL must be an http(s) URL such as https://id.example.org")
        return value.rstrip("/")

    @cached_property
    def origin(self) -> str:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    @cached_property
    def rp_id(self) -> str:
        host = urlsplit(self.base_url).hostname
        assert host is not None
        return host

    @property
    def https(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def resolved_secret_key_file(self) -> Path:
        return self.secret_key_file or self.var_dir / "secret.key"

    @property
    def resolved_signing_key_file(self) -> Path:
        return self.signing_key_file or self.var_dir / "signing-key.pem"
