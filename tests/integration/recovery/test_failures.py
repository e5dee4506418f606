"""Every way recovery must fail ends the same for the person: state ``failed``, the uniform
message, the account unchanged (R1, R2). Only the case record knows the reason."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from ssar.recovery.service import UNIFORM_MESSAGE
from ssar.store.tables import AuditEventRow, OutboxRow, RecoveryFlowRow
from ssar.wallet.presenter import PresentationRefused
from tests.integration.recovery.conftest import Harness, profile_doc
from tests.integration.recovery.test_flow import give_passkey
from tests.support.issuer import IdentityIssuer

EXTENSION = "https://hr.test/validate"


def run(harness: Harness, username: str, **wallet: Any) -> dict[str, Any]:
    started = harness.start(username)
    assert started.status_code == 201, started.text
    body = started.json()
    # the wallet learns that the verifier refused; what the person sees is the flow's business
    with contextlib.suppress(PresentationRefused):
        harness.present(harness.wallet(**wallet), body["verification"]["link"])
    return harness.flow(body["id"])


def case_of(harness: Harness, flow: dict[str, Any]) -> RecoveryFlowRow:
    with harness.registry.database.transaction() as session:
        return harness.registry.recovery.row(session, flow["id"])


def assert_uniform_failure(
    harness: Harness, flow: dict[str, Any], username: str | None
) -> RecoveryFlowRow:
    """Checks what the person sees and that nothing changed; returns the case record."""
    assert flow["state"] == "failed", flow
    assert flow["message"] == UNIFORM_MESSAGE
    assert flow["next"] == {"step": "done", "evaluation": False}
    assert set(flow) == {"id", "state", "next", "message"}
    if username is not None:
        assert harness.methods(username) == [("passkey", True)]  # R2: unchanged
        user_id = harness.registry.directory.get_user(username).id
        with harness.registry.database.transaction() as session:
            mail = session.execute(select(OutboxRow).where(OutboxRow.user_id == user_id)).first()
        assert mail is None
    return case_of(harness, flow)


@pytest.fixture
def org(harness: Harness) -> Harness:
    harness.user("erika", "Erika", "Mustermann")
    give_passkey(harness, "erika")
    harness.profile()
    return harness


def test_R1_unknown_user(org: Harness) -> None:
    flow = run(org, "nobody")
    case = assert_uniform_failure(org, flow, None)
    assert (case.reason, case.eligibility) == ("not_eligible", "unknown_user")


def test_R1_user_in_no_profile(org: Harness) -> None:
    org.registry.directory.add_group(name="Sales", actor="test")
    org.user("sam", "Erika", "Mustermann", groups=("Sales",))
    give_passkey(org, "sam")
    case = assert_uniform_failure(org, run(org, "sam"), "sam")
    assert case.eligibility == "not_included"


def test_R1_excluded_group_wins(org: Harness) -> None:
    org.user("exec", "Erika", "Mustermann", groups=("Platform", "Executives"))
    give_passkey(org, "exec")
    case = assert_uniform_failure(org, run(org, "exec"), "exec")
    assert case.eligibility == "excluded"


def test_R9_privileged_user_is_refused(org: Harness) -> None:
    org.user("boss", "Erika", "Mustermann", privileged=True)
    give_passkey(org, "boss")
    case = assert_uniform_failure(org, run(org, "boss"), "boss")
    assert case.eligibility == "privileged"


def test_R9_privileged_user_recovers_when_the_profile_opts_in(org: Harness) -> None:
    org.profile(allow_privileged=True)
    org.user("boss", "Bruno", "Boss", privileged=True)
    give_passkey(org, "boss")
    claims = {"given_name": "Bruno", "family_name": "Boss", "birthdate": "1970-01-01"}
    assert run(org, "boss", claims=claims)["state"] == "restored"


def test_untrusted_issuer(org: Harness) -> None:
    stranger = IdentityIssuer(iss="https://forger.test")
    case = assert_uniform_failure(org, run(org, "erika", issuer=stranger), "erika")
    assert case.reason == "untrusted_issuer"


def test_trusted_issuer_name_with_another_key(org: Harness) -> None:
    impostor = IdentityIssuer(iss=org.issuer.iss)  # the trusted name, a key of its own
    case = assert_uniform_failure(org, run(org, "erika", issuer=impostor), "erika")
    assert case.reason == "bad_signature"


def test_expired_credential(org: Harness) -> None:
    case = assert_uniform_failure(org, run(org, "erika", lifetime_seconds=-3600), "erika")
    assert case.reason == "expired"


def test_revoked_credential(org: Harness) -> None:
    org.serve_status_list([0, 1, 0])
    assert run(org, "erika", status_index=0)["state"] == "restored"
    org.user("eva", "Eva", "Mustermann")
    give_passkey(org, "eva")
    flow = run(
        org,
        "eva",
        claims={"given_name": "Eva", "family_name": "Mustermann", "birthdate": "1990-01-01"},
        status_index=1,
    )
    case = assert_uniform_failure(org, flow, "eva")
    assert case.reason == "revoked"


def test_unreachable_status_list_fails_closed(org: Harness) -> None:
    case = assert_uniform_failure(org, run(org, "erika", status_index=0), "erika")
    assert case.reason not in (None, "not_eligible")


def test_R12_replayed_presentation_for_another_flow(org: Harness) -> None:
    """A presentation captured from one flow, sent to another flow's response endpoint."""
    from ssar.wallet.presenter import Presenter

    first = org.start("erika").json()
    second = org.start("erika").json()
    wallet = org.wallet()
    presenter = Presenter(wallet=wallet, http=org.http, clock=org.clock)
    request_a = presenter.fetch_request(first["verification"]["link"])
    request_b = presenter.fetch_request(second["verification"]["link"])
    vp_token = presenter.build_vp_token(request_a, presenter.select(request_a))  # nonce of A
    form = presenter._response_form(request_b, {"vp_token": vp_token, "state": request_b.state})
    answer = org.http.post(request_b.response_uri, data=form)
    assert answer.status_code == 400
    case = assert_uniform_failure(org, org.flow(second["id"]), "erika")
    assert case.reason == "nonce_mismatch"


