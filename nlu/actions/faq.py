"""Actions that answer from the knowledge base, and what the bot says when it does
not understand: the same replies, search log and buttons as the retrieval path."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from core.domain import MessageKind
from nlu import texts as shared_texts
from nlu.actions import texts
from nlu.actions.turn import Said, conversation_id, say, say_all
from nlu.retrieval import FaqResponder, operator_button


class ActionAnswerFaq(Action):
    """Answers the latest message from the FAQ and logs the search.

    Args:
        responder: The process's FAQ responder (search service and search log).
    """

    def __init__(self, responder: FaqResponder) -> None:
        self._responder = responder

    def name(self) -> str:
        return "action_answer_faq"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        said = Said.of(tracker)
        if said.is_payload:
            # A button of the form pressed after the form ended.
            say(dispatcher, shared_texts.STALE_BUTTON)
            return []
        messages = await self._responder.answer(
            said.text,
            conversation_id=conversation_id(tracker),
            message_id=said.message_id,
            channel=said.channel,
        )
        say_all(dispatcher, messages)
        return []


class ActionHandleMedia(Action):
    """A photo, voice message or file outside the appeal form: what the bot can do
    with text instead, as the retrieval path says it."""

    def name(self) -> str:
        return "action_handle_media"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        kind = Said.of(tracker).kind
        try:
            media = MessageKind(kind) if kind else MessageKind.OTHER
        except ValueError:
            media = MessageKind.OTHER
        say(dispatcher, shared_texts.non_text(media), ((operator_button(None),),))
        return []


class ActionFallback(Action):
    """The dialogue policies are unsure what to do: say so, offer an operator, and
    forget the message so a running form is not disturbed."""

    def name(self) -> str:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        say(dispatcher, texts.FALLBACK, ((operator_button(None),),))
        return [UserUtteranceReverted()]
