"""Actions that hand the conversation to the operators."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from core.db import SessionFactory
from core.domain import Button
from handoff.service import HandoffService, Priority
from nlu import texts as shared_texts
from nlu.actions import texts
from nlu.actions.turn import appeal_started, conversation_id, forget_appeal, say
from nlu.payloads import Action as PayloadAction
from nlu.payloads import Payload


def cancel_button() -> Button:
    """The citizen may withdraw an operator request (the conversation service does it)."""
    return Button(shared_texts.BUTTON_CANCEL_OPERATOR, Payload(PayloadAction.CANCEL).encode())


class _HandoffAction(Action):
    def __init__(self, sessions: SessionFactory, handoff: HandoffService) -> None:
        self._sessions = sessions
        self._handoff = handoff

    async def _request(self, tracker: Tracker, reason: str, priority: Priority) -> bool | None:
        """Queue the conversation; None when there is no conversation of ours."""
        conversation = conversation_id(tracker)
        if conversation is None:
            return None
        async with self._sessions.begin() as session:
            return await self._handoff.request_operator(session, conversation, reason, priority)


class ActionRequestOperator(_HandoffAction):
    """The citizen asks for a person: the conversation waits for an operator.

    Args:
        sessions: The session factory.
        handoff: Changes the conversation's state.
    """

    def name(self) -> str:
        return "action_request_operator"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        moved = await self._request(tracker, "citizen_request", Priority.NORMAL)
        prefix = texts.FORM_ABORTED + "\n\n" if appeal_started(tracker) else ""
        if moved is None:
            say(dispatcher, prefix + texts.NO_CONVERSATION)
        else:
            text = shared_texts.OPERATOR_REQUESTED if moved else shared_texts.ALREADY_WAITING
            say(dispatcher, prefix + text, ((cancel_button(),),))
        return forget_appeal() if appeal_started(tracker) else []


class ActionEmergency(_HandoffAction):
    """A threat to life, health or property: the emergency numbers at once, then a
    high-priority operator request.

    Args:
        sessions: The session factory.
        handoff: Changes the conversation's state.
    """

    def name(self) -> str:
        return "action_emergency"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        say(dispatcher, texts.EMERGENCY)
        moved = await self._request(tracker, "emergency", Priority.HIGH)
        if moved is not None:
            say(dispatcher, texts.EMERGENCY_HANDOFF, ((cancel_button(),),))
        return forget_appeal() if appeal_started(tracker) else []
