"""Normalisation of identifiers people type."""

from __future__ import annotations

import unicodedata


def username_key(username: str) -> str:
    """The key a username is unique and looked up by: NFC-normalised, case-folded, trimmed."""
    return unicodedata.normalize("NFC", username.strip()).casefold()


def group_key(name: str) -> str:
    return unicodedata.normalize("NFC", " ".join(name.split())).casefold()
