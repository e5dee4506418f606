"""DCQL, the Digital Credentials Query Language of OpenID4VP 1.0 §6-7: build the query a profile
needs, evaluate it against a holder's credential (wallet side), and check that verified
presentations satisfy it (verifier side; the wallet's selection is never trusted).

Errors (``CredentialError`` codes):
- ``malformed``: a query or a VP Token that breaks the DCQL rules (unknown credential query id,
  several presentations where ``multiple`` is false, a bad claims path pointer, ...);
- ``credential_missing``: a required credential query (or credential set) was not answered;
- ``claims_missing``: a presentation does not disclose a claim its credential query requires
  (or its value is not one of the requested ``values``);
- ``untrusted_issuer``: a presentation's ``vct`` / docType is not one the query allows;
- ``format_mismatch``: a presentation is not of the format its credential query names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ssar.credentials.results import VerifiedCredential
from ssar.errors import CredentialError

#: Claims path pointer component: a key, an array index, or ``None`` for "every element".
PathComponent = str | int | None
ClaimPath = tuple[PathComponent, ...]

SD_JWT_VC = "dc+sd-jwt"
MSO_MDOC = "mso_mdoc"
SUPPORTED_FORMATS = frozenset({SD_JWT_VC, MSO_MDOC})
#: Verified-credential formats that answer a ``dc+sd-jwt`` query (legacy ``vc+sd-jwt`` too).
_FORMATS_FOR_QUERY: dict[str, frozenset[str]] = {
    SD_JWT_VC: frozenset({"dc+sd-jwt", "vc+sd-jwt"}),
    MSO_MDOC: frozenset({"mso_mdoc"}),
}
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MAX_CREDENTIALS = 32
_MAX_CLAIMS = 128
_MAX_PATH = 16

#: ISO/IEC 18013-5 mDL namespace; other doctypes (e.g. the EU PID) use their doctype.
MDL_DOCTYPE = "org.iso.18013.5.1.mDL"
MDL_NAMESPACE = "org.iso.18013.5.1"
#: SD-JWT VC claim names whose mdoc data element has another name.
MDOC_ELEMENT_NAMES = {"birthdate": "birth_date"}


def _malformed(detail: str) -> CredentialError:
    return CredentialError(detail, code="malformed")


@dataclass(frozen=True)
class ClaimQuery:
    path: ClaimPath
    id: str | None = None
    values: tuple[str | int | bool, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": list(self.path)}
        if self.id is not None:
            out["id"] = self.id
        if self.values is not None:
            out["values"] = list(self.values)
        return out


@dataclass(frozen=True)
class CredentialQuery:
    id: str
    format: str
    meta: Mapping[str, Any] = field(default_factory=dict)
    claims: tuple[ClaimQuery, ...] | None = None
    claim_sets: tuple[tuple[str, ...], ...] | None = None
    multiple: bool = False
    require_cryptographic_holder_binding: bool = True

    @property
    def allowed_types(self) -> tuple[str, ...] | None:
        """``vct_values`` for SD-JWT VC, ``(doctype_value,)`` for mdoc; ``None`` = any."""
        if self.format == SD_JWT_VC:
            values = self.meta.get("vct_values")
            return tuple(values) if isinstance(values, list | tuple) else None
        if self.format == MSO_MDOC:
            doctype = self.meta.get("doctype_value")
            return (doctype,) if isinstance(doctype, str) else None
        return None

    def claim_options(self) -> list[tuple[ClaimQuery, ...]]:
        """The acceptable claim combinations, most preferred first (§6.4.1)."""
        if not self.claims:
            return [()]
        if self.claim_sets is None:
            return [self.claims]
        by_id = {c.id: c for c in self.claims}
        return [tuple(by_id[i] for i in option) for option in self.claim_sets]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "format": self.format, "meta": dict(self.meta)}
        if self.claims is not None:
            out["claims"] = [c.to_json() for c in self.claims]
        if self.claim_sets is not None:
            out["claim_sets"] = [list(s) for s in self.claim_sets]
        if self.multiple:
            out["multiple"] = True
        if not self.require_cryptographic_holder_binding:
            out["require_cryptographic_holder_binding"] = False
        return out


@dataclass(frozen=True)
class CredentialSetQuery:
    options: tuple[tuple[str, ...], ...]
    required: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"options": [list(o) for o in self.options], "required": self.required}


@dataclass(frozen=True)
class DcqlQuery:
    credentials: tuple[CredentialQuery, ...]
    credential_sets: tuple[CredentialSetQuery, ...] | None = None

    def credential(self, query_id: str) -> CredentialQuery | None:
        for query in self.credentials:
            if query.id == query_id:
                return query
        return None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"credentials": [c.to_json() for c in self.credentials]}
        if self.credential_sets is not None:
            out["credential_sets"] = [s.to_json() for s in self.credential_sets]
        return out


# --- building --------------------------------------------------------------------------------


def mdoc_claim_path(doctype: str, claim: str) -> ClaimPath:
    """The mdoc ``[namespace, element]`` pointer for an SD-JWT VC style claim name."""
    namespace = MDL_NAMESPACE if doctype == MDL_DOCTYPE else doctype
    return (namespace, MDOC_ELEMENT_NAMES.get(claim, claim))


def build_identity_query(
    *,
    claims: Sequence[str],
    vct_values: Sequence[str] = (),
    doctypes: Sequence[str] = (),
    require_holder_binding: bool = True,
) -> DcqlQuery:
    """A query for one identity credential disclosing ``claims`` (top-level claim names such as
    ``given_name``, ``family_name``, ``birthdate``, ``portrait``).

    One credential query per accepted format: ``identity`` (SD-JWT VC with ``vct_values``) and
    ``identity_mdoc_<n>`` (one per mdoc doctype). With more than one, a required credential set
    says that any one of them will do.
    """
    if not vct_values and not doctypes:
        raise ValueError("build_identity_query needs vct_values or doctypes")
    if not claims:
        raise ValueError("build_identity_query needs at least one claim")
    queries: list[CredentialQuery] = []
    if vct_values:
        queries.append(
            CredentialQuery(
                id="identity",
                format=SD_JWT_VC,
                meta={"vct_values": list(vct_values)},
                claims=tuple(ClaimQuery(path=(name,)) for name in claims),
                require_cryptographic_holder_binding=require_holder_binding,
            )
        )
    for n, doctype in enumerate(doctypes):
        queries.append(
            CredentialQuery(
                id=f"identity_mdoc_{n}" if n else "identity_mdoc",
                format=MSO_MDOC,
                meta={"doctype_value": doctype},
                claims=tuple(ClaimQuery(path=mdoc_claim_path(doctype, name)) for name in claims),
                require_cryptographic_holder_binding=require_holder_binding,
            )
        )
    sets = None
    if len(queries) > 1:
        sets = (CredentialSetQuery(options=tuple((q.id,) for q in queries)),)
    return DcqlQuery(credentials=tuple(queries), credential_sets=sets)


# --- parsing ---------------------------------------------------------------------------------


def _parse_path(value: Any) -> ClaimPath:
    if not isinstance(value, list) or not value or len(value) > _MAX_PATH:
        raise _malformed("a claims path pointer is not a non-empty array")
    for component in value:
        if component is None or isinstance(component, str):
            continue
        if isinstance(component, int) and not isinstance(component, bool) and component >= 0:
            continue
        raise _malformed("a claims path pointer holds something other than a key, index or null")
    return tuple(value)


def _parse_claim(value: Any) -> ClaimQuery:
    if not isinstance(value, dict):
        raise _malformed("a claims query is not an object")
    claim_id = value.get("id")
    if claim_id is not None and (not isinstance(claim_id, str) or not _ID.match(claim_id)):
        raise _malformed("a claims query id is not alphanumeric, '_' or '-'")
    values = value.get("values")
    if values is not None:
        if not isinstance(values, list) or not values:
            raise _malformed("claims query values is not a non-empty array")
        if not all(isinstance(v, str | int | bool) for v in values):
            raise _malformed("claims query values must be strings, integers or booleans")
        values = tuple(values)
    return ClaimQuery(path=_parse_path(value.get("path")), id=claim_id, values=values)


def _parse_credential(value: Any) -> CredentialQuery:
    if not isinstance(value, dict):
        raise _malformed("a credential query is not an object")
    query_id = value.get("id")
    if not isinstance(query_id, str) or not _ID.match(query_id):
        raise _malformed("a credential query id is not alphanumeric, '_' or '-'")
    fmt = value.get("format")
    if not isinstance(fmt, str) or not fmt:
        raise _malformed(f"credential query {query_id} has no format")
    meta = value.get("meta", {})
    if not isinstance(meta, dict):
        raise _malformed(f"credential query {query_id} meta is not an object")
    if fmt == SD_JWT_VC and "vct_values" in meta:
        vct_values = meta["vct_values"]
        if not isinstance(vct_values, list) or not vct_values:
            raise _malformed("vct_values is not a non-empty array")
        if not all(isinstance(v, str) for v in vct_values):
            raise _malformed("vct_values holds a non-string")
    if fmt == MSO_MDOC and not isinstance(meta.get("doctype_value", ""), str):
        raise _malformed("doctype_value is not a string")
    claims_raw = value.get("claims")
    claims: tuple[ClaimQuery, ...] | None = None
    if claims_raw is not None:
        if not isinstance(claims_raw, list) or not claims_raw or len(claims_raw) > _MAX_CLAIMS:
            raise _malformed(f"credential query {query_id} claims is not a non-empty array")
        claims = tuple(_parse_claim(c) for c in claims_raw)
        ids = [c.id for c in claims if c.id is not None]
        if len(ids) != len(set(ids)):
            raise _malformed(f"credential query {query_id} repeats a claim id")
    sets_raw = value.get("claim_sets")
    claim_sets: tuple[tuple[str, ...], ...] | None = None
    if sets_raw is not None:
        if claims is None:
            raise _malformed("claim_sets without claims")
        known = {c.id for c in claims}
        if not isinstance(sets_raw, list) or not sets_raw:
            raise _malformed("claim_sets is not a non-empty array")
        parsed_sets = []
        for option in sets_raw:
            if not isinstance(option, list) or not option:
                raise _malformed("a claim set is not a non-empty array")
            if not all(isinstance(i, str) and i in known for i in option):
                raise _malformed("a claim set names an unknown claim id")
            parsed_sets.append(tuple(option))
        claim_sets = tuple(parsed_sets)
    multiple = value.get("multiple", False)
    binding = value.get("require_cryptographic_holder_binding", True)
    if not isinstance(multiple, bool) or not isinstance(binding, bool):
        raise _malformed("multiple and require_cryptographic_holder_binding must be booleans")
    return CredentialQuery(
        id=query_id,
        format=fmt,
        meta=meta,
        claims=claims,
        claim_sets=claim_sets,
        multiple=multiple,
        require_cryptographic_holder_binding=binding,
    )


def parse_dcql(document: Any) -> DcqlQuery:
    """A ``dcql_query`` object, validated (§6); unknown properties are ignored."""
    if not isinstance(document, dict):
        raise _malformed("dcql_query is not an object")
    creds = document.get("credentials")
    if not isinstance(creds, list) or not creds or len(creds) > _MAX_CREDENTIALS:
        raise _malformed("dcql_query credentials is not a non-empty array")
    credentials = tuple(_parse_credential(c) for c in creds)
    ids = [c.id for c in credentials]
    if len(ids) != len(set(ids)):
        raise _malformed("dcql_query repeats a credential query id")
    sets_raw = document.get("credential_sets")
    credential_sets: tuple[CredentialSetQuery, ...] | None = None
    if sets_raw is not None:
        if not isinstance(sets_raw, list) or not sets_raw:
            raise _malformed("credential_sets is not a non-empty array")
        parsed = []
        for entry in sets_raw:
            if not isinstance(entry, dict):
                raise _malformed("a credential set query is not an object")
            options = entry.get("options")
            required = entry.get("required", True)
            if not isinstance(options, list) or not options or not isinstance(required, bool):
                raise _malformed("a credential set query needs options and a boolean required")
            opts = []
            for option in options:
                if not isinstance(option, list) or not option:
                    raise _malformed("a credential set option is not a non-empty array")
                if not all(isinstance(i, str) and i in ids for i in option):
                    raise _malformed("a credential set option names an unknown credential query")
                opts.append(tuple(option))
            parsed.append(CredentialSetQuery(options=tuple(opts), required=required))
        credential_sets = tuple(parsed)
    return DcqlQuery(credentials=credentials, credential_sets=credential_sets)


# --- claims path pointers (§7) ---------------------------------------------------------------


def select_claims(claims: Any, path: ClaimPath) -> list[Any]:
    """The claims ``path`` selects in a JSON credential (§7.1.1); an empty list when it selects
    nothing. A path that walks into a value of the wrong kind selects nothing either (the
    credential simply does not have that claim)."""
    selected: list[Any] = [claims]
    for component in path:
        nxt: list[Any] = []
        for element in selected:
            if isinstance(component, str):
                if isinstance(element, dict) and component in element:
                    nxt.append(element[component])
            elif component is None:
                if isinstance(element, list):
                    nxt.extend(element)
            elif isinstance(element, list) and 0 <= component < len(element):
                nxt.append(element[component])
        selected = nxt
        if not selected:
            return []
    return selected


def _claim_present(claims: Mapping[str, Any], query: ClaimQuery) -> bool:
    selected = select_claims(claims, query.path)
    if not selected:
        return False
    if query.values is None:
        return True
    # type and value must both match (§6.3): True is not 1
    return any(
        type(value) is type(expected) and value == expected
        for value in selected
        for expected in query.values
    )


def satisfied_claim_option(
    query: CredentialQuery, claims: Mapping[str, Any]
) -> tuple[ClaimQuery, ...] | None:
    """The first claim combination of ``query`` that ``claims`` fully holds, or ``None``."""
    for option in query.claim_options():
        if all(_claim_present(claims, claim) for claim in option):
            return option
    return None


def credential_matches(query: CredentialQuery, *, format: str, credential_type: str | None) -> bool:
    """Does a credential of ``format`` and type ``credential_type`` fit ``query``'s format and
    meta? (Wallet side selection; the verifier checks the same in :func:`check_vp_token`.)"""
    if format not in _FORMATS_FOR_QUERY.get(query.format, frozenset({query.format})):
        return False
    allowed = query.allowed_types
    return allowed is None or credential_type in allowed


# --- verifier side ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DcqlMatch:
    """Verified presentations that satisfy a query, by credential query id."""

    credentials: Mapping[str, tuple[VerifiedCredential, ...]]

    def first(self) -> VerifiedCredential:
        for presented in self.credentials.values():
            if presented:
                return presented[0]
        raise CredentialError("no credential was presented", code="credential_missing")


def _answered(query: DcqlQuery, ids: Iterable[str]) -> None:
    answered = set(ids)
    if query.credential_sets is None:
        missing = [c.id for c in query.credentials if c.id not in answered]
        if missing:
            raise CredentialError(
                f"no presentation for credential query {', '.join(missing)}",
                code="credential_missing",
            )
        return
    for credential_set in query.credential_sets:
        if not credential_set.required:
            continue
        if not any(all(i in answered for i in option) for option in credential_set.options):
            raise CredentialError(
                "no option of a required credential set was presented", code="credential_missing"
            )


def check_vp_token(
    query: DcqlQuery, presented: Mapping[str, Sequence[VerifiedCredential]]
) -> DcqlMatch:
    """Check that verified presentations (credential query id → verified credentials) answer
    ``query``: only known ids, one presentation unless ``multiple``, the right format and type,
    every required claim disclosed, every required credential (set) present. Never relies on
    the wallet having applied the query (OpenID4VP §8.6, §14.11)."""
    for query_id, credentials in presented.items():
        credential_query = query.credential(query_id)
        if credential_query is None:
            raise _malformed(f"vp_token answers unknown credential query {query_id!r}")
        if not credentials:
            raise _malformed(f"vp_token has an empty array for {query_id!r}")
        if len(credentials) > 1 and not credential_query.multiple:
            raise _malformed(f"vp_token has several presentations for {query_id!r}")
        for credential in credentials:
            if credential.format not in _FORMATS_FOR_QUERY.get(
                credential_query.format, frozenset({credential_query.format})
            ):
                raise CredentialError(
                    f"{query_id!r} asked for {credential_query.format}, got {credential.format}",
                    code="format_mismatch",
                )
            allowed = credential_query.allowed_types
            if allowed is not None and credential.credential_type not in allowed:
                raise CredentialError(
                    f"credential type {credential.credential_type!r} does not answer {query_id!r}",
                    code="untrusted_issuer",
                )
            if satisfied_claim_option(credential_query, credential.claims) is None:
                raise CredentialError(
                    f"the presentation for {query_id!r} does not disclose the requested claims",
                    code="claims_missing",
                )
    _answered(query, presented.keys())
    return DcqlMatch(credentials={k: tuple(v) for k, v in presented.items()})
