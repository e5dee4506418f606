"""DCQL: building, parsing (the spec's examples), claims path pointers, and the verifier's
satisfaction check that never trusts the wallet's selection."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ssar.credentials.dcql import (
    build_identity_query,
    check_vp_token,
    parse_dcql,
    select_claims,
)
from ssar.credentials.results import VerifiedCredential
from ssar.errors import CredentialError
from tests.conftest import shared_path

VCT = "urn:ssar:identity:1"


def _vc(claims: dict[str, Any], *, fmt: str = "dc+sd-jwt", vct: str = VCT) -> VerifiedCredential:
    return VerifiedCredential(
        format=fmt,  # type: ignore[arg-type]
        issuer="https://idv.test",
        claims=claims,
        key_binding=True,
        credential_type=vct,
    )


NAMES = {"given_name": "Erika", "family_name": "Mustermann", "birthdate": "1984-01-26"}


@pytest.mark.parametrize(
    "name",
    [
        "simple.json",
        "simple_mdoc.json",
        "claims_alternatives.json",
        "credentials_alternatives.json",
        "multi_credentials.json",
        "complex_mdoc.json",
        "value_matching_simple.json",
    ],
)
def test_spec_examples_parse_and_round_trip(name: str) -> None:
    document = json.loads(
        shared_path("vectors", "openid4vp", "1.0", "examples", "query_lang", name).read_text()
    )
    query = parse_dcql(document)
    assert parse_dcql(query.to_json()) == query
    assert [c.id for c in query.credentials] == [c["id"] for c in document["credentials"]]


def test_identity_query_for_sd_jwt_and_mdoc() -> None:
    query = build_identity_query(
        claims=["given_name", "birthdate"], vct_values=[VCT], doctypes=["org.iso.18013.5.1.mDL"]
    )
    sd, mdoc = query.credentials
    assert sd.format == "dc+sd-jwt"
    assert sd.meta == {"vct_values": [VCT]}
    assert [c.path for c in sd.claims or ()] == [("given_name",), ("birthdate",)]
    assert mdoc.format == "mso_mdoc"
    assert mdoc.meta == {"doctype_value": "org.iso.18013.5.1.mDL"}
    assert [c.path for c in mdoc.claims or ()] == [
        ("org.iso.18013.5.1", "given_name"),
        ("org.iso.18013.5.1", "birth_date"),
    ]
    assert query.credential_sets is not None
    assert query.credential_sets[0].options == (("identity",), ("identity_mdoc",))
    assert parse_dcql(query.to_json()) == query


def test_claims_path_pointer_examples() -> None:
    credential = {
        "name": "Arthur Dent",
        "address": {"street_address": "42 Market Street"},
        "degrees": [{"type": "BSc"}, {"type": "MSc"}],
        "nationalities": ["British", "Betelgeusian"],
    }
    assert select_claims(credential, ("name",)) == ["Arthur Dent"]
    assert select_claims(credential, ("address", "street_address")) == ["42 Market Street"]
    assert select_claims(credential, ("degrees", None, "type")) == ["BSc", "MSc"]
    assert select_claims(credential, ("nationalities", 1)) == ["Betelgeusian"]
    assert select_claims(credential, ("nationalities", 7)) == []
    assert select_claims(credential, ("name", "first")) == []


def test_all_claims_disclosed_satisfies() -> None:
    query = build_identity_query(claims=list(NAMES), vct_values=[VCT])
    match = check_vp_token(query, {"identity": [_vc(dict(NAMES))]})
    assert match.first().claims["family_name"] == "Mustermann"


def test_undisclosed_required_claim_is_claims_missing() -> None:
    query = build_identity_query(claims=list(NAMES), vct_values=[VCT])
    partial = {k: v for k, v in NAMES.items() if k != "birthdate"}
    with pytest.raises(CredentialError) as missing:
        check_vp_token(query, {"identity": [_vc(partial)]})
    assert missing.value.code == "claims_missing"


def test_missing_credential_and_wrong_type_and_format() -> None:
    query = build_identity_query(claims=["given_name"], vct_values=[VCT])
    with pytest.raises(CredentialError) as none:
        check_vp_token(query, {})
    assert none.value.code == "credential_missing"
    with pytest.raises(CredentialError) as wrong_type:
        check_vp_token(query, {"identity": [_vc(NAMES, vct="urn:other")]})
    assert wrong_type.value.code == "untrusted_issuer"
    with pytest.raises(CredentialError) as wrong_format:
        check_vp_token(query, {"identity": [_vc(NAMES, fmt="jwt_vc")]})
    assert wrong_format.value.code == "format_mismatch"


def test_multiple_presentations_need_multiple() -> None:
    query = build_identity_query(claims=["given_name"], vct_values=[VCT])
    with pytest.raises(CredentialError) as many:
        check_vp_token(query, {"identity": [_vc(NAMES), _vc(NAMES)]})
    assert many.value.code == "malformed"


def test_claim_sets_and_values() -> None:
    query = parse_dcql(
        {
            "credentials": [
                {
                    "id": "pid",
                    "format": "dc+sd-jwt",
                    "meta": {"vct_values": [VCT]},
                    "claims": [
                        {"id": "a", "path": ["age_over_18"], "values": [True]},
                        {"id": "b", "path": ["birthdate"]},
                    ],
                    "claim_sets": [["a"], ["b"]],
                }
            ]
        }
    )
    check_vp_token(query, {"pid": [_vc({"age_over_18": True})]})
    check_vp_token(query, {"pid": [_vc({"birthdate": "1984-01-26"})]})
    with pytest.raises(CredentialError):
        check_vp_token(query, {"pid": [_vc({"age_over_18": 1})]})  # 1 is not true


def test_credential_sets_any_option() -> None:
    query = build_identity_query(claims=["given_name"], vct_values=[VCT], doctypes=["d.t"])
    mdoc = _vc({"d.t": {"given_name": "Erika"}}, fmt="mso_mdoc", vct="d.t")
    check_vp_token(query, {"identity_mdoc": [mdoc]})
    with pytest.raises(CredentialError) as none:
        check_vp_token(query, {})
    assert none.value.code == "credential_missing"


@pytest.mark.parametrize(
    "document",
    [
        None,
        {},
        {"credentials": []},
        {"credentials": [{"id": "x y", "format": "dc+sd-jwt"}]},
        {"credentials": [{"id": "a", "format": "dc+sd-jwt"}, {"id": "a", "format": "dc+sd-jwt"}]},
        {"credentials": [{"id": "a", "format": "dc+sd-jwt", "claims": [{"path": []}]}]},
        {"credentials": [{"id": "a", "format": "dc+sd-jwt", "claims": [{"path": [-1]}]}]},
        {"credentials": [{"id": "a", "format": "dc+sd-jwt", "claim_sets": [["x"]]}]},
        {"credentials": [{"id": "a", "format": "f"}], "credential_sets": [{"options": [["b"]]}]},
        {"credentials": [{"id": "a", "format": "f", "multiple": "yes"}]},
    ],
)
def test_invalid_queries_are_malformed(document: Any) -> None:
    with pytest.raises(CredentialError) as bad:
        parse_dcql(document)
    assert bad.value.code == "malformed"
