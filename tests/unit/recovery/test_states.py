"""The flow's transition table: every (state, event) pair either leads where ARCHITECTURE.md
draws it or is refused."""

from __future__ import annotations

import pytest

from ssar.recovery.states import (
    EVENTS,
    STATES,
    TERMINAL,
    TRANSITIONS,
    InvalidTransition,
    next_state,
)

EXPECTED = {
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
    **{
        (state, event): target
        for state in ("started", "verifying", "credential_verified", "face_checking", "validating")
        for event, target in (("fail", "failed"), ("expire", "expired"), ("cancel", "cancelled"))
    },
}


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("event", EVENTS)
def test_every_state_event_pair(state: str, event: str) -> None:
    if (state, event) in EXPECTED:
        assert next_state(state, event) == EXPECTED[(state, event)]
    else:
        with pytest.raises(InvalidTransition):
            next_state(state, event)


def test_the_table_is_exactly_the_drawing() -> None:
    assert TRANSITIONS == EXPECTED


def test_terminal_states_have_no_way_out() -> None:
    assert not [pair for pair in TRANSITIONS if pair[0] in TERMINAL]


def test_restoration_cannot_be_undone_by_a_failure() -> None:
    """Once restored, a late failure must not hide that the account changed."""
    for event in ("fail", "cancel"):
        with pytest.raises(InvalidTransition):
            next_state("restored", event)
