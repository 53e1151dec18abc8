"""Citizens writing to the bot: each action stores what they did and queues the update MAX
would deliver (``message_created``, ``message_callback``, ``bot_started``,
``bot_stopped``), shaped as the schema and real captures have them.

Every action takes ``deliver=False`` to build the update without queueing it; hand it to
`FakeMax.deliver` later (twice for a duplicate, or after a later one for out-of-order
delivery).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from tools.fake_max.limits import DEEP_LINK_PAYLOAD_LIMIT
from tools.fake_max.world import Callback, ChatMessage, MaxState, Person
from tools.images import png


class Citizen:
    """A person in MAX with a dialog with the bot (see `FakeMax.citizen`)."""

    def __init__(self, state: MaxState, person: Person) -> None:
        self._state = state
        self.person = person

    @property
    def user_id(self) -> int:
        return self.person.user_id

    @property
    def chat_id(self) -> int:
        """The id of the dialog with the bot (not the user id)."""
        return self.person.chat_id

    @property
    def blocked(self) -> bool:
        return self.person.blocked

    # --- messages -------------------------------------------------------------------

    def send_text(self, text: str, *, deliver: bool = True) -> dict[str, Any]:
        return self.send_message(text, deliver=deliver)

    def send_message(
        self,
        text: str | None = None,
        attachments: Sequence[dict[str, Any]] = (),
        *,
        reply_to: str | None = None,
        deliver: bool = True,
    ) -> dict[str, Any]:
        """Any message: ``attachments`` as MAX shows them (``{"type": ..., ...}``);
        ``reply_to`` is the ``mid`` the citizen replies to."""
        # Writing to the bot means the citizen has it running again.
        self.person.blocked = False
        link = None
        if reply_to is not None:
            original = self._state.message(reply_to)
            link = {
                "type": "reply",
                "sender": dict(original.sender),
                "chat_id": original.chat_id,
                "message": original.to_api()["body"],
            }
        message = self._state.store_citizen_message(
            self.person, text if text is not None else "", list(attachments), link
        )
        return self._queue(
            {
                "update_type": "message_created",
                "timestamp": message.timestamp,
                "message": message.to_api(),
                "user_locale": self.person.locale,
            },
            deliver,
        )

    def send_photo(
        self,
        text: str = "",
        *,
        width: int = 1280,
        height: int = 960,
        data: bytes | None = None,
        filename: str = "photo.png",
        content_type: str = "image/png",
        deliver: bool = True,
    ) -> dict[str, Any]:
        """A photo whose ``payload.url`` the fake serves (a real PNG of ``width`` x
        ``height`` unless ``data`` is given)."""
        body = data if data is not None else png(width, height, label=secrets.token_hex(4))
        url = self._state.serve(body, filename, content_type)
        attachment = {
            "type": "image",
            "payload": {
                "photo_id": self._state.next_photo_id(),
                "token": secrets.token_urlsafe(48),
                "url": url,
            },
        }
        return self.send_message(text, [attachment], deliver=deliver)

    def send_file(
        self,
        filename: str,
        data: bytes,
        text: str = "",
        *,
        content_type: str = "application/octet-stream",
        deliver: bool = True,
    ) -> dict[str, Any]:
        url = self._state.serve(data, filename, content_type)
        attachment = {
            "type": "file",
            "payload": {"url": url, "token": secrets.token_urlsafe(32)},
            "filename": filename,
            "size": len(data),
        }
        return self.send_message(text, [attachment], deliver=deliver)

    def send_location(
        self, latitude: float, longitude: float, *, deliver: bool = True
    ) -> dict[str, Any]:
        attachment = {"type": "location", "latitude": latitude, "longitude": longitude}
        return self.send_message("", [attachment], deliver=deliver)

    def send_contact(
        self, phone: str, name: str | None = None, *, deliver: bool = True
    ) -> dict[str, Any]:
        """The citizen's own contact, as a ``request_contact`` button shares it."""
        full_name = name or " ".join(
            p for p in (self.person.first_name, self.person.last_name) if p
        )
        lines = ("BEGIN:VCARD", "VERSION:3.0", f"FN:{full_name}", f"TEL;TYPE=cell:{phone}")
        vcf = "\r\n".join((*lines, "END:VCARD", ""))
        attachment = {
            "type": "contact",
            "payload": {"vcf_info": vcf, "max_info": self.person.user()},
        }
        return self.send_message("", [attachment], deliver=deliver)

    # --- buttons and the bot itself ----------------------------------------------------

    def press(
        self,
        message: ChatMessage | str,
        payload: str | None = None,
        *,
        text: str | None = None,
        check: bool = True,
        deliver: bool = True,
    ) -> dict[str, Any]:
        """Press a callback button of the bot's ``message`` (or its ``mid``), found by
        ``payload`` or by its ``text``. ``check=False`` presses a button the message does
        not have (a stale keyboard) with ``payload`` as given."""
        found = self._state.message(message if isinstance(message, str) else message.mid)
        if check:
            button = _find_button(found, payload, text)
            if button.get("type") == "message":
                return self.send_text(button["text"], deliver=deliver)
            payload = button.get("payload")
        elif payload is None:
            raise ValueError("an unchecked press needs the payload")
        callback = Callback(
            secrets.token_urlsafe(48),
            self.user_id,
            None if found.deleted else found.mid,
            payload,
            self._state.now_ms(),
        )
        self._state.callbacks[callback.callback_id] = callback
        self.person.last_activity = callback.timestamp
        return self._queue(
            {
                "update_type": "message_callback",
                "timestamp": callback.timestamp,
                "callback": {
                    "timestamp": callback.timestamp,
                    "callback_id": callback.callback_id,
                    "payload": payload,
                    "user": self.person.user(),
                },
                "message": None if found.deleted else found.to_api(),
                "user_locale": self.person.locale,
            },
            deliver,
        )

    def start(self, payload: str | None = None, *, deliver: bool = True) -> dict[str, Any]:
        """Open the bot (press «Начать», or follow a deep link with ``payload``); a longer
        payload than MAX passes is dropped as MAX drops it."""
        self.person.blocked = False
        update: dict[str, Any] = {
            "update_type": "bot_started",
            "timestamp": self._state.now_ms(),
            "chat_id": self.chat_id,
            "user": self.person.user(),
            "user_locale": self.person.locale,
        }
        if payload is not None and len(payload) <= DEEP_LINK_PAYLOAD_LIMIT:
            update["payload"] = payload
        return self._queue(update, deliver)

    def stop(self, *, deliver: bool = True) -> dict[str, Any]:
        """Stop (block) the bot: from now on sending to them answers 403."""
        self.person.blocked = True
        self._state.notify()
        return self._queue(
            {
                "update_type": "bot_stopped",
                "timestamp": self._state.now_ms(),
                "chat_id": self.chat_id,
                "user": self.person.user(),
                "user_locale": self.person.locale,
            },
            deliver,
        )

    def _queue(self, update: dict[str, Any], deliver: bool) -> dict[str, Any]:
        if deliver:
            self._state.add_update(update)
        return update


def _find_button(message: ChatMessage, payload: str | None, text: str | None) -> dict[str, Any]:
    if payload is None and text is None:
        raise ValueError("press a button by its payload or its text")
    for button in message.buttons():
        if button.get("type") not in ("callback", "message"):
            continue
        if (payload is None or button.get("payload") == payload) and (
            text is None or button.get("text") == text
        ):
            return button
    shown = [(b.get("text"), b.get("payload")) for b in message.buttons()]
    raise ValueError(
        f"message {message.mid} has no callback button with payload={payload!r} "
        f"text={text!r}; its buttons: {shown}"
    )
