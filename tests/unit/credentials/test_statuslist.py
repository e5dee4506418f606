"""Token Status List (R16): the draft's encoding vectors, the token checks, and the fetcher."""

from __future__ import annotations

import json
import re
import zlib
from datetime import timedelta
from typing import Any

import httpx
import pytest

from ssar.credentials.jose import b64url_decode, b64url_encode, parse_compact_jws
from ssar.credentials.sdjwt_vc import verify_sd_jwt_vc
from ssar.credentials.statuslist import (
    HttpStatusListFetcher,
    StaticStatusListFetcher,
    check_status,
    decode_status_list,
    verify_status_list_token,
)
from ssar.errors import CredentialError
from tests.conftest import shared_path
from tests.unit.credentials.factory import AUD, ISS, NONCE, NOW, Issuer, Key, T, present, sign_jwt

URI = "https://issuer.test/statuslists/1"


def _blocks(markdown: str) -> list[dict[int, int]]:
    """Every run of ``status[i] = 0b…`` lines in the draft, in order."""
    blocks: list[dict[int, int]] = []
    current: dict[int, int] = {}
    for line in markdown.splitlines():
        match = re.match(r"status\[(\d+)\]\s*=\s*0b([01]+)", line.strip())
        if match:
            current[int(match[1])] = int(match[2], 2)
        elif current:
            blocks.append(current)
            current = {}
    return blocks


def _encoding_vectors() -> list[tuple[str, dict[int, int]]]:
    root = shared_path("vectors", "status-list")
    markdown = (root / "draft-ietf-oauth-status-list.md").read_text()
    includes = re.findall(r"\{::include (examples/status_list_encoding\w*_json\.md)\}", markdown)
    blocks = _blocks(markdown)
    assert len(includes) == len(blocks) == 6
    return [(name, block) for name, block in zip(includes, blocks, strict=True)]


def _load(name: str) -> dict[str, Any]:
    text = (shared_path("vectors", "status-list") / name).read_text()
    body = text[text.index("{") :]
    # the draft folds long lst values over several indented lines
    body = re.sub(r"\n\s+(?=[A-Za-z0-9_-])", "", body)
    document: dict[str, Any] = json.loads(body)
    return document


def test_R16_all_encoding_vectors_decode_to_listed_values() -> None:
    vectors = _encoding_vectors()
    assert {_load(name)["bits"] for name, _ in vectors} == {1, 2, 4, 8}
    for name, expected in vectors:
        status_list = decode_status_list(_load(name))
        for index, value in expected.items():
            assert status_list.status(index) == value, f"{name}[{index}]"
        if "long" in name or name.endswith(("4_json.md", "8_json.md")):
            assert len(status_list) == 2**20
            nonzero = {i for i in range(len(status_list)) if status_list.status(i)}
            assert nonzero == {i for i, v in expected.items() if v}, name


def test_R16_small_vectors_match_their_byte_arrays() -> None:
    for name in ("examples/status_list_encoding_json.md", "examples/status_list_encoding2_json.md"):
        text = (shared_path("vectors", "status-list") / name).read_text()
        expected = bytes(
            int(b, 16) for b in re.findall(r"0x([0-9a-f]{2})", text.split("encoded")[0])
        )
        assert decode_status_list(_load(name)).data == expected


def test_R16_index_out_of_range_refused() -> None:
    status_list = decode_status_list({"bits": 2, "lst": "eNo76fITAAPfAgc"})
    assert len(status_list) == 12
    with pytest.raises(CredentialError) as err:
        status_list.status(12)
    assert err.value.code == "malformed"
    with pytest.raises(CredentialError):
        status_list.status(-1)


@pytest.mark.parametrize("bits", [0, 3, 16, True, "1"])
def test_R16_bad_bits_refused(bits: Any) -> None:
    with pytest.raises(CredentialError):
        decode_status_list({"bits": bits, "lst": "eNrbuRgAAhcBXQ"})


def test_R16_decompression_bomb_refused() -> None:
    bomb = b64url_encode(zlib.compress(b"\0" * (1 << 25)))
    with pytest.raises(CredentialError):
        decode_status_list({"bits": 1, "lst": bomb})


