"""Sign-in service: passkeys, TOTP, TAP and sessions."""

from __future__ import annotations

from ssar.clock import Clock
from ssar.config import Settings
from ssar.keys import SecretKey
from ssar.store.db import Database


class SigninService:
    def __init__(
        self, *, database: Database, clock: Clock, settings: Settings, secret_key: SecretKey
    ) -> None:
        self._db = database
        self._clock = clock
        self._settings = settings
        self._secret_key = secret_key