@pytest.mark.parametrize(
    ("rule", "state"),
    [("exact", "failed"), ("relaxed", "restored")],
)
def test_R7_name_mismatch_under_exact_that_relaxed_accepts(
    org: Harness, rule: str, state: str
) -> None:
    org.profile(
        validation={
            "match": rule,
            "claims": {"given_name": "given_name", "family_name": "family_name"},
        }
    )
    org.user("maria", "Maria", "Garcia")
    give_passkey(org, "maria")
    flow = run(
        org,
        "maria",
        claims={
            "given_name": "Maria Elena",
            "family_name": "Garcia Lopez",
            "birthdate": "1980-02-03",
        },
    )
    if state == "failed":
        case = assert_uniform_failure(org, flow, "maria")
        assert case.reason == "not_matched"
    else:
        assert flow["state"] == "restored"


def test_R7_different_family_name_under_relaxed(org: Harness) -> None:
    org.profile(
        validation={
            "match": "relaxed",
            "claims": {"given_name": "given_name", "family_name": "family_name"},
        }
    )
    flow = run(
        org,
        "erika",
        claims={"given_name": "Erika", "family_name": "Musterfrau", "birthdate": "1984-01-26"},
    )
    case = assert_uniform_failure(org, flow, "erika")
    assert case.reason == "not_matched"


def test_R32_namesake_without_a_telling_claim_is_refused(org: Harness) -> None:
    org.user("erika2", "Erika", "Mustermann")  # another Erika Mustermann
    case = assert_uniform_failure(org, run(org, "erika"), "erika")
    assert case.reason == "ambiguous_namesakes"


def test_R32_a_bound_birthdate_singles_the_account_out(org: Harness) -> None:
    org.profile(
        validation={
            "match": "exact",
            "claims": {
                "given_name": "given_name",
                "family_name": "family_name",
                "birthdate": "birthdate",
            },
        }
    )
    org.registry.directory.update_user(
        org.registry.directory.get_user("erika").id, birthdate="1984-01-26"
    )
    org.user("erika2", "Erika", "Mustermann", birthdate="1970-05-05")
    assert run(org, "erika")["state"] == "restored"


def _extension(org: Harness, answer: Callable[[httpx.Request], httpx.Response]) -> None:
    org.profile(
        validation={
            "match": "exact",
            "claims": {"given_name": "given_name", "family_name": "family_name"},
            "extension": {"url": EXTENSION, "timeout_seconds": 1},
        }
    )
    org.external["hr.test"] = answer


def test_R29_extension_says_yes(org: Harness) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"result": "pass"})

    _extension(org, answer)
    assert run(org, "erika")["state"] == "restored"
    assert seen[0].headers["authorization"].startswith("Bearer ")


