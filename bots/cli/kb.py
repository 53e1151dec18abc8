"""``djinn kb``: import, export and search the knowledge base."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import click

from bots.app import build_faq, open_database
from bots.cli.progress import ProgressLine
from core.settings import Settings
from knowledge_base.duplicates import NearDuplicate
from knowledge_base.embedder import create_embedder
from knowledge_base.index import IndexedEntry
from knowledge_base.io import ImportFileError, read_entries, write_entries
from knowledge_base.notify import publish_version
from knowledge_base.repository import FaqRepository
from knowledge_base.search import FaqSearchService, SearchResult

DEMO_FAQ = Path(__file__).resolve().parents[2] / "knowledge_base" / "demo" / "faq"


@click.group()
def kb() -> None:
    """База знаний: импорт, экспорт, поиск."""


@contextlib.asynccontextmanager
async def open_kb(settings: Settings) -> AsyncIterator[tuple[FaqRepository, FaqSearchService]]:
    async with open_database(settings) as (_, sessions):
        embedder = create_embedder(
            settings.embedder, settings.embedder_model, settings.embedder_threads
        )
        yield build_faq(settings, sessions, embedder)


async def notify_bots(settings: Settings, version: int) -> bool:
    """Tell running bots about a new version, if a Redis is reachable; never starts one."""
    from redis.asyncio import Redis

    socket = settings.data_dir / "redis" / "redis.sock"
    if settings.redis_url:
        client = Redis.from_url(settings.redis_url, socket_connect_timeout=2)
    elif socket.exists():
        client = Redis(unix_socket_path=str(socket), socket_connect_timeout=2)
    else:
        return False
    try:
        await publish_version(client, version)
        return True
    except (OSError, ConnectionError, Exception):
        return False
    finally:
        await client.aclose()


@kb.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--question-col", help="Столбец с вопросом (имя, буква или номер).")
@click.option("--answer-col", help="Столбец с ответом.")
@click.option("--category-col", help="Столбец с категорией.")
@click.option("--sheet", help="Лист книги XLSX (по умолчанию первый).")
@click.option(
    "--replace",
    is_flag=True,
    help="Заменить базу содержимым файла: записи, которых нет в файле, уходят в архив.",
)
@click.pass_obj
def import_(
    settings: Settings,
    path: Path,
    question_col: str | None,
    answer_col: str | None,
    category_col: str | None,
    sheet: str | None,
    replace: bool,
) -> None:
    """Импортировать вопросы и ответы из YAML, CSV или XLSX (или папки с YAML)."""
    try:
        drafts = read_entries(
            path,
            question_col=question_col,
            answer_col=answer_col,
            category_col=category_col,
            sheet=sheet,
            progress=ProgressLine(f"Чтение {path.name}"),
        )
    except ImportFileError as error:
        click.echo(f"Файл не импортирован, база знаний не изменилась:\n{error}", err=True)
        sys.exit(2)
    asyncio.run(_import(settings, drafts, path, replace))


async def _import(settings: Settings, drafts: list[Any], path: Path, replace: bool) -> None:
    async with open_kb(settings) as (repository, search):
        report = await repository.apply_import(drafts, replace=replace, source=f"import {path}")
        click.echo(
            f"Импорт {path.name}: добавлено {report.created}, изменено {report.updated}, "
            f"без изменений {report.unchanged}, в архив {report.archived}. "
            f"Версия базы знаний: {report.version}."
        )
        await search.refresh(progress=ProgressLine("Индекс"))
        click.echo(f"Индекс готов: {await repository.count()} опубликованных записей.")
        _show_duplicates(await search.near_duplicates())
    if report.changed and await notify_bots(settings, report.version):
        click.echo("Работающие боты получили уведомление и перечитают базу знаний.")


def _show_duplicates(pairs: list[NearDuplicate]) -> None:
    if not pairs:
        return
    click.echo(
        f"Похоже, записи отвечают на один и тот же вопрос ({len(pairs)}): такие пары делят "
        "между собой уверенность поиска, и бот чаще переспрашивает. Объедините их "
        "(формулировки одной — в другую) или разведите вопросы и ответы:"
    )
    for pair in pairs:
        click.echo(
            f"  «{_label(pair.first)}» и «{_label(pair.second)}» "
            f"(вопросы {pair.questions:.2f}, ответы {pair.answers:.2f})"
        )


def _label(entry: IndexedEntry) -> str:
    question = entry.question if len(entry.question) <= 80 else entry.question[:79] + "…"
    return f"{question}" + (f" [{entry.key}]" if entry.key else "")


@kb.command("duplicates")
@click.pass_obj
def duplicates(settings: Settings) -> None:
    """Показать записи, которые, похоже, отвечают на один и тот же вопрос."""

    async def go() -> None:
        async with open_kb(settings) as (_, search):
            await search.refresh(progress=ProgressLine("Индекс"))
            pairs = await search.near_duplicates()
        if not pairs:
            click.echo("Похожих записей нет.")
        _show_duplicates(pairs)

    asyncio.run(go())


@kb.command("export")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--with-archived", is_flag=True, help="Включить записи из архива.")
@click.pass_obj
def export(settings: Settings, path: Path, with_archived: bool) -> None:
    """Выгрузить базу знаний в YAML, CSV или XLSX (по расширению PATH)."""

    async def go() -> int:
        async with open_database(settings) as (_, sessions):
            entries = await FaqRepository(sessions).export(include_archived=with_archived)
        write_entries(path, entries)
        return len(entries)

    count = asyncio.run(go())
    click.echo(f"Выгружено записей: {count} → {path}")


@kb.command("rebuild")
@click.pass_obj
def rebuild(settings: Settings) -> None:
    """Построить индекс текущей версии базы знаний (обычно это делает импорт)."""

    async def go() -> None:
        async with open_kb(settings) as (_, search):
            await search.refresh(progress=ProgressLine("Индекс"))
            click.echo(f"Индекс версии {search.version} готов.")

    asyncio.run(go())


@kb.command("learn")
@click.option("--dry-run", is_flag=True, help="Показать, чему бот научится, ничего не меняя.")
@click.pass_obj
def learn(settings: Settings, dry_run: bool) -> None:
    """Учесть отзывы граждан и ответы операторов (работающий бот делает это сам
    раз в DJINN_LEARN_INTERVAL секунд)."""

    async def go() -> None:
        async with open_kb(settings) as (_, search):
            await search.refresh(progress=ProgressLine("Индекс"))
            outcome = await search.learning_job().run(dry_run=dry_run)
            labels = {
                e.id: _label(e) for e in (search.entry(x.entry_id) for x in outcome.added) if e
            }
            if outcome.version is not None:
                await search.refresh(progress=ProgressLine("Индекс"))
                notified = await notify_bots(settings, outcome.version)
        for lesson in outcome.added:
            click.echo(
                f"+ «{lesson.text}» → {labels.get(lesson.entry_id, lesson.entry_id)} "
                f"(граждан: {lesson.citizens}, против: {lesson.opposed})"
            )
        if outcome.withdrawn:
            click.echo(f"Снято выученных формулировок: {outcome.withdrawn}")
        if outcome.use_margin is None:
            click.echo(
                "Порог уверенности по отзывам: пока мало отзывов, действует калибровка по базе."
            )
        else:
            click.echo(f"Порог уверенности по отзывам граждан: отрыв {outcome.use_margin:.4f}.")
        if not outcome.changed:
            click.echo("Нового нет, база знаний не изменилась.")
        elif dry_run:
            click.echo("Пробный запуск: ничего не изменено.")
        else:
            tail = "" if notified else " Работающие боты увидят её при следующей проверке."
            click.echo(f"База знаний v{outcome.version}.{tail}")

    asyncio.run(go())


@kb.command("search")
@click.argument("query", required=False)
@click.option("--top", "top_k", default=5, show_default=True, help="Сколько записей показать.")
@click.option("--json", "as_json", is_flag=True, help="Вывод в JSON.")
@click.pass_obj
def search(settings: Settings, query: str | None, top_k: int, as_json: bool) -> None:
    """Найти ответ на QUERY; без QUERY читает по запросу в строке из stdin (JSON Lines)."""
    asyncio.run(_search(settings, query, top_k, as_json))


async def _search(settings: Settings, query: str | None, top_k: int, as_json: bool) -> None:
    async with open_kb(settings) as (_, faq):
        await faq.refresh(progress=ProgressLine("Индекс"))
        if query is not None:
            result = await faq.search(query, top_k)
            click.echo(
                json.dumps(_record(result), ensure_ascii=False) if as_json else _human(result)
            )
            return
        for line in sys.stdin:
            text = line.rstrip("\n")
            if not text.strip():
                continue
            result = await faq.search(text, top_k)
            click.echo(json.dumps(_record(result), ensure_ascii=False))


def _record(result: SearchResult) -> dict[str, Any]:
    return {
        "query": result.query,
        "decision": str(result.decision),
        "hits": [
            {
                "id": h.entry.id,
                "question": h.entry.question,
                "answer": h.entry.answer,
                "score": round(h.score, 4),
            }
            for h in result.hits
        ],
    }


_DECISIONS = {"answer": "ответить", "clarify": "уточнить", "handoff": "передать оператору"}


def _human(result: SearchResult) -> str:
    lines = [f"Решение: {_DECISIONS[str(result.decision)]}"]
    for rank, hit in enumerate(result.hits, 1):
        lines.append(f"{rank}. [{hit.score:.3f}] #{hit.entry.id} {hit.entry.question}")
    if not result.hits:
        lines.append("Ничего не найдено.")
    return "\n".join(lines)
