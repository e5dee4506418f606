"""The composition root: builds every service from the settings, once per process.

Services declare the narrow things they need in their constructors (database, clock, keys,
settings); only this module knows how to build them.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from ssar.clock import Clock, SystemClock
from ssar.config import Settings
from ssar.keys import SecretKey, SigningKey
from ssar.notify.outbox import SmtpSender
from ssar.store.db import Database
from ssar.store.migrate import upgrade

if TYPE_CHECKING:
    import httpx

    from ssar.admin.roles import AdminRoleService
    from ssar.admin.tokens import ApiTokenService
    from ssar.directory.service import DirectoryService
    from ssar.idv.oid4vci import IssuanceService
    from ssar.idv.oidc_op import OpenIdProvider
    from ssar.openid4vp.service import PresentationService
    from ssar.profiles.service import ProfileService
    from ssar.providers.jwks_uri import JwksUriFetcher
    from ssar.recovery.service import RecoveryService
    from ssar.recovery.validation import Validator
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
    def admin_roles(self) -> AdminRoleService:
        from ssar.admin.roles import AdminRoleService

        return AdminRoleService(database=self.database, clock=self.clock)

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
            status_fetcher=HttpStatusListFetcher(self.http),
        )

    @cached_property
    def profiles(self) -> ProfileService:
        from ssar.profiles.service import ProfileService

        return ProfileService(database=self.database, clock=self.clock, settings=self.settings)

    @cached_property
    def http(self) -> httpx.Client:
        """The client for outbound calls (extension, OpenID providers); tests replace it with
        one on ``httpx.MockTransport`` or point it at a loopback server."""
        import httpx

        return httpx.Client(timeout=5.0, follow_redirects=False)

    @cached_property
    def recovery_validator(self) -> Validator:
        from ssar.recovery.extension import ExtensionClient
        from ssar.recovery.validation import Validator

        return Validator(
            database=self.database,
            directory=self.directory,
            extension=ExtensionClient(
                http=self.http,
                signing_key=self.signing_key,
                issuer=self.settings.base_url,
                clock=self.clock,
            ),
            base_url=self.settings.base_url,
        )

    @cached_property
    def oidc_ida_providers(self) -> dict[str, Any]:
        """The OpenID Connect for Identity Assurance providers of ``SSAR_OIDC_IDA_PROVIDERS_FILE``."""
        path = self.settings.oidc_ida_providers_file
        if path is None:
            return {}
        from ssar.providers.oidc_ida import OidcIdaProvider, load_providers

        return {
            name: OidcIdaProvider(config, http=self.http, clock=self.clock)
            for name, config in load_providers(path).items()
        }

    @cached_property
    def recovery(self) -> RecoveryService:
        from ssar.recovery.service import RecoveryService

        return RecoveryService(
            database=self.database,
            clock=self.clock,
            settings=self.settings,
            secret_key=self.secret_key,
            presentations=self.presentations,
            profiles=self.profiles,
            validator=lambda: self.recovery_validator,
            redirect_providers=lambda: self.oidc_ida_providers,
            reference_issuer=lambda: {
                "iss": self.idv_issuance.issuer_id,
                "jwks": self.idv_issuance.jwks(),
            },
            jwks_uri_fetcher=lambda uri: self.jwks_uri_fetcher.fetch(uri, now=self.clock.now()),
        )

    @cached_property
    def jwks_uri_fetcher(self) -> JwksUriFetcher:
        from ssar.providers.jwks_uri import JwksUriFetcher

        return JwksUriFetcher(self.http)

    @cached_property
    def idv_openid_provider(self) -> OpenIdProvider:
        """The reference verification service as an OpenID provider (OIDC4IDA)."""
        from ssar.idv.oidc_op import OpenIdProvider, load_clients

        return OpenIdProvider(
            database=self.database,
            clock=self.clock,
            secret_key=self.secret_key,
            key=self.idv_issuance.key,
            issuer=self.idv_issuance.issuer_id,
            clients=load_clients(self.settings.idv_oidc_clients_file),
        )

    @cached_property
    def idv_issuance(self) -> IssuanceService:
        """The reference verification service's issuer (OpenID4VCI, its own key)."""
        from ssar.idv.oid4vci import build_issuance

        return build_issuance(self)

    def close(self) -> None:
        if "http" in self.__dict__:
            self.http.close()
        if "database" in self.__dict__:
            self.database.dispose()
