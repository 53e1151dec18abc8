"""rasa-sdk trackers and dispatchers for driving our custom actions directly, as the
action server does when Rasa calls it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

DOMAIN_FILE = Path(__file__).resolve().parent.parent / "nlu" / "domain.yml"


def load_domain() -> dict[str, Any]:
    return yaml.safe_load(DOMAIN_FILE.read_text(encoding="utf-8"))


def make_tracker(
    text: str = "",
    intent: str | None = None,
    *,
    sender_id: str | int = "1",
    confidence: float = 0.95,
    entities: dict[str, str] | None = None,
    slots: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    active_loop: str | None = None,
) -> Tracker:
    """A tracker whose latest user message is ``text`` classified as ``intent``."""
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": [{"entity": k, "value": v} for k, v in (entities or {}).items()],
        "metadata": metadata or {},
    }
    all_slots: dict[str, Any] = {name: None for name in load_domain()["slots"]}
    all_slots["requested_slot"] = None
    all_slots.update(slots or {})
    return Tracker(
        sender_id=str(sender_id),
        slots=all_slots,
        latest_message=latest,
        events=[],
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


def djinn_messages(dispatcher: CollectingDispatcher) -> list[dict[str, Any]]:
    """What the actions said, as ``{"text", "buttons"}`` (our json_message shape)."""
    return [m["custom"]["djinn"] for m in dispatcher.messages]


def texts_of(dispatcher: CollectingDispatcher) -> list[str]:
    return [m["text"] for m in djinn_messages(dispatcher)]


def payloads_of(message: dict[str, Any]) -> list[str]:
    return [b["payload"] for row in message["buttons"] for b in row]


def slot_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
