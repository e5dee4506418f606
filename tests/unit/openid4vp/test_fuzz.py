"""R19: the link, response and DCQL parsers raise only the package's typed errors."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ssar.credentials.dcql import parse_dcql, select_claims
from ssar.errors import SsarError
from ssar.openid4vp.encryption import jwe_header
from ssar.openid4vp.links import parse_link
from ssar.openid4vp.response import parse_form, parse_vp_token

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_R19_link_parser(text: str) -> None:
    for candidate in (text, "openid4vp://?" + text, "openid4vp://?client_id=a&request_uri=" + text):
        try:
            link = parse_link(candidate)
        except SsarError:
            continue
        assert link.client_id
        assert link.request_uri_method in ("get", "post")


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["vp_token", "state", "response", "error", "x"]), st.text(max_size=80)
    )
)
def test_R19_response_form_parser(form: dict[str, str]) -> None:
    with contextlib.suppress(SsarError):
        parse_form(form)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_R19_vp_token_and_dcql_parsers(value: Any) -> None:
    for parse in (parse_vp_token, parse_dcql):
        with contextlib.suppress(SsarError):
            parse(value)
    with contextlib.suppress(SsarError):
        parse_vp_token(json.dumps(value))
    select_claims(value, ("a", None, 0))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_R19_jwe_header_parser(text: str) -> None:
    with contextlib.suppress(SsarError):
        jwe_header(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), json_values)
def test_R19_wallet_request_object_checks(token: str, claims: Any) -> None:
    import base64
    from pathlib import Path

    from ssar.clock import SystemClock
    from ssar.wallet.presenter import Presenter
    from ssar.wallet.store import Wallet

    presenter = Presenter(wallet=Wallet(Path("/nonexistent")), http=None, clock=SystemClock())  # type: ignore[arg-type]
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"oauth-authz-req+jwt"}').rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    for candidate in (token, f"{header.decode()}.{body.decode()}."):
        with contextlib.suppress(SsarError):
            presenter.check_request(candidate, expected_client_id="redirect_uri:https://v.test/r")