def _list_token(
    key: Key, statuses: list[int], bits: int = 2, *, typ: str = "statuslist+jwt", **claims: Any
) -> str:
    data = bytearray((len(statuses) * bits + 7) // 8)
    for i, value in enumerate(statuses):
        data[i * bits // 8] |= value << (i * bits % 8)
    payload = {
        "iss": ISS,
        "sub": URI,
        "iat": T - 60,
        "exp": T + 3600,
        "ttl": 300,
        "status_list": {"bits": bits, "lst": b64url_encode(zlib.compress(bytes(data), 9))},
        **claims,
    }
    return sign_jwt({"typ": typ}, payload, key)


def test_R16_draft_statuslist_jwt_example_claims_decode() -> None:
    text = (shared_path("vectors", "status-list") / "examples/status_list_jwt_raw.md").read_text()
    token = "".join(text.split())
    jws = parse_compact_jws(token)
    assert jws.typ == "statuslist+jwt"
    assert jws.payload["sub"] == "https://example.com/statuslists/1"
    status_list = decode_status_list(jws.payload["status_list"])
    assert [status_list.status(i) for i in range(16)] == [
        1,
        0,
        0,
        1,
        1,
        1,
        0,
        1,
        1,
        1,
        0,
        0,
        0,
        1,
        0,
        1,
    ]


@pytest.mark.parametrize(
    ("index", "code"), [(0, None), (1, "revoked"), (2, "suspended"), (3, "revoked")]
)
def test_R16_status_values(index: int, code: str | None) -> None:
    issuer = Issuer()
    fetcher = StaticStatusListFetcher({URI: _list_token(issuer.key, [0, 1, 2, 3])})
    reference = {"status_list": {"idx": index, "uri": URI}}
    if code is None:
        assert (
            check_status(reference, issuer=ISS, fetcher=fetcher, trust=issuer.trust(), now=NOW) == 0
        )
        return
    with pytest.raises(CredentialError) as err:
        check_status(reference, issuer=ISS, fetcher=fetcher, trust=issuer.trust(), now=NOW)
    assert err.value.code == code


def test_R16_revoked_sd_jwt_vc_refused() -> None:
    issuer, holder = Issuer(), Key()
    jwt, ds = issuer.sd_jwt(
        disclosed={"given_name": "Erika"},
        holder=holder,
        payload={"status": {"status_list": {"idx": 1, "uri": URI}}},
    )
    fetcher = StaticStatusListFetcher({URI: _list_token(issuer.key, [0, 1])})
    with pytest.raises(CredentialError) as err:
        verify_sd_jwt_vc(
            present(jwt, ds, holder),
            trust=issuer.trust(),
            now=NOW,
            expected_nonce=NONCE,
            expected_audience=AUD,
            status_fetcher=fetcher,
        )
    assert err.value.code == "revoked"


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        ({"typ": "JWT"}, "malformed"),
        ({"sub": "https://issuer.test/statuslists/2"}, "malformed"),
        ({"exp": T - 3600}, "expired"),
        ({"ttl": -5}, "malformed"),
    ],
)
def test_R16_status_list_token_checks(mutate: dict[str, Any], code: str) -> None:
    issuer = Issuer()
    typ = mutate.pop("typ", "statuslist+jwt")
    token = _list_token(issuer.key, [0], typ=typ, **mutate)
    with pytest.raises(CredentialError) as err:
        verify_status_list_token(
            token, expected_uri=URI, expected_issuer=ISS, trust=issuer.trust(), now=NOW
        )
    assert err.value.code == code


def test_R16_status_list_signed_by_untrusted_key_refused() -> None:
    issuer = Issuer()
    token = _list_token(Key(), [0])
    with pytest.raises(CredentialError) as err:
        verify_status_list_token(
            token, expected_uri=URI, expected_issuer=ISS, trust=issuer.trust(), now=NOW
        )
    assert err.value.code == "bad_signature"


def test_R16_fetch_failures_fail_closed() -> None:
    issuer = Issuer()
    reference = {"status_list": {"idx": 0, "uri": URI}}

    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("down", request=request)

    for transport in (
        httpx.MockTransport(broken),
        httpx.MockTransport(lambda r: httpx.Response(503)),
        httpx.MockTransport(lambda r: httpx.Response(200, text="not a jwt")),
    ):
        fetcher = HttpStatusListFetcher(httpx.Client(transport=transport, timeout=2))
        with pytest.raises(CredentialError) as err:
            check_status(reference, issuer=ISS, fetcher=fetcher, trust=issuer.trust(), now=NOW)
        assert err.value.code in ("status_unavailable", "malformed")
    with pytest.raises(CredentialError) as missing:
        check_status(
            reference,
            issuer=ISS,
            fetcher=StaticStatusListFetcher({}),
            trust=issuer.trust(),
            now=NOW,
        )
    assert missing.value.code == "status_unavailable"


def test_R16_http_fetcher_caches_for_ttl() -> None:
    issuer = Issuer()
    token = _list_token(issuer.key, [0, 1], ttl=300)
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(
            200, text=token, headers={"content-type": "application/statuslist+jwt"}
        )

    fetcher = HttpStatusListFetcher(httpx.Client(transport=httpx.MockTransport(handler), timeout=2))
    reference = {"status_list": {"idx": 0, "uri": URI}}
    for offset in (0, 100, 299):
        check_status(
            reference,
            issuer=ISS,
            fetcher=fetcher,
            trust=issuer.trust(),
            now=NOW + timedelta(seconds=offset),
        )
    assert len(calls) == 1
    assert calls[0].headers["accept"] == "application/statuslist+jwt"
    check_status(
        reference,
        issuer=ISS,
        fetcher=fetcher,
        trust=issuer.trust(),
        now=NOW + timedelta(seconds=301),
    )
    assert len(calls) == 2


def test_lst_is_base64url() -> None:
    assert b64url_decode("eNrbuRgAAhcBXQ")[:2] == b"\x78\xda"
