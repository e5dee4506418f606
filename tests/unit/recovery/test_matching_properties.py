"""Property tests of account matching: normalisation is idempotent, exact implies relaxed, the
rules are symmetric where they should be, search keys never miss a namesake (R32), and nothing
raises on arbitrary Unicode."""

from __future__ import annotations

import unicodedata
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ssar.recovery.matching import (
    directory_name_keys,
    match_claims,
    match_names,
    name_search_keys,
    normalise_exact,
    normalise_relaxed,
    relaxed_words,
)

ANY_TEXT = st.text(st.characters(codec=None), max_size=40)
# a small alphabet with diacritics, transliterations, apostrophes and dashes, so names collide
NAME_TEXT = st.lists(
    st.sampled_from([*"aeoüuäöøåßAEOÜ -'’‐–", "ae", "oe", "ue", "\u0308"]), max_size=8
).map("".join)
WORD = st.text(st.sampled_from(list("abäöüøåe")), min_size=1, max_size=4)
RULES = st.sampled_from(["exact", "relaxed"])


def _variant(value: str, how: int) -> str:
    """A spelling ``exact`` treats as the same name."""
    if how == 0:
        return value.upper()
    if how == 1:
        return unicodedata.normalize("NFD", value)
    if how == 2:
        return f"  {value.replace(' ', '   ')}\t"
    return value.swapcase()


@given(ANY_TEXT)
@example("ǰ")  # casefold leaves it decomposed
@example("ᾈ")
def test_normalise_exact_is_idempotent(value: str) -> None:
    once = normalise_exact(value)
    assert normalise_exact(once) == once


@given(ANY_TEXT)
@example("Müller-Øberg")
@example("a\u0308\u0323")
def test_normalise_relaxed_is_idempotent(value: str) -> None:
    once = normalise_relaxed(value)
    assert normalise_relaxed(once) == once
    stripped = " ".join(relaxed_words(value).stripped)
    assert " ".join(relaxed_words(stripped).stripped) == stripped


@given(ANY_TEXT)
def test_relaxed_forms_have_the_same_words(value: str) -> None:
    words = relaxed_words(value)
    assert len(words.transliterated) == len(words.stripped)
    assert all(words.stripped)


@given(NAME_TEXT, NAME_TEXT, st.integers(0, 3), st.integers(0, 3))
def test_exact_implies_relaxed(given_name: str, family_name: str, how_g: int, how_f: int) -> None:
    arguments: dict[str, Any] = {
        "credential_given": given_name,
        "credential_family": family_name,
        "user_given": _variant(given_name, how_g),
        "user_family": _variant(family_name, how_f),
    }
    exact = match_names(**arguments, rule="exact")
    relaxed = match_names(**arguments, rule="relaxed")
    if exact.matched:
        assert relaxed.matched


@given(NAME_TEXT, NAME_TEXT, NAME_TEXT, NAME_TEXT, RULES)
def test_exact_implies_relaxed_on_any_names(a: str, b: str, c: str, d: str, rule: str) -> None:
    arguments: dict[str, Any] = {
        "credential_given": a,
        "credential_family": b,
        "user_given": c,
        "user_family": d,
    }
    if match_names(**arguments, rule="exact").matched:
        assert match_names(**arguments, rule="relaxed").matched


@given(NAME_TEXT, NAME_TEXT, NAME_TEXT, NAME_TEXT)
def test_exact_is_symmetric(a: str, b: str, c: str, d: str) -> None:
    forward = match_names(
        credential_given=a, credential_family=b, user_given=c, user_family=d, rule="exact"
    )
    backward = match_names(
        credential_given=c, credential_family=d, user_given=a, user_family=b, rule="exact"
    )
    assert forward.matched == backward.matched


@given(WORD, WORD, WORD, WORD)
@example("müller", "a", "mueller", "a")
def test_relaxed_is_symmetric_on_single_word_names(a: str, b: str, c: str, d: str) -> None:
    # with one word per name, relaxed is "the two pairs of words are equal, in either order"
    forward = match_names(
        credential_given=a, credential_family=b, user_given=c, user_family=d, rule="relaxed"
    )
    backward = match_names(
        credential_given=c, credential_family=d, user_given=a, user_family=b, rule="relaxed"
    )
    assert forward.matched == backward.matched


@given(NAME_TEXT, NAME_TEXT, NAME_TEXT, NAME_TEXT, RULES)
@settings(max_examples=300)
def test_search_keys_never_miss_a_fitting_user(a: str, b: str, c: str, d: str, rule: str) -> None:
    fit = match_names(
        credential_given=a,
        credential_family=b,
        user_given=c,
        user_family=d,
        rule=rule,  # type: ignore[arg-type]
    )
    if fit.matched:
        assert directory_name_keys(family=d) & name_search_keys(given=a, family=b, rule=rule)  # type: ignore[arg-type]


@given(ANY_TEXT, ANY_TEXT, ANY_TEXT, ANY_TEXT, RULES)
def test_match_names_never_raises(a: str, b: str, c: str, d: str, rule: str) -> None:
    result = match_names(
        credential_given=a,
        credential_family=b,
        user_given=c,
        user_family=d,
        rule=rule,  # type: ignore[arg-type]
    )
    assert isinstance(result.reason, str)
    name_search_keys(given=a, family=b, rule=rule)  # type: ignore[arg-type]
    directory_name_keys(family=d)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3),
    max_leaves=6,
)
ATTRIBUTES = st.sampled_from(
    ["given_name", "family_name", "birthdate", "employee_id", "email", "other"]
)


@given(
    st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), JSON_VALUES),
    st.dictionaries(ATTRIBUTES, JSON_VALUES),
    st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), ATTRIBUTES),
    RULES,
)
def test_match_claims_never_raises(
    claims: dict[str, Any], user: dict[str, Any], claim_map: dict[str, str], rule: str
) -> None:
    result = match_claims(claims=claims, user=user, claim_map=claim_map, rule=rule)  # type: ignore[arg-type]
    assert result.matched == (result.reason == "matched")
    if result.matched:
        assert not result.failed_claims
