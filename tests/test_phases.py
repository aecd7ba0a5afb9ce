"""The conversation phases and a submission's lifecycle as transition tables."""

from __future__ import annotations

import pytest
from transitions import MachineError

from dialogs.phases import CONVERSATION, EDITABLE_STATUSES, SUBMISSION


@pytest.mark.parametrize(
    ("state", "trigger", "destination"),
    [
        ("answering", "edit", "editing"),
        ("editing", "finish_edit", "answering"),
        ("confirming", "cancel", "answering"),
        ("answering", "ask_submit", "confirming"),
        ("confirming", "submit", "answering"),
    ],
)
def test_conversation_moves(state, trigger, destination):
    assert CONVERSATION.next(state, trigger) == destination


@pytest.mark.parametrize(
    ("status", "trigger", "destination"),
    [
        ("draft", "submit", "submitted"),
        ("returned", "submit", "submitted"),
        ("submitted", "return_for_fixes", "returned"),
        ("approved", "return_for_fixes", "returned"),
        ("submitted", "approve", "approved"),
    ],
)
def test_submission_lifecycle(status, trigger, destination):
    assert SUBMISSION.allows(status, trigger)
    assert SUBMISSION.next(status, trigger) == destination


@pytest.mark.parametrize(
    ("status", "trigger"),
    [("draft", "approve"), ("approved", "submit"), ("submitted", "submit"), ("draft", "nope")],
)
def test_what_a_lifecycle_does_not_allow_is_refused(status, trigger):
    assert not SUBMISSION.allows(status, trigger)
    with pytest.raises(MachineError):
        SUBMISSION.next(status, trigger)


def test_only_drafts_and_returned_forms_can_be_edited():
    assert set(EDITABLE_STATUSES) == {"draft", "returned"}
