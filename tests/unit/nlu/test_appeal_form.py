"""validate_appeal_form: what fills the pending slot, what interrupts the form."""

from datetime import UTC, datetime

import pytest
from rasa_sdk.executor import CollectingDispatcher

from nlu.actions import texts
from nlu.actions.answers import answers, category_of, read
from nlu.actions.form import ValidateAppealForm, ask_actions
from nlu.actions.turn import Said
from tests.trackers import djinn_messages, load_domain, make_tracker, payloads_of, slot_events

CONSENT_AT = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
CONSENTED = {"appeal_consent": True, "appeal_consent_at": CONSENT_AT.isoformat()}


async def validate(requested: str, text: str, intent: str, **kwargs):
    slots = {**kwargs.pop("slots", {}), "requested_slot": requested}
    tracker = make_tracker(text, intent, slots=slots, active_loop="appeal_form", **kwargs)
    dispatcher = CollectingDispatcher()
    events = await ValidateAppealForm(lambda: CONSENT_AT).run(dispatcher, tracker, load_domain())
    return slot_events(events), [m["text"] for m in djinn_messages(dispatcher)]


async def test_consent_given_is_recorded_with_its_time():
    slots, said = await validate("appeal_consent", "да", "affirm")
    assert slots == {"appeal_consent": True, "appeal_consent_at": CONSENT_AT.isoformat()}
    assert said == []


async def test_consent_refused_ends_the_form():
    slots, _ = await validate("appeal_consent", "нет", "deny")
    assert slots == {"appeal_consent": False, "requested_slot": None}


async def test_an_unclear_consent_answer_gets_a_hint():
    slots, said = await validate("appeal_consent", "ну не знаю", "nlu_fallback")
    assert slots == {"appeal_consent": None}
    assert said == [texts.CONSENT_HINT]


async def test_category_from_the_button_payload():
    slots, _ = await validate(
        "appeal_category",
        '/inform{"appeal_category":"roads"}',
        "inform",
        entities={"appeal_category": "roads"},
        slots=CONSENTED,
    )
    assert slots == {"appeal_category": "roads"}


async def test_category_from_the_citizens_words():
    slots, _ = await validate(
        "appeal_category", "это про мусор у контейнеров", "ask_question", slots=CONSENTED
    )
    assert slots == {"appeal_category": "waste"}


async def test_address_is_taken_as_written():
    slots, _ = await validate("appeal_address", "ул. Ленина, 12", "nlu_fallback", slots=CONSENTED)
    assert slots == {"appeal_address": "ул. Ленина, 12"}


async def test_a_question_during_the_form_interrupts_it():
    slots, said = await validate(
        "appeal_address", "как оплатить ЖКУ без комиссии?", "ask_question", slots=CONSENTED
    )
    assert slots == {}
    assert said == []


async def test_a_long_description_wins_over_its_intent():
    text = "хочу пожаловаться: во дворе яма уже месяц, машины не могут проехать"
    slots, _ = await validate("appeal_description", text, "file_appeal", slots=CONSENTED)
    assert slots == {"appeal_description": text}


@pytest.mark.parametrize("intent", ["cancel", "correct_field", "emergency", "request_operator"])
async def test_control_intents_always_interrupt(intent):
    slots, _ = await validate(
        "appeal_description", "стоп, хватит, отменяй всё", intent, slots=CONSENTED
    )
    assert slots == {}


async def test_photo_fills_the_photo_slot():
    attachments = [{"file_id": "AgAD-photo"}]
    slots, _ = await validate(
        "appeal_photo",
        "/send_media",
        "send_media",
        metadata={"kind": "photo", "attachments": attachments},
        slots=CONSENTED,
    )
    assert slots == {"appeal_photo": attachments}


@pytest.mark.parametrize(
    ("text", "intent"), [("нет", "deny"), ("/deny", "deny"), ("пропустить", "nlu_fallback")]
)
async def test_no_photo_skips_it(text, intent):
    slots, _ = await validate("appeal_photo", text, intent, slots=CONSENTED)
    assert slots == {"appeal_photo": []}


async def test_other_media_kinds_get_a_note():
    slots, said = await validate(
        "appeal_photo",
        "/send_media",
        "send_media",
        metadata={"kind": "voice", "attachments": [{"file_id": "voice"}]},
        slots=CONSENTED,
    )
    assert slots == {"appeal_photo": None}
    assert said == [texts.PHOTO_WRONG_KIND]


async def test_phone_is_normalised():
    slots, _ = await validate("appeal_phone", "8 (912) 345-67-89", "nlu_fallback", slots=CONSENTED)
    assert slots == {"appeal_phone": "+79123456789"}


async def test_a_bad_phone_gets_a_clear_message():
    slots, said = await validate("appeal_phone", "12-34", "nlu_fallback", slots=CONSENTED)
    assert slots == {"appeal_phone": None}
    assert said == [texts.PHONE_INVALID]


async def test_nothing_is_read_when_no_question_is_pending():
    slots, _ = await validate(None, "ул. Ленина, 12", "nlu_fallback")
    assert slots == {}


def test_button_payloads_are_never_free_text():
    said = Said(text="/affirm", intent="affirm", confidence=1.0)
    assert answers("appeal_address", said)
    assert read("appeal_address", said).hint == texts.ADDRESS_HINT


def test_category_words():
    def category(text: str) -> str | None:
        return category_of(Said(text=text, intent="inform", confidence=0.9))

    assert category("Дороги и транспорт") == "roads"
    assert category("ЖКХ и дом") == "housing"
    assert category("Благоустройство и дворы") == "improvement"
    assert category("другое") == "other"
    assert category("не знаю") is None


def test_the_consent_is_asked_first_with_what_is_collected_and_why():
    consent, category, *_ = ask_actions("Администрация города Энска")
    assert consent.name() == "action_ask_appeal_consent"
    text = texts.consent("Администрация города Энска")
    for part in ("152-ФЗ", "адрес", "телефон", "Зачем", "Администрация города Энска", "отозвать"):
        assert part in text
    assert category.name() == "action_ask_appeal_category"


async def test_category_question_offers_a_button_per_category():
    _, category, *_ = ask_actions("Администрация")
    dispatcher = CollectingDispatcher()
    await category.run(dispatcher, make_tracker(), {})
    [message] = djinn_messages(dispatcher)
    assert payloads_of(message)[0] == '/inform{"appeal_category":"housing"}'
    assert len(payloads_of(message)) == 5


async def test_typing_about_a_photo_is_not_a_photo():
    slots, said = await validate(
        "appeal_photo", "вот фото", "send_media", metadata={"kind": "text"}, slots=CONSENTED
    )
    assert slots == {"appeal_photo": None}
    assert said == [texts.PHOTO_HINT]
