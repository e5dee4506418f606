"""The recovery flow's state machine (ARCHITECTURE.md): one transition table, nothing else.

::

    started ─▶ verifying ─▶ credential_verified ─▶ face_checking ─▶ validating ─▶ evaluated
                  │                 │                   │               │    └─▶ restored ─▶ completed
                  └─────────────────┴───────────────────┴───────────────┴─▶ failed | expired | cancelled

``credential_verified`` goes straight to ``validating`` when the profile turns the face check
off; a failed face check that leaves attempts stays in ``face_checking`` (R24). A restored flow
whose pass was never shown can still expire. Every (state, event) pair not in the table is
refused with :class:`InvalidTransition`.
"""

from __future__ import annotations

from typing import Final

from ssar.errors import Conflict

STATES: Final = (
    "started",
    "verifying",
    "credential_verified",
    "face_checking",
    "validating",
    "evaluated",
    "restored",
    "completed",
    "failed",
    "expired",
    "cancelled",
)
EVENTS: Final = (
    "begin",
    "verified",
    "face_check",
    "validate",
    "face_retry",
    "face_matched",
    "evaluate",
    "restore",
    "tap_taken",
    "fail",
    "expire",
    "cancel",
)
TERMINAL: Final = frozenset({"evaluated", "completed", "failed", "expired", "cancelled"})
#: the states before any decision: every one of them can fail, expire or be cancelled
_OPEN: Final = ("started", "verifying", "credential_verified", "face_checking", "validating")

TRANSITIONS: Final[dict[tuple[str, str], str]] = {
    ("started", "begin"): "verifying",
    ("verifying", "verified"): "credential_verified",
    ("credential_verified", "face_check"): "face_checking",
    ("credential_verified", "validate"): "validating",
    ("face_checking", "face_retry"): "face_checking",
    ("face_checking", "face_matched"): "validating",
    ("validating", "evaluate"): "evaluated",
    ("validating", "restore"): "restored",
    ("restored", "tap_taken"): "completed",
    ("restored", "expire"): "expired",
    **{(state, "fail"): "failed" for state in _OPEN},
    **{(state, "expire"): "expired" for state in _OPEN},
    **{(state, "cancel"): "cancelled" for state in _OPEN},
}


class InvalidTransition(Conflict):
    code = "invalid_transition"


def next_state(state: str, event: str) -> str:
    """The state ``event`` leads to from ``state``; anything not in the table is refused."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(f"{event!r} is not possible in state {state!r}") from None
