"""``ssar bench credentials --json``: one document with every figure of CONTRACTS.md."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from ssar.cli.main import app


def test_bench_credentials_json_has_contract_keys() -> None:
    result = CliRunner().invoke(app, ["bench", "credentials", "--seconds", "0.1", "--json"])
    assert result.exit_code == 0
    figures = json.loads(result.stdout)
    assert set(figures) == {
        "raw_es256_verify_per_s",
        "sd_jwt_vc_kb_verify_per_s",
        "jwt_vc_verify_per_s",
        "mdoc_verify_per_s",
    }
    assert figures["raw_es256_verify_per_s"] > figures["sd_jwt_vc_kb_verify_per_s"] > 0
    assert figures["jwt_vc_verify_per_s"] > 0
