"""Account matching (step 6, R7, R32): do a verified credential's names and claims fit the account
the person typed, and no other directory account? Pure: no I/O, no clock, never raises on input.

The rules, with examples, are in docs/MATCHING.md. In short:

* ``exact``: each name is equal after :func:`normalise_exact` (NFC, case-folded, whitespace collapsed).
* ``relaxed`` (Entra's rule, on normalised words, see :func:`relaxed_words`): the directory given
  name and the directory family name are each found as a contiguous run of words in the credential's
  given or family name claim, and the two runs do not overlap (one credential word never stands for
  both directory names).
* Other mapped claims: birthdate as an ISO date, employee id exact (trimmed, case-sensitive), email
  case-insensitive. A mapped claim the credential lacks, or an empty directory attribute, fails.
* R32: when the credential's names also fit other accounts, a bound claim or the extension must
  single the typed account out, or recovery is refused.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Final, Literal, Protocol

MatchRule = Literal["exact", "relaxed"]
MATCH_RULES: Final = frozenset({"exact", "relaxed"})

#: Longer names are refused (``name_too_long``): bounds the work of the relaxed run search.
MAX_NAME_CHARS: Final = 256
MAX_NAME_WORDS: Final = 16

NAME_ATTRIBUTES: Final = ("given_name", "family_name")
#: Directory attributes a profile's claim map may name (credential claim -> user attribute).
SUPPORTED_ATTRIBUTES: Final = frozenset(
    {"given_name", "family_name", "birthdate", "employee_id", "email"}
)

# Stable reason codes (they go to the case record and the audit log, never to the person).
MATCHED: Final = "matched"
GIVEN_NAME_MISMATCH: Final = "given_name_mismatch"
FAMILY_NAME_MISMATCH: Final = "family_name_mismatch"
CREDENTIAL_NAME_MISSING: Final = "credential_name_missing"
DIRECTORY_NAME_MISSING: Final = "directory_name_missing"
NAME_TOO_LONG: Final = "name_too_long"
UNKNOWN_RULE: Final = "unknown_rule"
NAMES_NOT_MAPPED: Final = "names_not_mapped"
CLAIM_MAP_INVALID: Final = "claim_map_invalid"
UNSUPPORTED_ATTRIBUTE: Final = "unsupported_attribute"
CLAIM_MISSING: Final = "claim_missing"
CLAIM_MALFORMED: Final = "claim_malformed"
USER_ATTRIBUTE_EMPTY: Final = "user_attribute_empty"
USER_ATTRIBUTE_MALFORMED: Final = "user_attribute_malformed"
BIRTHDATE_MISMATCH: Final = "birthdate_mismatch"
EMPLOYEE_ID_MISMATCH: Final = "employee_id_mismatch"
EMAIL_MISMATCH: Final = "email_mismatch"
# account decisions (R32)
NOT_MATCHED: Final = "not_matched"
AMBIGUOUS_NAMESAKES: Final = "ambiguous_namesakes"
SINGLED_OUT_BY_CLAIMS: Final = "singled_out_by_claims"
SINGLED_OUT_BY_EXTENSION: Final = "singled_out_by_extension"


# --------------------------------------------------------------------------- normalisation


def normalise_exact(value: str) -> str:
    """The ``exact`` form: Unicode NFC, case-folded, runs of whitespace collapsed to one space."""
    # NFC again after casefold: folding can leave a decomposed sequence (U+01F0 -> j + caron)
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", value).casefold())
    return " ".join(folded.split())


#: Apostrophe look-alikes (and the middle dot of Catalan l·l): removed, the word stays joined.
APOSTROPHES: Final = frozenset(
    "'`\u00b4\u02b9\u02bb\u02bc\u02bd\u02c8\u055a\u05f3\u2018\u2019\u201b\u2032\u2035"
    "\ua78b\ua78c\uff07\u00b7\u0387\u2027"
)
#: Hyphens, dashes and minus signs besides Unicode category Pd: word separators.
_EXTRA_HYPHENS: Final = frozenset("\u2212\u2043\u02d7\u2e3a\u2e3b")

_DIAERESIS = "\u0308"
_RING_ABOVE = "\u030a"
#: Letters with no Unicode decomposition: (transliterated form, stripped form).
_LETTER_FORMS: Final[Mapping[str, tuple[str, str]]] = {
    "ø": ("oe", "o"),
    "æ": ("ae", "ae"),
    "œ": ("oe", "oe"),
    "ß": ("ss", "ss"),
    "ł": ("l", "l"),
    "đ": ("d", "d"),
    "ð": ("d", "d"),
    "þ": ("th", "th"),
    "ı": ("i", "i"),
    "ħ": ("h", "h"),
    "ŧ": ("t", "t"),
}


@lru_cache(maxsize=4096)
def _marks_strippable(base: str) -> bool:
    # diacritics are dropped from Latin, Greek and Cyrillic letters only: in other scripts
    # combining marks are part of the spelling (Devanagari vowel signs, kana voicing marks)
    return unicodedata.name(base, "").startswith(("LATIN ", "GREEK ", "CYRILLIC "))


@dataclass(frozen=True, slots=True)
class RelaxedWords:
    """A name's words in the two relaxed forms. Both tuples have the same length: word ``i`` of
    one is word ``i`` of the other.

    ``transliterated``: ä/ö/ü -> ae/oe/ue, å -> aa, ø -> oe, æ -> ae, ß -> ss; other diacritics dropped.
    ``stripped``: every diacritic dropped (ä -> a, å -> a, ø -> o); æ, ß as above.
    """

    transliterated: tuple[str, ...]
    stripped: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.stripped)

    def forms(self) -> tuple[tuple[str, ...], ...]:
        if self.transliterated == self.stripped:
            return (self.stripped,)
        return (self.transliterated, self.stripped)


@lru_cache(maxsize=4096)
def relaxed_words(value: str) -> RelaxedWords:
    """Split a name into normalised words for the ``relaxed`` rule.

    Starting from :func:`normalise_exact` (so ``exact``-equal names give equal words):
    compatibility forms are decomposed (NFKD: ligatures, full-width letters); diacritics of Latin,
    Greek and Cyrillic letters are dropped, with the German/Nordic transliteration kept as a second
    form; apostrophes are removed (O'Neil -> oneil); hyphens, dashes, whitespace and any other
    punctuation or symbol separate words; invisible format characters (soft hyphen, zero-width
    joiners) are removed.
    """
    translit_words: list[str] = []
    stripped_words: list[str] = []
    translit: list[str] = []
    stripped: list[str] = []
    base: str | None = None  # the letter the next combining mark sits on

    def end_word() -> None:
        nonlocal base
        if stripped:
            translit_words.append(unicodedata.normalize("NFC", "".join(translit)))
            stripped_words.append(unicodedata.normalize("NFC", "".join(stripped)))
        translit.clear()
        stripped.clear()
        base = None

    for char in normalise_exact(value):
        if char in APOSTROPHES:
            continue
        if char in _EXTRA_HYPHENS:
            end_word()
            continue
        decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", char).casefold())
        for piece in decomposed:
            category = unicodedata.category(piece)
            if piece in APOSTROPHES or category == "Cf":
                continue
            if category[0] in "LN":
                forms = _LETTER_FORMS.get(piece)
                if forms is None:
                    translit.append(piece)
                    stripped.append(piece)
                else:
                    translit.append(forms[0])
                    stripped.append(forms[1])
                base = piece
            elif category[0] == "M":
                if base is None:
                    continue  # a mark on nothing
                if not _marks_strippable(base):
                    translit.append(piece)
                    stripped.append(piece)
                elif piece == _DIAERESIS and base in "aou":
                    translit.append("e")
                elif piece == _RING_ABOVE and base == "a":
                    translit.append("a")
            else:
                end_word()  # whitespace, hyphens, dashes, other punctuation and symbols
    end_word()
    return RelaxedWords(tuple(translit_words), tuple(stripped_words))


def normalise_relaxed(value: str) -> str:
    """The transliterated relaxed form as one string (words joined by a space): for display in
    tests and case records; matching uses :func:`relaxed_words`."""
    return " ".join(relaxed_words(value).transliterated)


# --------------------------------------------------------------------------- names


@dataclass(frozen=True, slots=True)
class NameMatch:
    matched: bool
    rule: str
    reason: str  # MATCHED or one of the name reason codes above


_Span = tuple[int, int, int]  # (claim index, first word, end word)


def _spans(name: RelaxedWords, claims: Sequence[RelaxedWords]) -> list[_Span]:
    """Where ``name`` (all its words, concatenated) equals a contiguous run of words, concatenated,
    inside one of ``claims``; O'Neil-Smith = "ONEIL SMITH" = "ONEILSMITH". Any combination of the
    two forms counts, so Müller = Mueller = Muller."""
    wanted = {"".join(form) for form in name.forms()}
    found: set[_Span] = set()
    for index, claim in enumerate(claims):
        for form in claim.forms():
            for start in range(len(form)):
                run = ""
                for end in range(start + 1, len(form) + 1):
                    run += form[end - 1]
                    if run in wanted:
                        found.add((index, start, end))
    return sorted(found)


def _disjoint(a: _Span, b: _Span) -> bool:
    return a[0] != b[0] or a[2] <= b[1] or b[2] <= a[1]


def match_names(
    *,
    credential_given: str,
    credential_family: str,
    user_given: str,
    user_family: str,
    rule: MatchRule,
) -> NameMatch:
    """Match the credential's names to the directory user's names under the profile's ``rule``.

    A name with no letters or digits fails closed on both rules (``credential_name_missing`` /
    ``directory_name_missing``), so that ``exact`` implies ``relaxed``.
    """
    if rule not in MATCH_RULES:
        return NameMatch(False, str(rule), UNKNOWN_RULE)
    values = (credential_given, credential_family, user_given, user_family)
    if not all(isinstance(v, str) for v in values):
        return NameMatch(False, rule, CREDENTIAL_NAME_MISSING)
    if any(len(v) > MAX_NAME_CHARS for v in values):
        return NameMatch(False, rule, NAME_TOO_LONG)
    cg, cf, ug, uf = (relaxed_words(v) for v in values)
    if not cg or not cf:
        return NameMatch(False, rule, CREDENTIAL_NAME_MISSING)
    if not ug or not uf:
        return NameMatch(False, rule, DIRECTORY_NAME_MISSING)
    if any(len(words) > MAX_NAME_WORDS for words in (cg, cf, ug, uf)):
        return NameMatch(False, rule, NAME_TOO_LONG)
    if rule == "exact":
        if normalise_exact(credential_given) != normalise_exact(user_given):
            return NameMatch(False, rule, GIVEN_NAME_MISMATCH)
        if normalise_exact(credential_family) != normalise_exact(user_family):
            return NameMatch(False, rule, FAMILY_NAME_MISMATCH)
        return NameMatch(True, rule, MATCHED)
    given_spans = _spans(ug, (cg, cf))
    if not given_spans:
        return NameMatch(False, rule, GIVEN_NAME_MISMATCH)
    family_spans = _spans(uf, (cg, cf))
    # one credential word never stands for both names: directory Garcia / Garcia needs two
    if not any(_disjoint(g, f) for g in given_spans for f in family_spans):
        return NameMatch(False, rule, FAMILY_NAME_MISMATCH)
    return NameMatch(True, rule, MATCHED)


def directory_name_keys(*, family: str) -> set[str]:
    """The keys to index a directory user under, for finding namesakes (R32): the relaxed forms of
    the family name, words concatenated. One index serves both rules, since ``exact`` implies
    ``relaxed``. Keys are names: store them like the names themselves."""
    if not isinstance(family, str) or len(family) > MAX_NAME_CHARS:
        return set()
    words = relaxed_words(family)
    return {"".join(form) for form in words.forms()} if words else set()


def name_search_keys(*, given: str, family: str, rule: MatchRule) -> set[str]:
    """The keys to look up for a credential's names: every directory user whose names fit them
    under ``rule`` has one of these among its :func:`directory_name_keys` (no false negatives;
    false positives are weeded out by :func:`select_account`)."""
    if rule == "exact":
        return directory_name_keys(family=family)
    keys: set[str] = set()
    for value in (given, family):
        if not isinstance(value, str) or len(value) > MAX_NAME_CHARS:
            continue
        for form in relaxed_words(value).forms():
            for start in range(len(form)):
                keys.update("".join(form[start:end]) for end in range(start + 1, len(form) + 1))
    return keys


# --------------------------------------------------------------------------- claims


class EmailLike(Protocol):
    @property
    def address(self) -> str: ...


class UserLike(Protocol):
    """What matching reads of a directory user (``ssar.directory.models.User`` fits)."""

    @property
    def id(self) -> str: ...
    @property
    def given_name(self) -> str: ...
    @property
    def family_name(self) -> str: ...
    @property
    def birthdate(self) -> str | None: ...
    @property
    def employee_id(self) -> str | None: ...
    @property
    def emails(self) -> Sequence[EmailLike]: ...


def user_attributes(user: UserLike) -> dict[str, Any]:
    """The attributes a claim map can name, read from a directory user."""
    return {
        "given_name": user.given_name,
        "family_name": user.family_name,
        "birthdate": user.birthdate,
        "employee_id": user.employee_id,
        "email": tuple(e.address for e in user.emails),
    }


@dataclass(frozen=True, slots=True)
class ClaimCheck:
    claim: str  # the credential claim
    attribute: str  # the directory attribute it was compared with
    matched: bool
    reason: str


@dataclass(frozen=True, slots=True)
class ClaimMatch:
    matched: bool
    rule: str
    reason: str  # MATCHED or the reason of the first failed check (names first, then map order)
    checks: tuple[ClaimCheck, ...]

    @property
    def failed_claims(self) -> tuple[str, ...]:
        return tuple(c.claim for c in self.checks if not c.matched)


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _as_date(value: object) -> date | None:
    if isinstance(value, datetime):
        return None  # a birthdate is a date; a timestamp here is a mapping mistake
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _is_empty(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (tuple, list)):
        return all(_is_empty(v) for v in value)
    return False


def _employee_id(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)  # JSON numbers for employee numbers are common
    return value.strip() if isinstance(value, str) else None


def _check_attribute(attribute: str, claim_value: object, user_value: object) -> str:
    """The reason code of comparing one non-name claim with the user's attribute."""
    if attribute not in SUPPORTED_ATTRIBUTES:
        return UNSUPPORTED_ATTRIBUTE
    if _is_empty(claim_value):
        return CLAIM_MISSING
    if _is_empty(user_value):
        return USER_ATTRIBUTE_EMPTY
    if attribute == "birthdate":
        claimed, recorded = _as_date(claim_value), _as_date(user_value)
        if claimed is None:
            return CLAIM_MALFORMED
        if recorded is None:
            return USER_ATTRIBUTE_MALFORMED
        return MATCHED if claimed == recorded else BIRTHDATE_MISMATCH
    if attribute == "employee_id":
        claimed_id, recorded_id = _employee_id(claim_value), _employee_id(user_value)
        if claimed_id is None:
            return CLAIM_MALFORMED
        if recorded_id is None:
            return USER_ATTRIBUTE_MALFORMED
        return MATCHED if claimed_id == recorded_id else EMPLOYEE_ID_MISMATCH
    # email: the user may have several addresses; the credential's must be one of them
    if not isinstance(claim_value, str):
        return CLAIM_MALFORMED
    recorded_all = user_value if isinstance(user_value, (tuple, list)) else (user_value,)
    if not all(isinstance(v, str) for v in recorded_all):
        return USER_ATTRIBUTE_MALFORMED
    wanted = claim_value.strip().casefold()
    return MATCHED if any(wanted == v.strip().casefold() for v in recorded_all) else EMAIL_MISMATCH


@dataclass(frozen=True, slots=True)
class _Plan:
    """A claim map split into the name pair and the other claims, or why it cannot be used."""

    given_claim: str
    family_claim: str
    others: tuple[tuple[str, str], ...]  # (claim, attribute)
    problem: str | None


def _plan(claim_map: Mapping[str, str]) -> _Plan:
    by_attribute: dict[str, list[str]] = {}
    for claim, attribute in claim_map.items():
        by_attribute.setdefault(attribute, []).append(claim)
    problem = None
    if any(len(by_attribute.get(a, ())) > 1 for a in NAME_ATTRIBUTES):
        problem = CLAIM_MAP_INVALID
    elif any(a not in by_attribute for a in NAME_ATTRIBUTES):
        problem = NAMES_NOT_MAPPED  # R7: the names are always checked
    given = by_attribute.get("given_name", [""])[0]
    family = by_attribute.get("family_name", [""])[0]
    others = tuple((c, a) for c, a in claim_map.items() if a not in NAME_ATTRIBUTES)
    return _Plan(given, family, others, problem)


def _name_value(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def match_claims(
    *,
    claims: Mapping[str, Any],
    user: Mapping[str, Any],
    claim_map: Mapping[str, str],
    rule: MatchRule,
) -> ClaimMatch:
    """Check a credential's (top-level) ``claims`` against a ``user``'s attributes through the
    profile's ``claim_map`` (credential claim -> user attribute, see :data:`SUPPORTED_ATTRIBUTES`).

    The name pair must be mapped and is matched with :func:`match_names` under ``rule``; when the
    names fail, both name claims are listed as failed with the name reason. Every other mapped
    claim must be present in the credential and equal the user's attribute.
    """
    plan = _plan(claim_map)
    if rule not in MATCH_RULES or plan.problem is not None:
        reason = UNKNOWN_RULE if rule not in MATCH_RULES else str(plan.problem)
        refused = tuple(ClaimCheck(c, a, False, reason) for c, a in claim_map.items())
        return ClaimMatch(False, str(rule), reason, refused)

    checks: list[ClaimCheck] = []
    cg = _name_value(claims.get(plan.given_claim))
    cf = _name_value(claims.get(plan.family_claim))
    ug = _name_value(user.get("given_name"))
    uf = _name_value(user.get("family_name"))
    name_reasons: list[str] = []
    for claim, claimed, recorded in (
        (plan.given_claim, cg, ug),
        (plan.family_claim, cf, uf),
    ):
        raw = claims.get(claim)
        if claimed is None:
            reason = CLAIM_MALFORMED if not _is_empty(raw) else CLAIM_MISSING
        elif recorded is None:
            reason = USER_ATTRIBUTE_EMPTY
        else:
            reason = MATCHED
        name_reasons.append(reason)
    if cg is not None and cf is not None and ug is not None and uf is not None:
        names = match_names(
            credential_given=cg, credential_family=cf, user_given=ug, user_family=uf, rule=rule
        )
        name_reasons = [names.reason, names.reason]
    checks.append(
        ClaimCheck(plan.given_claim, "given_name", name_reasons[0] == MATCHED, name_reasons[0])
    )
    checks.append(
        ClaimCheck(plan.family_claim, "family_name", name_reasons[1] == MATCHED, name_reasons[1])
    )
    for claim, attribute in plan.others:
        reason = _check_attribute(attribute, claims.get(claim), user.get(attribute))
        checks.append(ClaimCheck(claim, attribute, reason == MATCHED, reason))
    failed = [c for c in checks if not c.matched]
    return ClaimMatch(not failed, rule, failed[0].reason if failed else MATCHED, tuple(checks))


# --------------------------------------------------------------------------- account (R32)


@dataclass(frozen=True, slots=True)
class AccountDecision:
    selected: bool
    reason: str  # matched | singled_out_by_claims | singled_out_by_extension | not_matched | ambiguous_namesakes
    user_id: str | None  # the candidate's id when selected
    claim_match: ClaimMatch  # the candidate's checks, for the case record
    namesakes: tuple[str, ...] = ()  # ids of other accounts whose names also fit the credential
    singled_out_by: tuple[str, ...] = ()  # the claims that told them apart, or ("extension",)


def select_account(
    *,
    claims: Mapping[str, Any],
    candidate: UserLike,
    others: Sequence[UserLike],
    claim_map: Mapping[str, str],
    rule: MatchRule,
    extension_confirmed: bool = False,
) -> AccountDecision:
    """Decide whether the credential selects ``candidate`` (the account the person typed).

    ``others`` are other directory accounts whose names may fit the credential's (found by the
    caller with :func:`name_search_keys`; the candidate itself and non-fitting ones are ignored).
    The candidate is selected when every mapped claim matches it and each namesake is told apart:
    some bound (non-name) claim definitely differs from that namesake's attribute (an empty or
    malformed attribute tells nothing), or ``extension_confirmed`` (R32). Name matching alone
    never picks between accounts.
    """
    candidate_match = match_claims(
        claims=claims, user=user_attributes(candidate), claim_map=claim_map, rule=rule
    )
    if not candidate_match.matched:
        return AccountDecision(False, NOT_MATCHED, None, candidate_match)

    plan = _plan(claim_map)
    given = _name_value(claims.get(plan.given_claim)) or ""
    family = _name_value(claims.get(plan.family_claim)) or ""
    namesakes: dict[str, UserLike] = {}
    for other in others:
        if other.id == candidate.id or other.id in namesakes:
            continue
        fit = match_names(
            credential_given=given,
            credential_family=family,
            user_given=other.given_name,
            user_family=other.family_name,
            rule=rule,
        )
        if fit.matched:
            namesakes[other.id] = other
    if not namesakes:
        return AccountDecision(True, MATCHED, candidate.id, candidate_match)

    ids = tuple(sorted(namesakes))
    telling: set[str] = set()
    untold = False
    for other in namesakes.values():
        attributes = user_attributes(other)
        told_by = {
            claim
            for claim, attribute in plan.others
            if _check_attribute(attribute, claims.get(claim), attributes.get(attribute))
            == f"{attribute}_mismatch"
        }
        telling |= told_by
        untold = untold or not told_by
    if not untold:
        return AccountDecision(
            True, SINGLED_OUT_BY_CLAIMS, candidate.id, candidate_match, ids, tuple(sorted(telling))
        )
    if extension_confirmed:
        return AccountDecision(
            True, SINGLED_OUT_BY_EXTENSION, candidate.id, candidate_match, ids, ("extension",)
        )
    return AccountDecision(False, AMBIGUOUS_NAMESAKES, None, candidate_match, ids)
