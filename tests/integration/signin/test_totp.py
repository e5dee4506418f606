"""Authenticator-app codes: enrolment, ±1 step, no step twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from ssar.clock import FixedClock
from ssar.errors import AuthenticationFailed, ValidationFailed
from ssar.registry import Registry
from ssar.signin.totp import code_at_step, time_step
from ssar.store.tables import AuthMethodRow


def _enrol(registry: Registry) -> str:
    tap = registry.signin.taps.issue(username="ada", actor="test").tap
    issued = registry.signin.signin_with_tap(username="ada", tap=tap).session
    enrolment = registry.signin.begin_totp(session_info=issued.info, binding_token=issued.token)
    assert enrolment.qr_data_uri.startswith("data:image/svg+xml")
    assert enrolment.provisioning_uri.startswith("otpauth://totp/")
    code = code_at_step(enrolment.secret, time_step(registry.clock.now()))
    registry.signin.confirm_totp(
        session_info=issued.info,
        enrolment_token=enrolment.enrolment_token,
        code=code,
        binding_token=issued.token,
    )
    return enrolment.secret


def test_totp_secret_is_stored_encrypted(any_registry: Registry, ada: str) -> None:
    secret = _enrol(any_registry)
    with any_registry.database.transaction() as session:
        row = session.execute(
            select(AuthMethodRow).where(AuthMethodRow.type == "totp")
        ).scalar_one()
    assert row.secret_enc is not None
    assert secret.encode() not in row.secret_enc
    assert any_registry.secret_key.decrypt("totp", row.secret_enc) == secret.encode()


def test_totp_sign_in_accepts_one_step_either_side_and_never_a_step_twice(
    any_registry: Registry, ada: str, clock: FixedClock
) -> None:
    secret = _enrol(any_registry)
    clock.advance(timedelta(minutes=2))
    now = time_step(clock.now())
    signin = any_registry.signin
    # the enrolment step is spent; a code one step behind is still accepted
    assert signin.signin_with_totp(username="ada", code=code_at_step(secret, now - 1))
    with pytest.raises(AuthenticationFailed):
        signin.signin_with_totp(username="ada", code=code_at_step(secret, now - 1))
    # an older step than the last accepted one is never accepted again
    assert signin.signin_with_totp(username="ada", code=code_at_step(secret, now + 1))
    with pytest.raises(AuthenticationFailed):
        signin.signin_with_totp(username="ada", code=code_at_step(secret, now))
    clock.advance(timedelta(minutes=5))
    with pytest.raises(AuthenticationFailed):
        signin.signin_with_totp(
            username="ada", code=code_at_step(secret, time_step(clock.now()) + 2)
        )
    assert signin.signin_with_totp(
        username="ada", code=code_at_step(secret, time_step(clock.now()))
    )


def test_totp_enrolment_refuses_a_wrong_code_or_another_browser(
    any_registry: Registry, ada: str
) -> None:
    tap = any_registry.signin.taps.issue(username="ada", actor="test").tap
    issued = any_registry.signin.signin_with_tap(username="ada", tap=tap).session
    enrolment = any_registry.signin.begin_totp(session_info=issued.info, binding_token=issued.token)
    right = code_at_step(enrolment.secret, time_step(any_registry.clock.now()))
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    with pytest.raises(ValidationFailed):
        any_registry.signin.confirm_totp(
            session_info=issued.info,
            enrolment_token=enrolment.enrolment_token,
            code=wrong,
            binding_token=issued.token,
        )
    with pytest.raises(ValidationFailed):
        any_registry.signin.confirm_totp(
            session_info=issued.info,
            enrolment_token=enrolment.enrolment_token,
            code=right,
            binding_token="another-browser",
        )
    assert any_registry.signin.list_methods(session_info=issued.info) == []