@pytest.mark.parametrize(
    "behaviour",
    ["no", "timeout", "error", "garbage"],
)
def test_R29_extension_no_timeout_or_error_fails_closed(org: Harness, behaviour: str) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if behaviour == "timeout":
            raise httpx.ReadTimeout("slow", request=request)
        if behaviour == "error":
            return httpx.Response(500, text="boom")
        if behaviour == "garbage":
            return httpx.Response(200, text="{not json")
        return httpx.Response(200, json={"result": "fail", "failed_claims": ["birthdate"]})

    _extension(org, answer)
    case = assert_uniform_failure(org, run(org, "erika"), "erika")
    assert case.reason == "extension_failed"


def test_R10_evidence_that_recovered_one_account_cannot_recover_another(org: Harness) -> None:
    org.user("root", "Rita", "Admin", groups=(), emails=("admin@example.org",), privileged=True)
    assert run(org, "erika")["state"] == "restored"
    org.user("mallory", "Mallory", "Other")
    give_passkey(org, "mallory")
    case = assert_uniform_failure(org, run(org, "mallory"), "mallory")
    assert case.reason == "evidence_reused"
    with org.registry.database.transaction() as session:
        types = [e.type for e in session.execute(select(AuditEventRow)).scalars()]
        alerts = (
            session.execute(select(OutboxRow).where(OutboxRow.kind == "recovery.alert"))
            .scalars()
            .all()
        )
    assert "recovery.evidence_reused" in types
    assert [a.to_address for a in alerts] == ["admin@example.org"]


def test_R8_throttled_account_and_address(org: Harness) -> None:
    limits = org.registry.settings.recovery
    for _ in range(limits.account_flows_per_day):
        assert org.start("erika").status_code == 201
    refused = org.start("erika")
    assert refused.status_code == 429
    assert refused.json()["detail"] == UNIFORM_MESSAGE
    assert refused.headers["content-type"].startswith("application/problem+json")
    # unknown names count the same way (no hint whether the account exists)
    for _ in range(limits.account_flows_per_day):
        assert org.start("ghost").status_code == 201
    assert org.start("ghost").status_code == 429
    # the address: 20 an hour over any usernames (10 used above)
    used = 2 * limits.account_flows_per_day
    for i in range(limits.address_flows_per_hour - used):
        assert org.start(f"user{i}").status_code == 201
    assert org.start("someone-new").status_code == 429
    assert org.methods("erika") == [("passkey", True)]


def test_R32_more_namesakes_than_the_lookup_returns_is_refused(org: Harness) -> None:
    org.profile(
        validation={
            "match": "exact",
            "claims": {
                "given_name": "given_name",
                "family_name": "family_name",
                "birthdate": "birthdate",
            },
        }
    )
    for i in range(50):  # with erika: 51 accounts fit, more than the lookup's limit of 50
        org.registry.directory.add_user(
            username=f"erika{i}", given_name="Erika", family_name="Mustermann"
        )
    case = assert_uniform_failure(org, run(org, "erika"), "erika")
    assert case.reason == "ambiguous_namesakes"
    assert case.checks[-1]["detail"] == "too_many_namesakes"


JWKS_URI = "https://keys.test/jwks.json"


def _jwks_uri_profile(org: Harness) -> None:
    doc = profile_doc(org.issuer)
    doc["credentials"]["issuers"] = [{"iss": org.issuer.iss, "jwks_uri": JWKS_URI}]
    org.registry.profiles.apply({"profiles": [doc]}, actor="test")


def test_an_issuer_published_at_a_jwks_uri_is_fetched_and_trusted(org: Harness) -> None:
    _jwks_uri_profile(org)
    served = {"keys": [org.issuer.key.jwk]}
    org.external["keys.test"] = lambda request: httpx.Response(200, json=served)
    flow = run(org, "erika")
    assert flow["state"] in ("restored", "validating", "face_checking"), flow
    assert case_of(org, flow).issuer == org.issuer.iss


@pytest.mark.parametrize(
    "answer",
    [
        lambda request: httpx.Response(503),
        lambda request: httpx.Response(200, content=b"<html>not json</html>"),
        lambda request: httpx.Response(200, json={"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}),
        None,  # unreachable
    ],
    ids=["error", "garbage", "only-a-symmetric-key", "unreachable"],
)
def test_an_unavailable_jwks_uri_fails_closed(
    org: Harness, answer: Callable[[httpx.Request], httpx.Response] | None
) -> None:
    _jwks_uri_profile(org)
    if answer is not None:
        org.external["keys.test"] = answer
    case = assert_uniform_failure(org, run(org, "erika"), "erika")
    assert case.reason == "untrusted_issuer"
