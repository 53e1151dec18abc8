"""The appeal form: its questions and the validation action that fills its slots."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from core.appeals import CATEGORIES
from core.domain import Button
from core.models import utcnow
from nlu.actions import texts
from nlu.actions.answers import Unclear, answers, read
from nlu.actions.turn import FORM_SLOTS, Said, say
from nlu.engine import Rows


class AskAction(Action):
    """Asks the form's question for one slot (``action_ask_<slot>``).

    Args:
        slot: The slot the question fills.
        text: The question.
        rows: Buttons under it.
    """

    def __init__(self, slot: str, text: str, rows: Rows = ()) -> None:
        self._slot = slot
        self._text = text
        self._rows = rows

    def name(self) -> str:
        return f"action_ask_{self._slot}"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        say(dispatcher, self._text, self._rows)
        return []


def ask_actions(org_name: str) -> list[AskAction]:
    """The form's questions, the consent first."""
    categories = [
        Button(title, f'/inform{{"appeal_category":"{key}"}}') for key, title in CATEGORIES.items()
    ]
    return [
        AskAction(
            "appeal_consent",
            texts.consent(org_name),
            (
                (
                    Button(texts.BUTTON_YES_CONSENT, "/affirm"),
                    Button(texts.BUTTON_NO_CONSENT, "/deny"),
                ),
            ),
        ),
        AskAction(
            "appeal_category",
            texts.ASK_CATEGORY,
            tuple(tuple(categories[i : i + 2]) for i in range(0, len(categories), 2)),
        ),
        AskAction("appeal_address", texts.ASK_ADDRESS),
        AskAction("appeal_description", texts.ASK_DESCRIPTION),
        AskAction("appeal_photo", texts.ASK_PHOTO, ((Button(texts.BUTTON_NO_PHOTO, "/deny"),),)),
        AskAction("appeal_phone", texts.ASK_PHONE),
    ]


class ValidateAppealForm(FormValidationAction):
    """Fills the appeal form's slots from the citizen's messages.

    A message either answers the pending question (and is read, normalised, or
    answered with a hint) or interrupts the form: then nothing is extracted, Rasa
    rejects the form for this turn and the rules answer the interruption before the
    form asks its question again.

    Args:
        clock: The time source for the moment of consent.
    """

    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self._clock = clock

    def name(self) -> str:
        return "validate_appeal_form"

    async def get_extraction_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        # Only the pending question is answered by a message; the rest stay as they are.
        slot = tracker.get_slot("requested_slot")
        if slot not in FORM_SLOTS:
            return []
        said = Said.of(tracker)
        if not answers(slot, said):
            return []
        return [SlotSet(slot, read(slot, said))]

    async def validate_appeal_consent(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Any
    ) -> dict[str, Any]:
        if value is True:
            return {"appeal_consent": True, "appeal_consent_at": self._clock().isoformat()}
        if value is False:
            # Ends the form; action_appeal_summary tells the citizen where else to go.
            return {"appeal_consent": False, "requested_slot": None}
        return _unclear("appeal_consent", value, dispatcher)

    async def validate_appeal_category(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Any
    ) -> dict[str, Any]:
        return _unclear("appeal_category", value, dispatcher)

    async def validate_appeal_address(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Any
    ) -> dict[str, Any]:
        return _unclear("appeal_address", value, dispatcher)

    async def validate_appeal_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Any
    ) -> dict[str, Any]:
        return _unclear("appeal_description", value, dispatcher)

    async def validate_appeal_photo(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Any
    ) -> dict[str, Any]:
        return _unclear("appeal_photo", value, dispatcher)

    async def validate_appeal_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Any
    ) -> dict[str, Any]:
        return _unclear("appeal_phone", value, dispatcher)


def _unclear(slot: str, value: Any, dispatcher: CollectingDispatcher) -> dict[str, Any]:
    """Keep a usable value; for an unusable one give the hint and ask again."""
    if isinstance(value, Unclear):
        say(dispatcher, value.hint)
        return {slot: None}
    return {slot: value}
