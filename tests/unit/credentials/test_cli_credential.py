"""``ssar credential verify`` per CONTRACTS.md: JSON shape and exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ssar.cli.main import app
from ssar.credentials.jose import b64url_encode
from tests.unit.credentials.factory import AUD, ISS, NONCE, NOW, Issuer, Key, T, present, sign_jwt

runner = CliRunner()


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Any]:
    issuer, holder = Issuer(), Key()
    jwt, ds = issuer.sd_jwt(
        disclosed={"given_name": "Erika", "family_name": "Mustermann"},
        holder=holder,
        payload={"status": {"status_list": {"idx": 1, "uri": "https://issuer.test/sl/1"}}},
    )
    credential = tmp_path / "cred.txt"
    credential.write_text(present(jwt, ds, holder))
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps({"issuers": [{"iss": ISS, "jwks": {"keys": [issuer.key.jwk]}}]}))
    status = tmp_path / "status.jwt"
    lst = b64url_encode(zlib.compress(bytes([0b0100])))  # idx 0 valid, idx 1 revoked (2 bits)
    status.write_text(
        sign_jwt(
            {"typ": "statuslist+jwt"},
            {
                "iss": ISS,
                "sub": "https://issuer.test/sl/1",
                "iat": T,
                "exp": T + 600,
                "status_list": {"bits": 2, "lst": lst},
            },
            issuer.key,
        )
    )
    return {"credential": credential, "trust": trust, "status": status}


def run(*args: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, ["credential", "verify", *args, "--json"])
    return result.exit_code, json.loads(result.stdout)


def base(setup: dict[str, Any]) -> list[str]:
    return [str(setup["credential"]), "--trust", str(setup["trust"]), "--now", NOW.isoformat()]


def test_cli_valid_presentation(setup: dict[str, Any]) -> None:
    code, out = run(*base(setup), "--nonce", NONCE, "--audience", AUD, "--require-key-binding")
    assert code == 0
    assert out["valid"] is True
    assert out["format"] == "dc+sd-jwt"
    assert out["issuer"] == ISS
    assert out["key_binding"] is True
    assert out["claims"]["given_name"] == "Erika"
    assert set(out) == {"valid", "format", "issuer", "claims", "key_binding"}


def test_cli_wrong_nonce_is_exit_1(setup: dict[str, Any]) -> None:
    code, out = run(*base(setup), "--nonce", "other", "--audience", AUD)
    assert code == 1
    assert out == {"valid": False, "error": "nonce_mismatch", "detail": out["detail"]}
    assert out["detail"]


def test_cli_revoked_by_status_list_file(setup: dict[str, Any]) -> None:
    code, out = run(*base(setup), "--status-list", f"https://issuer.test/sl/1={setup['status']}")
    assert code == 1
    assert out["error"] == "revoked"


def test_cli_untrusted_issuer(setup: dict[str, Any], tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"issuers": [{"iss": ISS, "jwks": {"keys": [Key().jwk]}}]}))
    code, out = run(str(setup["credential"]), "--trust", str(other), "--now", NOW.isoformat())
    assert code == 1
    assert out["error"] == "bad_signature"


def test_cli_expired_with_now_option(setup: dict[str, Any]) -> None:
    code, out = run(
        str(setup["credential"]), "--trust", str(setup["trust"]), "--now", "2030-01-01T00:00:00Z"
    )
    assert code == 1
    assert out["error"] == "expired"


@pytest.mark.parametrize(
    "args",
    [
        ["--now", "yesterday"],
        ["--require-key-binding"],
        ["--status-list", "no-equals-sign"],
    ],
)
def test_cli_usage_errors_exit_2(setup: dict[str, Any], args: list[str]) -> None:
    result = runner.invoke(
        app,
        [
            "credential",
            "verify",
            str(setup["credential"]),
            "--trust",
            str(setup["trust"]),
            *args,
            "--json",
        ],
    )
    assert result.exit_code == 2


def test_cli_missing_file_or_bad_trust_exit_2(setup: dict[str, Any], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2")
    assert (
        runner.invoke(
            app, ["credential", "verify", str(setup["credential"]), "--trust", str(bad), "--json"]
        ).exit_code
        == 2
    )
    missing = tmp_path / "missing.txt"
    assert (
        runner.invoke(
            app, ["credential", "verify", str(missing), "--trust", str(setup["trust"]), "--json"]
        ).exit_code
        == 2
    )


def test_cli_human_output(setup: dict[str, Any]) -> None:
    result = runner.invoke(app, ["credential", "verify", *base(setup)])
    assert result.exit_code == 0
    assert "given_name" in result.stdout
