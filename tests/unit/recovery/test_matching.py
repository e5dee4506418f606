"""Account matching: normalisation, the exact and relaxed name rules, claim maps (R7) and the
same-name guard (R32)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ssar.directory.models import EmailAddress, User
from ssar.recovery.matching import (
    MAX_NAME_CHARS,
    MAX_NAME_WORDS,
    ClaimMatch,
    NameMatch,
    directory_name_keys,
    match_claims,
    match_names,
    name_search_keys,
    normalise_exact,
    normalise_relaxed,
    relaxed_words,
    select_account,
    user_attributes,
)

NAMES = {"given_name": "given_name", "family_name": "family_name"}
NAMES_AND_BIRTHDATE = {**NAMES, "birthdate": "birthdate"}
WHEN = datetime(2025, 1, 1, tzinfo=UTC)


def user(
    id: str = "u1",
    given: str = "Maria",
    family: str = "Garcia",
    *,
    birthdate: str | None = None,
    employee_id: str | None = None,
    emails: tuple[str, ...] = (),
) -> User:
    return User(
        id=id,
        username=f"{id}@example.org",
        given_name=given,
        family_name=family,
        display_name=f"{given} {family}",
        emails=tuple(EmailAddress(a) for a in emails),
        employee_id=employee_id,
        external_id=None,
        birthdate=birthdate,
        enabled=True,
        privileged=False,
        created_at=WHEN,
        updated_at=WHEN,
    )


def names(
    cg: str, cf: str, ug: str, uf: str, rule: str = "relaxed"
) -> NameMatch:  # shorthand for tables
    return match_names(
        credential_given=cg,
        credential_family=cf,
        user_given=ug,
        user_family=uf,
        rule=rule,  # type: ignore[arg-type]
    )


# --------------------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("  José   María ", "josé maría"),
        ("Jose\u0301", "josé"),  # decomposed input composes (NFC)
        ("STRASSE", "strasse"),
        ("Straße", "strasse"),  # case folding, not lower()
        ("Anne\tMarie\n", "anne marie"),
        ("O'Neil-Smith", "o'neil-smith"),  # punctuation is kept by exact
        ("", ""),
    ],
)
def test_normalise_exact(value: str, expected: str) -> None:
    assert normalise_exact(value) == expected


@pytest.mark.parametrize(
    ("value", "transliterated", "stripped"),
    [
        ("José María O'Neil-Smith", "jose maria oneil smith", "jose maria oneil smith"),
        ("Müller", "mueller", "muller"),
        ("Øberg", "oeberg", "oberg"),
        ("Åsa Ærø", "aasa aeroe", "asa aero"),
        ("Straße", "strasse", "strasse"),
        ("Łukasz Wałęsa", "lukasz walesa", "lukasz walesa"),
        ("ﬁnn", "finn", "finn"),  # ligature (NFKD)
        ("ＭＡＲＩＡ", "maria", "maria"),  # full-width
        ("Γιώργος", "γιωργοσ", "γιωργοσ"),  # Greek accents and final sigma
        ("Noël", "noel", "noel"),  # diaeresis on e: dropped, no transliteration
        ("Anne\u00adMarie", "annemarie", "annemarie"),  # soft hyphen is invisible: removed
        ("St. John", "st john", "st john"),
        ("が", "が", "が"),  # kana voicing marks are part of the spelling
        ("नमस्ते", "नमस्ते", "नमस्ते"),  # Devanagari vowel signs too
        ("--- ' ---", "", ""),
    ],
)
def test_relaxed_words(value: str, transliterated: str, stripped: str) -> None:
    words = relaxed_words(value)
    assert " ".join(words.transliterated) == transliterated
    assert " ".join(words.stripped) == stripped
    assert normalise_relaxed(value) == transliterated


@pytest.mark.parametrize(
    "apostrophe", ["'", "\u2019", "\u2018", "\u02bc", "\u02bb", "`", "\u00b4", "\u2032", "\uff07"]
)
def test_relaxed_apostrophes_are_removed(apostrophe: str) -> None:
    assert relaxed_words(f"O{apostrophe}Neil").stripped == ("oneil",)


@pytest.mark.parametrize(
    "hyphen",
    ["-", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2015", "\u2212", "\ufe63", "\uff0d"],
)
def test_relaxed_hyphens_and_dashes_separate_words(hyphen: str) -> None:
    assert relaxed_words(f"Neil{hyphen}Smith").stripped == ("neil", "smith")


# --------------------------------------------------------------------------- names


def test_issue_example_holds_both_ways() -> None:
    assert names("José María", "O'Neil-Smith", "JOSE MARIA", "ONEIL SMITH").matched
    assert names("JOSE MARIA", "ONEIL SMITH", "José María", "O'Neil-Smith").matched


@pytest.mark.parametrize(
    ("credential_family", "user_family", "matched"),
    [
        ("Mueller", "Müller", True),
        ("Müller", "Mueller", True),
        ("MULLER", "Müller", True),  # ICAO 9303 allows Ü -> UE or U in the MRZ
        ("Müller", "Muller", True),
        ("Muller", "Mueller", False),  # plain ASCII is taken literally
        ("Oeberg", "Øberg", True),
        ("Oberg", "Øberg", True),
        ("Aasa", "Åsa", True),
        ("Strasse", "Straße", True),
        ("Mueller-Lüdenscheidt", "Müller-Lüdenscheidt", True),
        ("Muller-Luedenscheidt", "Müller-Lüdenscheidt", False),  # one convention per name
    ],
)
def test_relaxed_transliterations(credential_family: str, user_family: str, matched: bool) -> None:
    assert names("Hans", credential_family, "Hans", user_family).matched is matched


def test_entra_relaxed_rule_any_word_of_either_claim() -> None:
    assert names("Maria Elena", "Garcia Lopez", "Maria", "Garcia").matched
    assert names("Maria Elena", "Garcia Lopez", "Elena", "Lopez").matched
    # swapped order on the document (family name first)
    assert names("Garcia", "Maria", "Maria", "Garcia").matched


@pytest.mark.parametrize(
    ("cg", "cf", "ug", "uf", "matched"),
    [
        ("Mary Ann", "Smith", "Mary Ann", "Smith", True),
        ("Mary Ann Jane", "Smith", "Mary Ann", "Smith", True),
        ("Mary-Ann", "Smith", "Mary Ann", "Smith", True),
        ("MaryAnn", "Smith", "Mary Ann", "Smith", True),
        ("Mary Jane Ann", "Smith", "Mary Ann", "Smith", False),  # not a contiguous run
        ("Ann Mary", "Smith", "Mary Ann", "Smith", False),  # order of the run matters
        ("Sean", "ONEIL SMITH", "Sean", "O'Neil-Smith", True),
        ("Sean", "O NEIL SMITH", "Sean", "O'Neil-Smith", True),  # MRZ filler for the apostrophe
        ("Sean", "ONEILSMITH", "Sean", "O'Neil-Smith", True),
        ("Sean", "Smith O'Neil", "Sean", "O'Neil-Smith", False),
        ("Sean", "Smith", "Sean", "O'Neil-Smith", False),  # part of a double name is not it
        # a run never spans the two claims
        ("Mary Ann", "Smith", "Mary", "Ann Smith", False),
    ],
)
def test_relaxed_multi_word_names(cg: str, cf: str, ug: str, uf: str, matched: bool) -> None:
    assert names(cg, cf, ug, uf).matched is matched


@pytest.mark.parametrize(
    ("cg", "cf", "ug", "uf"),
    [
        ("Ann", "Smith", "Anna", "Smith"),  # words are whole words, never prefixes
        ("Anna", "Smith", "Ann", "Smith"),
        ("John", "Smithson", "John", "Smith"),
        ("John", "Smith", "John", "Smyth"),
        ("John", "Smith", "Jon", "Smith"),
    ],
)
def test_relaxed_words_must_be_equal(cg: str, cf: str, ug: str, uf: str) -> None:
    assert not names(cg, cf, ug, uf).matched


def test_one_credential_word_never_stands_for_both_names() -> None:
    # directory Garcia / Garcia: "Garcia Lopez" has one Garcia, so the family name is not there
    result = names("Garcia", "Lopez", "Garcia", "Garcia")
    assert result == NameMatch(False, "relaxed", "family_name_mismatch")
    assert names("Garcia", "Garcia", "Garcia", "Garcia").matched
    assert names("Garcia Garcia", "Lopez", "Garcia", "Garcia").matched
    # a credential with only a given name word that equals the directory family name
    assert not names("Smith", "Jones", "John", "Smith").matched


@pytest.mark.parametrize(
    ("cg", "cf", "ug", "uf", "reason"),
    [
        ("Jon", "Smith", "John", "Smith", "given_name_mismatch"),
        ("John", "Smyth", "John", "Smith", "family_name_mismatch"),
        ("", "Smith", "John", "Smith", "credential_name_missing"),
        ("John", " - ", "John", "Smith", "credential_name_missing"),
        ("John", "Smith", "John", "", "directory_name_missing"),
        ("John", "x" * (MAX_NAME_CHARS + 1), "John", "Smith", "name_too_long"),
        ("John", " ".join(["a"] * (MAX_NAME_WORDS + 1)), "John", "Smith", "name_too_long"),
    ],
)
@pytest.mark.parametrize("rule", ["exact", "relaxed"])
def test_name_reason_codes(cg: str, cf: str, ug: str, uf: str, reason: str, rule: str) -> None:
    assert names(cg, cf, ug, uf, rule) == NameMatch(False, rule, reason)


def test_unknown_rule_fails_closed() -> None:
    assert names("John", "Smith", "John", "Smith", "fuzzy") == NameMatch(
        False, "fuzzy", "unknown_rule"
    )


def test_R7_names_are_checked_with_the_profiles_rule() -> None:
    # exact: equal after NFC, case folding and whitespace only
    assert names("JOSÉ", "garcía  lópez", "José", "García López", "exact").matched
    assert not names("Jose", "Garcia", "José", "García", "exact").matched
    assert not names("Maria Elena", "Garcia", "Maria", "Garcia", "exact").matched
    # relaxed accepts both
    assert names("Jose", "Garcia", "José", "García", "relaxed").matched
    assert names("Maria Elena", "Garcia", "Maria", "Garcia", "relaxed").matched


# --------------------------------------------------------------------------- search keys


def test_search_keys_find_the_directory_user() -> None:
    assert directory_name_keys(family="O'Neil-Smith") == {"oneilsmith"}
    assert directory_name_keys(family="Müller") == {"mueller", "muller"}
    assert directory_name_keys(family="--") == set()
    keys = name_search_keys(given="Maria Elena", family="Garcia Lopez", rule="relaxed")
    assert {"garcia", "lopez", "garcialopez", "maria", "elena"} <= keys
    assert name_search_keys(given="Maria", family="Garcia Lopez", rule="exact") == {"garcialopez"}


# --------------------------------------------------------------------------- claims


def attrs(u: User) -> dict[str, object]:
    return user_attributes(u)


def test_R7_additional_claims_are_checked_through_the_claim_map() -> None:
    maria = user(birthdate="1990-05-17")
    claims = {"given_name": "Maria", "family_name": "Garcia", "birthdate": "1991-05-17"}
    # birthdate not in the map: not checked
    assert match_claims(claims=claims, user=attrs(maria), claim_map=NAMES, rule="exact").matched
    # in the map: checked, and a different birthdate refuses
    result = match_claims(
        claims=claims, user=attrs(maria), claim_map=NAMES_AND_BIRTHDATE, rule="exact"
    )
    assert not result.matched
    assert result.reason == "birthdate_mismatch"
    assert result.failed_claims == ("birthdate",)


def test_claim_map_renames_claims() -> None:
    mdoc_map = {"given_name": "given_name", "family_name": "family_name", "birth_date": "birthdate"}
    claims = {"given_name": "MARIA", "family_name": "GARCIA", "birth_date": date(1990, 5, 17)}
    result = match_claims(
        claims=claims, user=attrs(user(birthdate="1990-05-17")), claim_map=mdoc_map, rule="exact"
    )
    assert result.matched
    assert result.reason == "matched"
    assert [c.claim for c in result.checks] == ["given_name", "family_name", "birth_date"]


@pytest.mark.parametrize(
    ("claim_value", "user_value", "reason"),
    [
        ("1990-05-17", "1990-05-17", "matched"),
        (" 1990-05-17 ", "1990-05-17", "matched"),
        (date(1990, 5, 17), "1990-05-17", "matched"),
        ("1990-05-18", "1990-05-17", "birthdate_mismatch"),
        ("17.05.1990", "1990-05-17", "claim_malformed"),
        ("19900517", "1990-05-17", "claim_malformed"),
        ("1990-02-30", "1990-02-28", "claim_malformed"),
        (datetime(1990, 5, 17, tzinfo=UTC), "1990-05-17", "claim_malformed"),
        (19900517, "1990-05-17", "claim_malformed"),
        ("1990-05-17", "May 17", "user_attribute_malformed"),
        (None, "1990-05-17", "claim_missing"),
        ("1990-05-17", None, "user_attribute_empty"),
        ("1990-05-17", "", "user_attribute_empty"),
    ],
)
def test_birthdate_is_compared_as_an_iso_date(
    claim_value: object, user_value: str | None, reason: str
) -> None:
    claims = {"given_name": "Maria", "family_name": "Garcia", "birthdate": claim_value}
    result = match_claims(
        claims=claims,
        user=attrs(user(birthdate=user_value)),
        claim_map=NAMES_AND_BIRTHDATE,
        rule="exact",
    )
    assert result.reason == reason
    assert result.matched is (reason == "matched")


@pytest.mark.parametrize(
    ("claim_value", "user_value", "reason"),
    [
        ("E-1234", "E-1234", "matched"),
        (" E-1234 ", "E-1234", "matched"),
        ("e-1234", "E-1234", "employee_id_mismatch"),  # case-sensitive
        ("E-12345", "E-1234", "employee_id_mismatch"),
        (1234, "1234", "matched"),
        (True, "1", "claim_malformed"),
        ("", "E-1234", "claim_missing"),
        ("E-1234", None, "user_attribute_empty"),
    ],
)
def test_employee_id_is_exact(claim_value: object, user_value: str | None, reason: str) -> None:
    claims = {"given_name": "Maria", "family_name": "Garcia", "employee_number": claim_value}
    result = match_claims(
        claims=claims,
        user=attrs(user(employee_id=user_value)),
        claim_map={**NAMES, "employee_number": "employee_id"},
        rule="relaxed",
    )
    assert result.reason == reason


@pytest.mark.parametrize(
    ("claim_value", "reason"),
    [
        ("Maria.Garcia@Example.ORG", "matched"),
        ("maria@home.example", "matched"),  # any of the user's addresses
        ("other@example.org", "email_mismatch"),
        (["maria.garcia@example.org"], "claim_malformed"),
    ],
)
def test_email_is_case_insensitive(claim_value: object, reason: str) -> None:
    maria = user(emails=("maria.garcia@example.org", "maria@home.example"))
    claims = {"given_name": "Maria", "family_name": "Garcia", "email": claim_value}
    result = match_claims(
        claims=claims, user=attrs(maria), claim_map={**NAMES, "email": "email"}, rule="exact"
    )
    assert result.reason == reason


def test_email_of_a_user_without_addresses_fails_closed() -> None:
    claims = {"given_name": "Maria", "family_name": "Garcia", "email": "m@example.org"}
    result = match_claims(
        claims=claims, user=attrs(user()), claim_map={**NAMES, "email": "email"}, rule="exact"
    )
    assert result.reason == "user_attribute_empty"


def test_missing_name_claim_fails_closed_with_its_own_reason() -> None:
    result = match_claims(
        claims={"given_name": "Maria"}, user=attrs(user()), claim_map=NAMES, rule="relaxed"
    )
    assert not result.matched
    assert result.reason == "claim_missing"
    assert result.failed_claims == ("family_name",)
    result = match_claims(
        claims={"given_name": "Maria", "family_name": 7},
        user=attrs(user()),
        claim_map=NAMES,
        rule="relaxed",
    )
    assert result.reason == "claim_malformed"


def test_empty_directory_name_fails_closed() -> None:
    result = match_claims(
        claims={"given_name": "Maria", "family_name": "Garcia"},
        user=attrs(user(family="  ")),
        claim_map=NAMES,
        rule="relaxed",
    )
    assert (result.matched, result.reason, result.failed_claims) == (
        False,
        "user_attribute_empty",
        ("family_name",),
    )


def test_name_mismatch_lists_both_name_claims() -> None:
    result = match_claims(
        claims={"first": "Maria", "last": "Lopez"},
        user=attrs(user()),
        claim_map={"first": "given_name", "last": "family_name"},
        rule="relaxed",
    )
    assert result.reason == "family_name_mismatch"
    assert result.failed_claims == ("first", "last")


@pytest.mark.parametrize(
    ("claim_map", "reason"),
    [
        ({"given_name": "given_name"}, "names_not_mapped"),
        ({"birthdate": "birthdate"}, "names_not_mapped"),
        ({**NAMES, "name": "given_name"}, "claim_map_invalid"),
        ({**NAMES, "department": "department"}, "unsupported_attribute"),
    ],
)
def test_unusable_claim_maps_fail_closed(claim_map: dict[str, str], reason: str) -> None:
    claims = {"given_name": "Maria", "family_name": "Garcia", "name": "Maria", "department": "HR"}
    result = match_claims(claims=claims, user=attrs(user()), claim_map=claim_map, rule="exact")
    assert not result.matched
    assert result.reason == reason


def test_unknown_rule_fails_claims_closed() -> None:
    result = match_claims(
        claims={"given_name": "Maria", "family_name": "Garcia"},
        user=attrs(user()),
        claim_map=NAMES,
        rule="lenient",  # type: ignore[arg-type]
    )
    assert result == ClaimMatch(
        False,
        "lenient",
        "unknown_rule",
        result.checks,
    )
    assert result.failed_claims == ("given_name", "family_name")


# --------------------------------------------------------------------------- accounts (R32)

VICTIM = user("victim", "John", "Smith", birthdate="1980-01-01", employee_id="E-1")
ATTACKER = user("attacker", "John", "Smith", birthdate="1990-02-02", employee_id="E-2")
ATTACKER_ID = {"given_name": "John", "family_name": "Smith", "birthdate": "1990-02-02"}


def test_R32_attackers_genuine_id_with_the_victims_name_is_refused() -> None:
    # names only in the map: the attacker's own genuine credential fits both accounts
    decision = select_account(
        claims=ATTACKER_ID, candidate=VICTIM, others=[ATTACKER], claim_map=NAMES, rule="exact"
    )
    assert not decision.selected
    assert decision.reason == "ambiguous_namesakes"
    assert decision.user_id is None
    assert decision.namesakes == ("attacker",)


def test_R32_attackers_id_fails_on_a_bound_claim() -> None:
    decision = select_account(
        claims=ATTACKER_ID,
        candidate=VICTIM,
        others=[ATTACKER],
        claim_map=NAMES_AND_BIRTHDATE,
        rule="exact",
    )
    assert (decision.selected, decision.reason) == (False, "not_matched")
    assert decision.claim_match.reason == "birthdate_mismatch"


def test_R32_a_bound_claim_singles_out_the_genuine_owner() -> None:
    victims_id = {"given_name": "JOHN", "family_name": "SMITH", "birthdate": "1980-01-01"}
    decision = select_account(
        claims=victims_id,
        candidate=VICTIM,
        others=[ATTACKER],
        claim_map=NAMES_AND_BIRTHDATE,
        rule="relaxed",
    )
    assert decision.selected
    assert decision.reason == "singled_out_by_claims"
    assert decision.user_id == "victim"
    assert decision.namesakes == ("attacker",)
    assert decision.singled_out_by == ("birthdate",)


def test_R32_namesake_with_the_same_bound_claim_stays_ambiguous() -> None:
    twin = user("twin", "John", "Smith", birthdate="1980-01-01", employee_id="E-3")
    claims = {"given_name": "John", "family_name": "Smith", "birthdate": "1980-01-01"}
    decision = select_account(
        claims=claims,
        candidate=VICTIM,
        others=[ATTACKER, twin],
        claim_map=NAMES_AND_BIRTHDATE,
        rule="exact",
    )
    assert decision.reason == "ambiguous_namesakes"
    assert decision.namesakes == ("attacker", "twin")


def test_R32_namesake_without_the_attribute_is_not_told_apart() -> None:
    unknown = user("unknown", "John", "Smith")  # no birthdate in the directory
    claims = {"given_name": "John", "family_name": "Smith", "birthdate": "1980-01-01"}
    decision = select_account(
        claims=claims,
        candidate=VICTIM,
        others=[unknown],
        claim_map=NAMES_AND_BIRTHDATE,
        rule="exact",
    )
    assert decision.reason == "ambiguous_namesakes"


def test_R32_each_namesake_may_be_told_apart_by_a_different_claim() -> None:
    same_birthdate = user("b", "John", "Smith", birthdate="1980-01-01", employee_id="E-9")
    same_employee = user("e", "John", "Smith", birthdate="1970-07-07", employee_id="E-1")
    claims = {
        "given_name": "John",
        "family_name": "Smith",
        "birthdate": "1980-01-01",
        "employee_number": "E-1",
    }
    decision = select_account(
        claims=claims,
        candidate=VICTIM,
        others=[same_birthdate, same_employee],
        claim_map={**NAMES_AND_BIRTHDATE, "employee_number": "employee_id"},
        rule="exact",
    )
    assert decision.reason == "singled_out_by_claims"
    assert decision.singled_out_by == ("birthdate", "employee_number")


def test_R32_the_extension_can_single_out_the_account() -> None:
    decision = select_account(
        claims=ATTACKER_ID,
        candidate=VICTIM,
        others=[ATTACKER],
        claim_map=NAMES,
        rule="exact",
        extension_confirmed=True,
    )
    assert decision.selected
    assert decision.reason == "singled_out_by_extension"
    assert decision.singled_out_by == ("extension",)


def test_R32_the_extension_never_overrides_a_mismatch() -> None:
    decision = select_account(
        claims={"given_name": "Jane", "family_name": "Smith"},
        candidate=VICTIM,
        others=[],
        claim_map=NAMES,
        rule="exact",
        extension_confirmed=True,
    )
    assert (decision.selected, decision.reason) == (False, "not_matched")


def test_R32_relaxed_namesakes_count_too() -> None:
    # the credential "John Peter / Smith Jones" fits John Smith and Peter Jones under relaxed
    peter = user("peter", "Peter", "Jones")
    decision = select_account(
        claims={"given_name": "John Peter", "family_name": "Smith Jones"},
        candidate=VICTIM,
        others=[peter],
        claim_map=NAMES,
        rule="relaxed",
    )
    assert decision.reason == "ambiguous_namesakes"
    assert decision.namesakes == ("peter",)
    # under exact neither fits the other
    decision = select_account(
        claims={"given_name": "John", "family_name": "Smith"},
        candidate=VICTIM,
        others=[peter],
        claim_map=NAMES,
        rule="exact",
    )
    assert decision.reason == "matched"


def test_R32_non_fitting_others_and_the_candidate_itself_are_ignored() -> None:
    decision = select_account(
        claims={"given_name": "John", "family_name": "Smith"},
        candidate=VICTIM,
        others=[VICTIM, user("x", "Jane", "Smith"), user("y", "John", "Smyth")],
        claim_map=NAMES,
        rule="relaxed",
    )
    assert decision.selected
    assert decision.reason == "matched"
    assert decision.namesakes == ()


def test_R32_search_keys_find_the_attackers_account() -> None:
    keys = name_search_keys(given="John", family="Smith", rule="exact")
    assert directory_name_keys(family=ATTACKER.family_name) & keys
