"""Reviewing, submitting, correcting and cancelling the appeal the form collected."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from core.appeals import AppealDraft, AppealRepository
from core.domain import Button
from nlu.actions import texts
from nlu.actions.turn import (
    FIELD_SLOTS,
    Said,
    appeal_complete,
    appeal_started,
    conversation_id,
    forget_appeal,
    say,
)
from nlu.engine import Rows
from nlu.retrieval import operator_button

log = logging.getLogger(__name__)


def review_rows() -> Rows:
    """Submit, correct any field, or cancel."""
    return (
        (Button(texts.BUTTON_SUBMIT, "/affirm"),),
        *texts.correction_rows(),
        (Button(texts.BUTTON_CANCEL_APPEAL, "/cancel"),),
    )


class ActionAppealSummary(Action):
    """After the form: the summary to review, or, when consent was refused, where
    else the problem can be reported."""

    def name(self) -> str:
        return "action_appeal_summary"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if tracker.get_slot("appeal_consent") is not True:
            say(dispatcher, texts.CONSENT_REFUSED)
            return forget_appeal()
        say(dispatcher, _summary(tracker), review_rows())
        return []


class ActionSubmitAppeal(Action):
    """«Да» to a reviewed appeal registers it; any other «да» is acknowledged.

    Args:
        appeals: The appeals repository.
        org_name: The administration's name (part of the consent text stored).
    """

    def __init__(self, appeals: AppealRepository, org_name: str) -> None:
        self._appeals = appeals
        self._org_name = org_name

    def name(self) -> str:
        return "action_submit_appeal"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        conversation = conversation_id(tracker)
        if not appeal_complete(tracker) or conversation is None:
            say(dispatcher, texts.ACKNOWLEDGED)
            return []
        draft = AppealDraft(
            conversation_id=conversation,
            category=tracker.get_slot("appeal_category"),
            address=tracker.get_slot("appeal_address"),
            description=tracker.get_slot("appeal_description"),
            photos=list(tracker.get_slot("appeal_photo") or []),
            phone=tracker.get_slot("appeal_phone"),
            consent_at=datetime.fromisoformat(tracker.get_slot("appeal_consent_at")),
            consent_text=texts.consent(self._org_name),
        )
        try:
            record = await self._appeals.register(draft)
        except (SQLAlchemyError, LookupError):
            log.exception("appeal of conversation %s not registered", conversation)
            say(dispatcher, texts.SUBMIT_FAILED, ((operator_button(None),),))
            return []
        say(dispatcher, texts.SUBMITTED.format(number=record.number))
        return forget_appeal()


class ActionDecline(Action):
    """«Нет» to a reviewed appeal asks what to correct; any other «нет» is
    acknowledged."""

    def name(self) -> str:
        return "action_decline"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if appeal_complete(tracker):
            say(dispatcher, texts.WHICH_FIELD, review_rows())
        else:
            say(dispatcher, texts.ACKNOWLEDGED)
        return []


class ActionCancelAppeal(Action):
    """Cancels the appeal being filled in or reviewed; nothing of it is kept."""

    def name(self) -> str:
        return "action_cancel_appeal"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if not appeal_started(tracker):
            say(dispatcher, texts.NOTHING_TO_CANCEL)
            return []
        say(dispatcher, texts.CANCELLED)
        return forget_appeal()


class ActionCorrectField(Action):
    """Clears the field the citizen wants to correct so that the form asks it again.

    Sets ``appeal_resume``: True when the form should run next (the rules follow it).
    """

    def name(self) -> str:
        return "action_correct_field"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        running = tracker.active_loop_name == "appeal_form"
        if not running and not appeal_complete(tracker):
            say(dispatcher, texts.NOTHING_TO_CORRECT)
            return [SlotSet("appeal_resume", False)]
        field = Said.of(tracker).entities.get("field")
        if field not in FIELD_SLOTS:
            say(dispatcher, texts.WHICH_FIELD, texts.correction_rows())
            return [SlotSet("appeal_resume", running)]
        if tracker.get_slot("appeal_consent") is not True:
            # Nothing personal was collected yet; the form goes on with the consent.
            return [SlotSet("appeal_resume", True)]
        say(dispatcher, texts.CORRECTING.format(field=texts.FIELD_NAMES[field]))
        return [SlotSet(FIELD_SLOTS[field], None), SlotSet("appeal_resume", True)]


def _summary(tracker: Tracker) -> str:
    return texts.summary(
        category=tracker.get_slot("appeal_category"),
        address=tracker.get_slot("appeal_address"),
        description=tracker.get_slot("appeal_description"),
        photo=bool(tracker.get_slot("appeal_photo")),
        phone=tracker.get_slot("appeal_phone"),
    )
