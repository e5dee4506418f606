"""The composition root: builds every service from the settings, once per process.

Services declare the narrow things they need in their constructors (database, clock, keys,
settings); only this module knows how to build them.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from ssar.clock import Clock, SystemClock
from ssar.config import Settings
from ssar.keys import SecretKey, SigningKey
from ssar.notify.outbox import SmtpSender
from ssar.store.db import Database
from ssar.store.migrate import upgrade

if TYPE_CHECKING:
    from ssar.admin.tokens import ApiTokenService
    from ssar.directory.service import DirectoryService
    from ssar.openid4vp.service import PresentationService
    from ssar.profiles.service import ProfileService
    from ssar.signin.service import SigninService


class Registry:
    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()

    @cached_property
    def database(self) -> Database:
        return Database(self.settings.database_url)

    def migrate(self) -> None:
        upgrade(self.database.engine)

    @cached_property
    def secret_key(self) -> SecretKey:
        return SecretKey.load_or_create(self.settings.resolved_secret_key_file)

    @cached_property
    def signing_key(self) -> SigningKey:
        return SigningKey.load_or_create(self.settings.resolved_signing_key_file)

    @cached_property
    def mail_sender(self) -> SmtpSender | None:
        if not self.settings.smtp_url:
            return None
        return SmtpSender(self.settings.smtp_url, self.settings.mail_from)

    # --- services (each package adds its own factory here) ---------------------------------

    @cached_property
    def api_tokens(self) -> ApiTokenService:
        from ssar.admin.tokens import ApiTokenService

        return ApiTokenService(database=self.database, clock=self.clock, secret_key=self.secret_key)

    @cached_property
    def directory(self) -> DirectoryService:
        from ssar.directory.service import DirectoryService

        return DirectoryService(database=self.database, clock=self.clock)

    @cached_property
    def signin(self) -> SigninService:
        from ssar.signin.service import SigninService

        return SigninService(
            database=self.database,
            clock=self.clock,
            settings=self.settings,
            secret_key=self.secret_key,
        )

    @cached_property
    def presentations(self) -> PresentationService:
        """The OpenID4VP verifier. A PEM chain at ``var/openid4vp-verifier-chain.pem`` (leaf
        first, for the signing key, naming the base URL's host) switches the client id from
        ``redirect_uri:`` to ``x509_san_dns:``."""
        import httpx
        from cryptography import x509

        from ssar.credentials.statuslist import HttpStatusListFetcher
        from ssar.openid4vp.service import PresentationService

        chain_file = self.settings.var_dir / "openid4vp-verifier-chain.pem"
        chain = (
            x509.load_pem_x509_certificates(chain_file.read_bytes()) if chain_file.exists() else []
        )
        return PresentationService(
            database=self.database,
            clock=self.clock,
            secret_key=self.secret_key,
            signing_key=self.signing_key,
            base_url=self.settings.base_url,
            certificate_chain=chain,
            status_fetcher=HttpStatusListFetcher(httpx.Client(timeout=5.0)),
        )

    @cached_property
    def profiles(self) -> ProfileService:
        from ssar.profiles.service import ProfileService

        return ProfileService(database=self.database, clock=self.clock, settings=self.settings)

    def close(self) -> None:
        if "database" in self.__dict__:
            self.database.dispose()
