"""The answer margin calibrated on the knowledge base itself: probes made of its entries,
searched with the real embedder; a running bot calibrates each new version once, keeps
the margin in the snapshot and decides with it."""

from bench.real_sets import REAL_DIR
from bots.app import open_services
from knowledge_base.calibration import PROBE_TARGET, calibrate, probes
from knowledge_base.decision import load_thresholds
from knowledge_base.index import FaissFaqIndex, IndexedEntry
from knowledge_base.io import read_entries
from tests.conftest import make_settings

RZD = REAL_DIR / "rzd-hr-faq" / "kb.csv"

APART = [
    IndexedEntry(1, "Как оплатить коммунальные услуги?", "Через портал ЖКХ или в банке."),
    IndexedEntry(2, "Где получить загранпаспорт?", "В МФЦ или в отделе по вопросам миграции."),
    IndexedEntry(3, "Как записаться к врачу?", "Через портал госуслуг или по телефону 122."),
    IndexedEntry(4, "Когда вывозят мусор?", "Контейнерные площадки убирают каждый день."),
    IndexedEntry(5, "Как получить разрешение на строительство?", "Подайте заявление в МФЦ."),
    IndexedEntry(6, "Куда жаловаться на яму на дороге?", "В дорожную службу района."),
]


def test_probes_come_from_the_entries_and_are_the_same_each_time():
    made = probes(APART)

    assert made == probes(APART)
    assert {entry_id for _, entry_id in made} == {e.id for e in APART}
    assert len(made) == 3 * len(APART)  # two shortened questions and the answer's start
    for text, entry_id in made:
        entry = APART[entry_id - 1]
        words = set(f"{entry.question} {entry.answer}".replace("?", " ").split())
        assert set(text.split()) <= words


def test_a_crowded_knowledge_base_needs_a_larger_lead_than_the_recorded_one(embedder):
    recorded = load_thresholds(embedder.name)
    drafts = read_entries(RZD)
    entries = [IndexedEntry(i + 1, d.question, d.answer, d.category, None, d.phrasings)
               for i, d in enumerate(drafts)]  # fmt: skip
    index = FaissFaqIndex.build(entries, embedder, version=1)
    index.fusion = recorded.fusion

    calibration = calibrate(index, embedder, recorded)

    assert calibration.margin > recorded.margin
    assert calibration.probes == len(probes(entries))
    assert calibration.precision is not None and calibration.precision >= PROBE_TARGET
    assert 0.3 < calibration.answered < 1.0


async def test_the_bot_calibrates_a_new_version_once_and_decides_with_it(tmp_path, embedder):
    settings = make_settings(tmp_path, calibrate_margin=True, demo_faq=False)
    async with open_services(settings, embedder=embedder, with_redis=False) as bot:
        await bot.faq_repository.apply_import(read_entries(RZD), source="rzd")
        await bot.faq.refresh()
        recorded = bot.faq.thresholds
        calibrated = bot.faq.thresholds_for()
        assert calibrated.margin > recorded.margin
        assert (calibrated.answer, calibrated.clarify) == (recorded.answer, recorded.clarify)

    # Another process loads the snapshot with its margin instead of calibrating again.
    async with open_services(settings, embedder=embedder, with_redis=False) as other:
        await other.faq.refresh()
        assert other.faq.thresholds_for().margin == calibrated.margin

    # Turned off: the recorded margin, whatever the snapshot holds.
    plain = make_settings(tmp_path, calibrate_margin=False, demo_faq=False)
    async with open_services(plain, embedder=embedder, with_redis=False) as off:
        await off.faq.refresh()
        assert off.faq.thresholds_for().margin == recorded.margin


async def test_a_snapshot_built_without_calibration_is_calibrated_when_loaded(tmp_path, embedder):
    plain = make_settings(tmp_path, calibrate_margin=False, demo_faq=False)
    async with open_services(plain, embedder=embedder, with_redis=False) as before:
        await before.faq_repository.apply_import(read_entries(RZD), source="rzd")
        await before.faq.refresh()
        recorded = before.faq.thresholds_for().margin

    settings = make_settings(tmp_path, calibrate_margin=True, demo_faq=False)
    async with open_services(settings, embedder=embedder, with_redis=False) as bot:
        await bot.faq.refresh()
        assert bot.faq.thresholds_for().margin > recorded
