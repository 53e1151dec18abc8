"""Photos in the widget over real HTTP: a JPEG, PNG or WebP up to 10 MB is kept and sent
as the visitor's photo; anything else — by its first bytes, whatever it claims to be —
and anything larger is refused with a Russian message; a visitor can send only photos
they uploaded."""

from __future__ import annotations

from sqlalchemy import select

from core.domain import Channel, Direction, MessageKind
from core.models import Message
from tests.widget_harness import SITE, widget_server
from tools.images import png

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(200)
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(40)
GIF = b"GIF89a\x01\x00\x01\x00" + bytes(40)


async def test_photos_are_checked_kept_and_sent(demo_settings, embedder):
    async with widget_server(demo_settings, embedder) as server:
        async with server.visitor() as anna, server.http() as site:
            auth = {"Authorization": f"Bearer {anna.token}"}

            async def upload(data: bytes, content_type: str):
                return await site.post(
                    "/widget/api/photos", content=data,
                    headers={**auth, "Content-Type": content_type},
                )  # fmt: skip

            photo = png(64, 48, label="яма во дворе")
            kept = await upload(photo, "image/png")
            assert kept.status_code == 200, kept.text
            name = kept.json()["file"]
            assert (await upload(JPEG, "image/jpeg")).json()["file"].endswith(".jpg")
            assert (await upload(WEBP, "image/webp")).json()["file"].endswith(".webp")

            for data, claimed in [
                (GIF, "image/gif"),
                (GIF, "image/png"),  # a GIF calling itself a PNG
                (b"%PDF-1.7\n" + bytes(100), "image/jpeg"),
                (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/png"),
                (photo, "image/jpeg"),  # a real PNG declared as a JPEG
            ]:
                refused = await upload(data, claimed)
                assert refused.status_code == 415, claimed
                assert refused.json()["message"] == (
                    "Можно отправить только фото в формате JPEG, PNG или WebP."
                )
            big = b"\xff\xd8\xff" + bytes(10 * 1024 * 1024 - 2)
            refused = await upload(big, "image/jpeg")
            assert refused.status_code == 413
            assert refused.json()["message"] == "Фото слишком большое: не больше 10 МБ."
            empty = await upload(b"", "image/png")
            assert empty.status_code == 400 and empty.json()["code"] == "photo_empty"
            anonymous = await site.post("/widget/api/photos", content=photo,
                                        headers={"Content-Type": "image/png"})  # fmt: skip
            assert anonymous.status_code == 401
            async with server.http("https://evil.example.com") as other:
                foreign = await other.post("/widget/api/photos", content=photo, headers=auth)
                assert foreign.status_code == 403

            served = await site.get(f"/widget/files/{name}")
            assert served.status_code == 200 and served.content == photo
            assert served.headers["content-type"] == "image/png"
            assert (await site.get("/widget/files/..%2F..%2Fdjinn.sqlite3")).status_code == 404

            # The photo goes into the conversation with a caption.
            await anna.send({"type": "photo", "id": anna.new_id(), "file": name,
                             "text": "Яма во дворе", "consent": True})  # fmt: skip
            await anna.next("ack")
            await anna.reply()  # the bot's answer to a photo

        # Another visitor cannot send Anna's photo.
        async with server.visitor() as boris:
            sent = boris.new_id()
            await boris.send({"type": "photo", "id": sent, "file": name, "consent": True})
            error = await boris.next("error", lambda f: f.get("client_id") == sent)
            assert error["code"] == "photo_missing"

        async with server.services.sessions() as session:
            [stored] = (
                await session.scalars(
                    select(Message).where(
                        Message.channel == Channel.WEB,
                        Message.direction == Direction.IN,
                    )
                )
            ).all()
        assert (stored.kind, stored.text) == (MessageKind.PHOTO, "Яма во дворе")
        [attachment] = stored.attachments
        assert attachment["file"] == name
        assert attachment["url"] == f"{server.url}/widget/files/{name}"
        assert SITE not in attachment["url"]  # the widget's server serves it, not the site
