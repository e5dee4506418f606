"""Cross-device presentation: the verifier runs as a real ``ssar serve`` process on each
database; the wallet CLI (another "device") answers the link; the caller reads the result
through its own registry, as the recovery flow will (no state is kept in one process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ssar.cli.main import app
from ssar.clock import SystemClock
from ssar.credentials.dcql import build_identity_query
from ssar.errors import CredentialError
from ssar.registry import Registry
from ssar.wallet.store import Wallet
from tests.conftest import make_settings
from tests.support.issuer import VCT, IdentityIssuer, holder_from
from tests.support.server import free_port, running_server


def _cli(*args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    result = CliRunner().invoke(app, [*args, "--json"])
    try:
        return result.exit_code, json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"not JSON (exit {result.exit_code}): {result.output}")


@pytest.mark.parametrize("mode", ["direct_post", "direct_post.jwt"])
def test_cross_device_presentation_with_the_wallet_cli(
    db_url: str, tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    var_dir = tmp_path / "var"
    registry = Registry(
        make_settings(db_url, tmp_path, base_url=f"http://localhost:{port}"), clock=SystemClock()
    )
    issuer = IdentityIssuer()
    wallet_dir = tmp_path / "phone"
    monkeypatch.setenv("SSAR_WALLET_DIR", str(wallet_dir))
    monkeypatch.setenv("SSAR_VAR_DIR", str(var_dir))
    try:
        code, init = _cli("wallet", "init")
        assert code == 0
        key = Wallet(wallet_dir).holder_key()
        assert init["holder_jwk"] == key.public_jwk()
        credential = tmp_path / "identity.sd-jwt"
        issuer.write(credential, holder=holder_from(key.private_key), now=SystemClock().now())
        code, imported = _cli("wallet", "import", str(credential))
        assert code == 0
        assert imported["credential_type"] == VCT
        code, listed = _cli("wallet", "list")
        assert [c["id"] for c in listed["credentials"]] == [imported["id"]]

        _ = registry.secret_key, registry.signing_key  # the server loads the same key files
        with running_server(
            database_url=db_url, var_dir=var_dir, port=port, demo=False, log=tmp_path / "serve.log"
        ):
            request = registry.presentations.create_request(
                dcql=build_identity_query(claims=["given_name", "family_name"], vct_values=[VCT]),
                trust=issuer.trust(),
                response_mode=mode,  # type: ignore[arg-type]
            )
            code, presented = _cli("wallet", "present", request.link)
            assert code == 0, presented
            assert presented["response_mode"] == mode
            assert presented["redirect_uri"] is None
            assert presented["disclosed"] == {"identity": ["given_name", "family_name"]}

            # the same link again: the verifier no longer serves it (single use)
            code, again = _cli("wallet", "present", request.link)
            assert code == 1
            assert again["error"] == "verifier_unavailable"

        status = registry.presentations.status(transaction_id=request.transaction_id)
        assert status.status == "verified"
        result = registry.presentations.take_result(transaction_id=request.transaction_id)
        assert result.claims["given_name"] == "Erika"
        assert "birthdate" not in result.claims
        with pytest.raises(CredentialError):
            registry.presentations.take_result(transaction_id=request.transaction_id)
    finally:
        registry.close()


def test_wallet_cli_import_refuses_foreign_credential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.unit.credentials.factory import Key

    monkeypatch.setenv("SSAR_WALLET_DIR", str(tmp_path / "w"))
    assert _cli("wallet", "init")[0] == 0
    credential = IdentityIssuer().write(tmp_path / "c", holder=Key(), now=SystemClock().now())
    code, refused = _cli("wallet", "import", str(credential))
    assert code == 1
    assert refused["error"] == "key_binding_invalid"
    code, bad_link = _cli("wallet", "present", "https://nowhere.test/")
    assert code == 2
    assert bad_link["error"] == "invalid_link"
