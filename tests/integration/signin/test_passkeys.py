"""Passkey registration and sign-in with the software authenticator (R28)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from ssar.clock import FixedClock
from ssar.errors import AuthenticationFailed, ValidationFailed
from ssar.registry import Registry
from ssar.signin.models import SessionInfo
from ssar.signin.passkeys import b64url_decode
from ssar.store.tables import AuditEventRow, AuthMethodRow, UserRow
from tests.support.soft_authenticator import SoftAuthenticator
from tests.support.users import add_user

BROWSER = "browser-token-" + "x" * 40


def _tap_session(registry: Registry, username: str) -> tuple[SessionInfo, str]:
    issued = registry.signin.taps.issue(username=username, actor="test")
    result = registry.signin.signin_with_tap(username=username, tap=issued.tap)
    return result.session.info, result.session.token


def _register(
    registry: Registry, authenticator: SoftAuthenticator, username: str, **knobs: Any
) -> AuthMethodRow:
    info, token = _tap_session(registry, username)
    options = registry.signin.passkey_registration_options(session_info=info, binding_token=token)
    credential = authenticator.create(options.public_key, **knobs)
    registry.signin.register_passkey(
        session_info=info, credential=credential, binding_token=token, label="Laptop"
    )
    with registry.database.transaction() as session:
        return session.execute(
            select(AuthMethodRow).where(
                AuthMethodRow.user_id == info.user_id, AuthMethodRow.type == "passkey"
            )
        ).scalar_one()


@pytest.fixture
def authenticator(any_registry: Registry) -> SoftAuthenticator:
    return SoftAuthenticator(origin=any_registry.settings.origin)


def test_R28_registration_options_challenge_uv_and_resident_key(
    any_registry: Registry, ada: str
) -> None:
    info, token = _tap_session(any_registry, "ada")
    options = any_registry.signin.passkey_registration_options(
        session_info=info, binding_token=token
    ).public_key
    assert len(b64url_decode(options["challenge"])) >= 16
    assert len(b64url_decode(options["challenge"])) == 32
    assert options["rp"]["id"] == "localhost"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert b64url_decode(options["user"]["id"]) == ada.encode()


def test_R28_register_then_sign_in_username_first_and_discoverable(
    any_registry: Registry, ada: str, authenticator: SoftAuthenticator, clock: FixedClock
) -> None:
    row = _register(any_registry, authenticator, "ada")
    assert row.label == "Laptop"
    assert row.registered_with_method_id is not None  # registered in a TAP session
    signin = any_registry.signin

    options = signin.passkey_signin_options(username="Ada", binding_token=BROWSER).public_key
    assert [b64url_decode(c["id"]) for c in options["allowCredentials"]] == [row.credential_id]
    assert options["userVerification"] == "required"
    clock.advance(timedelta(minutes=1))
    result = signin.signin_with_passkey(
        credential=authenticator.get(options), binding_token=BROWSER
    )
    assert result.session.info.user_id == ada
    assert result.method_type == "passkey"
    assert result.must_register_passkey is False

    options = signin.passkey_signin_options(username=None, binding_token=BROWSER).public_key
    assert options.get("allowCredentials", []) == []
    result = signin.signin_with_passkey(
        credential=authenticator.get(options), binding_token=BROWSER
    )
    assert result.session.info.user_id == ada
    with any_registry.database.transaction() as session:
        stored = session.get(AuthMethodRow, row.id)
        assert stored is not None
        assert stored.sign_count == 2
        assert stored.last_used_at == clock.now()


def test_R28_registration_challenge_is_single_use(
    any_registry: Registry, ada: str, authenticator: SoftAuthenticator
) -> None:
    info, token = _tap_session(any_registry, "ada")
    options = any_registry.signin.passkey_registration_options(
        session_info=info, binding_token=token
    )
    credential = authenticator.create(options.public_key)
    any_registry.signin.register_passkey(
        session_info=info, credential=credential, binding_token=token
    )
    second = SoftAuthenticator(origin=any_registry.settings.origin).create(options.public_key)
    with pytest.raises(AuthenticationFailed):
        any_registry.signin.register_passkey(
            session_info=info, credential=second, binding_token=token
        )


def test_R28_authentication_challenge_is_single_use_even_after_a_failure(
    any_registry: Registry, ada: str, authenticator: SoftAuthenticator
) -> None:
    _register(any_registry, authenticator, "ada")
    options = any_registry.signin.passkey_signin_options(
        username="ada", binding_token=BROWSER
    ).public_key
    bad = authenticator.get(options, user_verified=False)
    with pytest.raises(AuthenticationFailed):
        any_registry.signin.signin_with_passkey(credential=bad, binding_token=BROWSER)
    good = authenticator.get(options)
    with pytest.raises(AuthenticationFailed):
        any_registry.signin.signin_with_passkey(credential=good, binding_token=BROWSER)


def test_R28_challenge_is_bound_to_the_browser_and_expires(
    any_registry: Registry, ada: str, authenticator: SoftAuthenticator, clock: FixedClock
) -> None:
    _register(any_registry, authenticator, "ada")
    options = any_registry.signin.passkey_signin_options(
        username="ada", binding_token=BROWSER
    ).public_key
    with pytest.raises(AuthenticationFailed):
        any_registry.signin.signin_with_passkey(
            credential=authenticator.get(options), binding_token="another-browser-" + "y" * 40
        )
    options = any_registry.signin.passkey_signin_options(
        username="ada", binding_token=BROWSER
    ).public_key
    clock.advance(timedelta(minutes=5))
    with pytest.raises(AuthenticationFailed):
        any_registry.signin.signin_with_passkey(
            credential=authenticator.get(options), binding_token=BROWSER
        )


@pytest.mark.parametrize(
    ("knobs", "reason"),
    [
        ({"origin": "https://evil.example"}, "origin"),
        ({"origin": "http://localhost:8001"}, "origin"),
        ({"rp_id": "evil.example"}, "RP ID"),
        ({"user_verified": False}, "User verification is required"),
    ],
    ids=["wrong-origin", "wrong-port", "wrong-rp-id", "uv-flag-missing"],
)
def test_R28_registration_rejects_wrong_origin_rp_id_and_missing_uv(
    any_registry: Registry,
    ada: str,
    authenticator: SoftAuthenticator,
    knobs: dict[str, Any],
    reason: str,
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        _register(any_registry, authenticator, "ada", **knobs)
    assert caught.value.code == "passkey_registration_failed"
    assert reason in caught.value.detail
    with any_registry.database.transaction() as session:
        assert (
            session.execute(select(AuthMethodRow).where(AuthMethodRow.type == "passkey")).first()
            is None
        )


@pytest.mark.parametrize(
    ("knobs", "reason"),
    [
        ({"origin": "https://evil.example"}, "origin"),
        ({"rp_id": "evil.example"}, "RP ID"),
        ({"user_verified": False}, "User verification is required"),
    ],
    ids=["wrong-origin", "wrong-rp-id", "uv-flag-missing"],
)
def test_R28_authentication_rejects_wrong_origin_rp_id_and_missing_uv(
    any_registry: Registry,
    ada: str,
    authenticator: SoftAuthenticator,
    knobs: dict[str, Any],
    reason: str,
) -> None:
    _register(any_registry, authenticator, "ada")
    options = any_registry.signin.passkey_signin_options(
        username=None, binding_token=BROWSER
    ).public_key
    with pytest.raises(AuthenticationFailed):
        any_registry.signin.signin_with_passkey(
            credential=authenticator.get(options, **knobs), binding_token=BROWSER
        )
    with any_registry.database.transaction() as session:
        [event] = session.execute(
            select(AuditEventRow).where(AuditEventRow.type == "signin.failed")
        ).scalars()
        assert reason in event.data["reason"]


def test_R28_credential_id_of_another_user_is_refused(
    any_registry: Registry, ada: str, authenticator: SoftAuthenticator
) -> None:
    ada_row = _register(any_registry, authenticator, "ada")
    add_user(any_registry, "bob")
    other = SoftAuthenticator(origin=any_registry.settings.origin)
    assert ada_row.credential_id is not None
    with pytest.raises(ValidationFailed) as caught:
        _register(any_registry, other, "bob", credential_id=ada_row.credential_id)
    assert caught.value.detail == "credential id already registered"


def test_R28_existing_credentials_are_excluded(
    any_registry: Registry, ada: str, authenticator: SoftAuthenticator
) -> None:
    row = _register(any_registry, authenticator, "ada")
    info, token = _tap_session(any_registry, "ada")
    options = any_registry.signin.passkey_registration_options(
        session_info=info, binding_token=token
    ).public_key
    assert [b64url_decode(c["id"]) for c in options["excludeCredentials"]] == [row.credential_id]


def test_username_first_refuses_another_users_passkey(
    any_registry: Registry, ada: str, authenticator: SoftAuthenticator
) -> None:
    add_user(any_registry, "bob")
    bobs = SoftAuthenticator(origin=any_registry.settings.origin)
    bob_row = _register(any_registry, bobs, "bob")
    _register(any_registry, authenticator, "ada")
    options = any_registry.signin.passkey_signin_options(
        username="ada", binding_token=BROWSER
    ).public_key
    assert bob_row.credential_id is not None
    assertion = bobs.get(options, credential_id=bob_row.credential_id)
    with pytest.raises(AuthenticationFailed):
        any_registry.signin.signin_with_passkey(credential=assertion, binding_token=BROWSER)


def test_unknown_username_gets_options_of_the_same_shape(
    any_registry: Registry, ada: str, authenticator: SoftAuthenticator
) -> None:
    _register(any_registry, authenticator, "ada")
    known = any_registry.signin.passkey_signin_options(username="ada", binding_token=BROWSER)
    unknown = any_registry.signin.passkey_signin_options(username="eve", binding_token=BROWSER)
    again = any_registry.signin.passkey_signin_options(username="EVE", binding_token=BROWSER)
    assert set(known.public_key) == set(unknown.public_key)
    assert len(unknown.public_key["allowCredentials"]) == 1
    fake = unknown.public_key["allowCredentials"][0]
    assert set(fake) == set(known.public_key["allowCredentials"][0])
    assert len(b64url_decode(fake["id"])) == 32
    assert again.public_key["allowCredentials"] == unknown.public_key["allowCredentials"]


def test_disabled_user_cannot_sign_in_with_a_passkey(
    any_registry: Registry, ada: str, authenticator: SoftAuthenticator
) -> None:
    _register(any_registry, authenticator, "ada")
    with any_registry.database.transaction() as session:
        session.execute(update(UserRow).where(UserRow.id == ada).values(enabled=False))
    options = any_registry.signin.passkey_signin_options(
        username=None, binding_token=BROWSER
    ).public_key
    with pytest.raises(AuthenticationFailed):
        any_registry.signin.signin_with_passkey(
            credential=authenticator.get(options), binding_token=BROWSER
        )


def test_expired_challenges_are_purged(
    any_registry: Registry, ada: str, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ssar.signin import passkeys
    from ssar.store.tables import WebAuthnChallengeRow

    monkeypatch.setattr(passkeys, "PURGE_ONE_IN", 1)  # sweep on this call (1 in 100 in service)

    any_registry.signin.passkey_signin_options(username=None, binding_token=BROWSER)
    clock.advance(timedelta(hours=2))
    any_registry.signin.passkey_signin_options(username=None, binding_token=BROWSER)
    with any_registry.database.transaction() as session:
        rows = list(session.execute(select(WebAuthnChallengeRow)).scalars())
    assert len(rows) == 1
    assert rows[0].created_at == clock.now()
