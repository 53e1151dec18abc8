from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from core.logs import current_conversation_id
from nlu.actions.server import ConversationExecutor


class ActionRemember(Action):
    def __init__(self) -> None:
        self.seen: list[int | str | None] = []

    def name(self) -> str:
        return "action_remember"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        self.seen.append(current_conversation_id())
        return []


def action_call(sender_id: str) -> dict[str, Any]:
    return {
        "next_action": "action_remember",
        "sender_id": sender_id,
        "tracker": {"sender_id": sender_id, "slots": {}, "latest_message": {}, "events": []},
        "domain": {},
        "version": "3.6.20",
    }


async def test_actions_run_in_their_conversations_scope():
    action = ActionRemember()
    executor = ConversationExecutor()
    executor.register_action(action)

    await executor.run(action_call("42"))
    await executor.run(action_call("cli-user"))

    assert action.seen == [42, "cli-user"]
    assert current_conversation_id() is None
