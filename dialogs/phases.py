"""The phases of a conversation and the lifecycle of a submission, as ``transitions`` machines.

Both are built once per process at import time with ``auto_transitions=False`` and no model:
they serve as validated transition tables, so the per-message path only looks up a
destination (attaching a model per message costs far more than a turn may).
"""

from __future__ import annotations

from transitions import Machine, MachineError

CONVERSATION_STATES = ["answering", "editing", "confirming"]
CONVERSATION_TRANSITIONS = [
    {"trigger": "edit", "source": ["answering", "editing", "confirming"], "dest": "editing"},
    {"trigger": "finish_edit", "source": "editing", "dest": "answering"},
    {"trigger": "move", "source": ["answering", "editing", "confirming"], "dest": "answering"},
    {
        "trigger": "ask_submit",
        "source": ["answering", "editing", "confirming"],
        "dest": "confirming",
    },
    {"trigger": "cancel", "source": ["answering", "editing", "confirming"], "dest": "answering"},
    {"trigger": "submit", "source": "confirming", "dest": "answering"},
]

SUBMISSION_STATES = ["draft", "submitted", "returned", "approved"]
SUBMISSION_TRANSITIONS = [
    {"trigger": "submit", "source": ["draft", "returned"], "dest": "submitted"},
    {"trigger": "return_for_fixes", "source": ["submitted", "approved"], "dest": "returned"},
    {"trigger": "approve", "source": "submitted", "dest": "approved"},
]


class TransitionTable:
    def __init__(self, states: list[str], transitions: list[dict], initial: str) -> None:
        self._machine = Machine(
            model=None,
            states=states,
            transitions=transitions,
            initial=initial,
            auto_transitions=False,
        )

    def next(self, state: str, trigger: str) -> str:
        """The state ``trigger`` leads to from ``state``; MachineError if not allowed."""
        event = self._machine.events.get(trigger)
        if event is None or state not in event.transitions:
            raise MachineError(f"{trigger!r} is not allowed from {state!r}")
        return event.transitions[state][0].dest

    def allows(self, state: str, trigger: str) -> bool:
        event = self._machine.events.get(trigger)
        return event is not None and state in event.transitions


CONVERSATION = TransitionTable(CONVERSATION_STATES, CONVERSATION_TRANSITIONS, "answering")
SUBMISSION = TransitionTable(SUBMISSION_STATES, SUBMISSION_TRANSITIONS, "draft")
EDITABLE_STATUSES = ("draft", "returned")
