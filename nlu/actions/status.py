"""The status of the citizen's own appeals."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from core.appeals import AppealRepository
from nlu.actions import texts
from nlu.actions.turn import Said, conversation_id, say

# «2026-000123», «ОБР-2026-000123», «2026 000123».
_NUMBER = re.compile(r"(?<!\d)(20\d\d)[\s\-–—]*(\d{6})(?!\d)")


def appeal_number(text: str) -> str | None:
    """The registration number a citizen mentions, in our form (``2026-000123``)."""
    found = _NUMBER.search(text)
    return f"{found.group(1)}-{found.group(2)}" if found else None


class ActionAppealStatus(Action):
    """Lists the citizen's newest appeals, or the one whose number they gave if it is
    theirs. The citizen is the one behind the conversation; a number alone shows
    nothing of anyone else's.

    Args:
        appeals: The appeals repository.
    """

    def __init__(self, appeals: AppealRepository) -> None:
        self._appeals = appeals

    def name(self) -> str:
        return "action_appeal_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        number = appeal_number(Said.of(tracker).text)
        conversation = conversation_id(tracker)
        records = (
            await self._appeals.of_conversation_citizen(conversation, number=number)
            if conversation is not None
            else []
        )
        if not records:
            say(
                dispatcher,
                texts.STATUS_NOT_FOUND.format(number=number) if number else texts.STATUS_NONE,
            )
            return []
        lines = [texts.status_line(r.number, r.created_at, r.category, r.status) for r in records]
        say(dispatcher, "\n".join([texts.STATUS_HEAD, "", *lines]))
        return []
