"""The namesake index (R32): the keys a user is stored under in ``user_name_keys`` and the keys to
look up for a credential's names. Every write path (add, import, update, the 0006 backfill) and
the lookup use these two functions, so what is stored and what is searched cannot drift apart.

The keys are :func:`ssar.recovery.matching.directory_name_keys` and
:func:`~ssar.recovery.matching.name_search_keys`, with one storage rule added: a key longer than
the column (a 256-character family name can grow when ``ß`` becomes ``ss`` or a ligature is
decomposed) is stored as ``sha256:`` and its hex digest, on both sides. Relaxed keys never
contain ``:``, so a digest cannot equal a real key.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Final, cast

from ssar.errors import Conflict, ValidationFailed
from ssar.recovery.matching import (
    MATCH_RULES,
    MAX_NAME_CHARS,
    MAX_NAME_WORDS,
    MatchRule,
    directory_name_keys,
    name_search_keys,
    relaxed_words,
)

#: The length of ``user_name_keys.key``.
MAX_KEY_CHARS: Final = 256
_DIGEST_PREFIX: Final = "sha256:"
#: The most keys a credential's names can give: two names of at most MAX_NAME_WORDS words, every
#: contiguous run of words, in both relaxed forms (a longer name fits no account, see below).
MAX_SEARCH_KEYS: Final = 2 * 2 * (MAX_NAME_WORDS * (MAX_NAME_WORDS + 1) // 2)


class TooManyNamesakes(Conflict):
    """More directory accounts fit a credential's names than the caller asked to see: refuse
    rather than decide on part of them (R32)."""

    code = "too_many_namesakes"
    title = "Too many accounts with these names"


def stored_key(key: str) -> str:
    """The form a key is stored and looked up in: itself, or its digest when it is too long."""
    if len(key) <= MAX_KEY_CHARS:
        return key
    return _DIGEST_PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()


@lru_cache(maxsize=8192)
def user_name_keys(family_name: str) -> tuple[str, ...]:
    """The keys to index a directory user with this family name under (sorted, distinct)."""
    return tuple(sorted({stored_key(k) for k in directory_name_keys(family=family_name)}))


def search_keys(*, given: str, family: str, rule: str) -> tuple[str, ...]:
    """The keys to look up for a credential's names under ``rule`` (sorted, distinct, at most
    :data:`MAX_SEARCH_KEYS`). Empty when the names can fit no account: a name that is missing,
    has no letters or digits, or is longer than ``match_names`` accepts (``name_too_long``)."""
    if rule not in MATCH_RULES:
        raise ValidationFailed(f"unknown match rule {rule!r}", field="rule")
    for value in (given, family):
        if not isinstance(value, str) or len(value) > MAX_NAME_CHARS:
            return ()
        words = relaxed_words(value)
        if not words or len(words) > MAX_NAME_WORDS:
            return ()
    found = name_search_keys(given=given, family=family, rule=cast(MatchRule, rule))
    keys = {stored_key(k) for k in found}
    if len(keys) > MAX_SEARCH_KEYS:  # cannot happen with the bounds above; never truncate
        raise ValidationFailed("the names give too many search keys", field="family")
    return tuple(sorted(keys))
