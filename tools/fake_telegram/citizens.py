"""People writing to the bot: each call builds the update Telegram would send and queues it."""

from __future__ import annotations

import time
from typing import Any

from tools.fake_telegram.state import FakeState


class Citizen:
    """A Telegram user writing in a private chat with the bot, or in a group when
    ``group_id`` is given."""

    def __init__(
        self,
        state: FakeState,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "ru",
        group_id: int | None = None,
    ) -> None:
        self._state = state
        self.user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        for key, value in (
            ("last_name", last_name),
            ("username", username),
            ("language_code", language_code),
        ):
            if value is not None:
                self.user[key] = value
        self.chat: dict[str, Any]
        if group_id is None:
            self.chat = {"id": user_id, "type": "private", "first_name": first_name}
            if username:
                self.chat["username"] = username
        else:
            self.chat = {"id": group_id, "type": "supergroup", "title": f"Группа {group_id}"}
        state.users[user_id] = self.user
        state.chats.setdefault(self.chat["id"], self.chat)

    @property
    def user_id(self) -> int:
        return int(self.user["id"])

    @property
    def chat_id(self) -> int:
        return int(self.chat["id"])

    def send_message(self, **content: Any) -> dict[str, Any]:
        """Queue a message with arbitrary content fields (``text``, ``photo``...)."""
        if self.chat["type"] == "private":
            # A person who blocked the bot has to unblock it before writing again.
            self._state.blocked.discard(self.chat_id)
        message = {
            "message_id": self._state.next_message_id(self.chat_id),
            "from": self.user,
            "chat": self.chat,
            "date": int(time.time()),
            **content,
        }
        self._state.add_message(message)
        return self._state.enqueue({"message": message})

    def edit(self, update: dict[str, Any], text: str) -> dict[str, Any]:
        """Edit the text of a message sent earlier (its update); Telegram sends an
        ``edited_message`` with the same message id."""
        message = self._state.find_message(self.chat_id, update["message"]["message_id"])
        if message is None:
            raise LookupError("no such message to edit")
        message["text"] = text
        message["edit_date"] = int(time.time())
        return self._state.enqueue({"edited_message": dict(message)})

    def send_text(self, text: str) -> dict[str, Any]:
        return self.send_message(text=text)

    def send_command(self, command: str, args: str = "") -> dict[str, Any]:
        text = f"/{command}" + (f" {args}" if args else "")
        entity = {"type": "bot_command", "offset": 0, "length": len(command) + 1}
        return self.send_message(text=text, entities=[entity])

    def send_photo(self, caption: str | None = None) -> dict[str, Any]:
        sizes = [
            {**self.new_file(), "width": side, "height": side, "file_size": side * 90}
            for side in (90, 320, 1280)
        ]
        return self.send_message(photo=sizes, **_caption(caption))

    def send_voice(self, duration: int = 3) -> dict[str, Any]:
        voice = {**self.new_file(), "duration": duration, "mime_type": "audio/ogg"}
        return self.send_message(voice=voice)

    def send_video(self, caption: str | None = None) -> dict[str, Any]:
        video = {**self.new_file(), "width": 640, "height": 360, "duration": 5}
        return self.send_message(video=video, **_caption(caption))

    def send_video_note(self) -> dict[str, Any]:
        return self.send_message(video_note={**self.new_file(), "length": 240, "duration": 4})

    def send_audio(self, caption: str | None = None) -> dict[str, Any]:
        audio = {**self.new_file(), "duration": 120, "title": "Запись"}
        return self.send_message(audio=audio, **_caption(caption))

    def send_sticker(self, emoji: str = "👍") -> dict[str, Any]:
        sticker = {
            **self.new_file(),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self.send_message(sticker=sticker)

    def send_document(
        self, file_name: str = "заявление.pdf", caption: str | None = None
    ) -> dict[str, Any]:
        document = {**self.new_file(), "file_name": file_name, "mime_type": "application/pdf"}
        return self.send_message(document=document, **_caption(caption))

    def send_location(
        self, latitude: float = 55.7558, longitude: float = 37.6173
    ) -> dict[str, Any]:
        return self.send_message(location={"latitude": latitude, "longitude": longitude})

    def send_contact(self, phone_number: str = "+79001234567") -> dict[str, Any]:
        contact = {
            "phone_number": phone_number,
            "first_name": self.user["first_name"],
            "user_id": self.user_id,
        }
        return self.send_message(contact=contact)

    def press_button(self, message: dict[str, Any] | int, data: str) -> dict[str, Any]:
        """Press the inline button carrying ``data`` under a message the bot sent here."""
        message_id = message if isinstance(message, int) else message["message_id"]
        sent = self._state.find_message(self.chat_id, message_id)
        if sent is None or sent.get("from", {}).get("id") != self._state.bot_user["id"]:
            raise LookupError(f"the bot sent no message {message_id} to chat {self.chat_id}")
        rows = sent.get("reply_markup", {}).get("inline_keyboard", [])
        if not any(button.get("callback_data") == data for row in rows for button in row):
            raise LookupError(f"message {message_id} has no button with data {data!r}")
        query_id = str(self._state.serial() * 1_000_003)
        query: dict[str, Any] = {
            "id": query_id,
            "from": self.user,
            "message": dict(sent),
            "chat_instance": f"ci{self.chat_id}",
            "data": data,
        }
        self._state.callback_queries[query_id] = query
        return self._state.enqueue({"callback_query": query})

    def new_file(self) -> dict[str, Any]:
        """A new file's ids, as Telegram gives them in a message."""
        serial = self._state.serial()
        return {"file_id": f"AgACAgIAAxkBAAI{serial:06d}", "file_unique_id": f"AQAD{serial:06d}"}


def _caption(caption: str | None) -> dict[str, Any]:
    return {} if caption is None else {"caption": caption}
