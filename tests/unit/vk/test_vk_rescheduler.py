import pytest

from bots.vk.client import FailingRescheduler, VkUnavailable


async def test_non_json_vk_answer_is_described_not_quoted(api):
    page = "<html>502 Bad Gateway; message: Ваш телефон 89161234567</html>"

    with pytest.raises(VkUnavailable) as raised:
        await FailingRescheduler().reschedule(api, "messages.send", {}, page)

    assert str(raised.value) == f"messages.send: VK answered no JSON (str, {len(page)} characters)"
