"""Supergroups with topics (forums) and their members: the operators' side of the fake.

A topic's ``message_thread_id`` is the id of the service message that created it, as in
Telegram. Creating a topic posts that message, so it counts against the group's flood
limit like any other message. Sending into a topic that does not exist (or was deleted)
fails with «message thread not found»; closing a closed topic, or reopening an open
one, with «TOPIC_NOT_MODIFIED».
"""

from __future__ import annotations

from typing import Any

from tools.fake_telegram.citizens import Citizen
from tools.fake_telegram.errors import bad_request
from tools.fake_telegram.methods import api_method
from tools.fake_telegram.state import FakeState, Topic

TOPIC_NAME_LIMIT = 128
ICON_COLORS = frozenset({7322096, 16766590, 13338331, 9367192, 16749490, 16478047})
_ADMIN_RIGHTS = (
    "can_manage_chat", "can_delete_messages", "can_manage_video_chats", "can_restrict_members",
    "can_promote_members", "can_change_info", "can_invite_users", "can_post_stories",
    "can_edit_stories", "can_delete_stories", "can_send_welcome_messages", "can_manage_topics",
)  # fmt: skip
_RESTRICTED_RIGHTS = (
    "can_send_messages", "can_send_audios", "can_send_documents", "can_send_photos",
    "can_send_videos", "can_send_video_notes", "can_send_voice_notes", "can_send_polls",
    "can_send_other_messages", "can_add_web_page_previews", "can_react_to_messages",
    "can_edit_tag", "can_change_info", "can_invite_users", "can_pin_messages",
    "can_manage_topics",
)  # fmt: skip
MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "restricted", "left", "kicked"})


def forum_group(state: FakeState, chat_id: int, title: str) -> dict[str, Any]:
    """A supergroup with topics, in which the bot is an administrator."""
    if chat_id >= 0:
        raise ValueError("a supergroup's id is negative")
    chat = {"id": chat_id, "type": "supergroup", "title": title, "is_forum": True}
    state.chats[chat_id] = chat
    state.topics.setdefault(chat_id, {})
    state.members.setdefault(chat_id, {})[state.bot_user["id"]] = "administrator"
    return chat


def _topic(state: FakeState, params: dict[str, Any]) -> tuple[dict[str, Any], Topic]:
    chat = state.resolve_chat(params.get("chat_id"))
    if not chat.get("is_forum"):
        raise bad_request("the chat is not a forum")
    thread_id = params.get("message_thread_id")
    topic = state.topics[chat["id"]].get(thread_id) if isinstance(thread_id, int) else None
    if topic is None or topic.deleted:
        raise bad_request("message thread not found")
    return chat, topic


def _name(params: dict[str, Any]) -> str:
    name = params.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= TOPIC_NAME_LIMIT:
        raise bad_request("TOPIC_NAME_INVALID" if name else "topic name must be non-empty")
    return name


@api_method("createForumTopic")
async def create_forum_topic(state: FakeState, params: dict[str, Any]) -> Any:
    chat = state.resolve_chat(params.get("chat_id"))
    if not chat.get("is_forum"):
        raise bad_request("the chat is not a forum")
    name = _name(params)
    color = params.get("icon_color", 7322096)
    if color not in ICON_COLORS:
        raise bad_request("TOPIC_ICON_COLOR_INVALID")
    service = state.bot_message(
        chat, forum_topic_created={"name": name, "icon_color": color}, is_topic_message=True
    )
    thread_id = service["message_id"]
    service["message_thread_id"] = thread_id
    state.topics[chat["id"]][thread_id] = Topic(thread_id, name, color)
    state.changed.notify()
    return {"message_thread_id": thread_id, "name": name, "icon_color": color}


@api_method("editForumTopic")
async def edit_forum_topic(state: FakeState, params: dict[str, Any]) -> Any:
    _, topic = _topic(state, params)
    if "name" in params:
        name = _name(params)
        if name == topic.name:
            raise bad_request("TOPIC_NOT_MODIFIED")
        topic.name = name
    state.changed.notify()
    return True


@api_method("closeForumTopic")
async def close_forum_topic(state: FakeState, params: dict[str, Any]) -> Any:
    return _set_closed(state, params, closed=True)


@api_method("reopenForumTopic")
async def reopen_forum_topic(state: FakeState, params: dict[str, Any]) -> Any:
    return _set_closed(state, params, closed=False)


def _set_closed(state: FakeState, params: dict[str, Any], *, closed: bool) -> bool:
    _, topic = _topic(state, params)
    if topic.closed == closed:
        raise bad_request("TOPIC_NOT_MODIFIED")
    topic.closed = closed
    state.changed.notify()
    return True


@api_method("deleteForumTopic")
async def delete_forum_topic(state: FakeState, params: dict[str, Any]) -> Any:
    chat, topic = _topic(state, params)
    delete_topic(state, chat["id"], topic.thread_id)
    return True


def delete_topic(state: FakeState, chat_id: int, thread_id: int) -> None:
    """The topic and its messages are gone (the bot did it, or a person by hand)."""
    state.topics[chat_id][thread_id].deleted = True
    state.history[chat_id] = [
        m for m in state.history[chat_id] if m.get("message_thread_id") != thread_id
    ]
    state.changed.notify()


@api_method("getChatMember")
async def get_chat_member(state: FakeState, params: dict[str, Any]) -> Any:
    chat = state.resolve_chat(params.get("chat_id"))
    user_id = params.get("user_id")
    user = state.users.get(user_id) if isinstance(user_id, int) else None
    if user is None:
        raise bad_request("user not found")
    status = state.members.get(chat["id"], {}).get(user_id, "left")
    member: dict[str, Any] = {"status": status, "user": user}
    if status == "administrator":
        member |= dict.fromkeys(_ADMIN_RIGHTS, True) | {
            "can_be_edited": False,
            "is_anonymous": False,
        }
    elif status == "restricted":
        member |= dict.fromkeys(_RESTRICTED_RIGHTS, False) | {"is_member": True, "until_date": 0}
    elif status == "kicked":
        member["until_date"] = 0
    return member


class Operator(Citizen):
    """A member of an operator group writing in its topics and pressing buttons there."""

    def __init__(
        self,
        state: FakeState,
        user_id: int,
        first_name: str,
        group_id: int,
        status: str = "member",
        **details: Any,
    ) -> None:
        if status not in MEMBER_STATUSES:
            raise ValueError(f"unknown member status {status!r}")
        super().__init__(state, user_id, first_name, group_id=group_id, **details)
        self.chat = state.chats[group_id]
        state.members.setdefault(group_id, {})[user_id] = status

    def write(self, thread_id: int | None, text: str, **content: Any) -> dict[str, Any]:
        """A message in a topic (``thread_id``) or, with None, in the group's general chat."""
        if thread_id is not None:
            content |= {"message_thread_id": thread_id, "is_topic_message": True}
        return self.send_message(text=text, **content)

    def write_media(self, thread_id: int, **content: Any) -> dict[str, Any]:
        return self.send_message(message_thread_id=thread_id, is_topic_message=True, **content)
