"""Our YAML format, ``djinn-faq/1``: reading with line numbers, and writing.

A file is a mapping with ``format: djinn-faq/1`` and ``entries``, a list of
entries with the fields ``key``, ``category``, ``question``, ``phrasings``,
``answer`` and ``status`` (only ``question`` and ``answer`` are required).
Problems name the line, the entry (its number and key) and the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from knowledge_base.drafts import EntryDraft, EntryStatus
from knowledge_base.io.problems import Origin, ProblemLog
from knowledge_base.io.records import Record
from knowledge_base.io.table import PROGRESS_STEP, Progress
from knowledge_base.io.yaml_entries import describe_node, read_entry, yaml_error_message

FORMAT = "djinn-faq/1"
_FAST_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class _Entries:
    file: str
    nodes: list[yaml.Node]


def read_yaml_files(
    paths: Sequence[Path], *, log: ProblemLog, progress: Progress | None
) -> list[Record]:
    """Reads the entries of several YAML files as one import; problems go to ``log``."""
    loaded = [found for path in paths if (found := _load(path, log)) is not None]
    total = sum(len(part.nodes) for part in loaded)
    records = []
    done = 0
    for part in loaded:
        for index, node in enumerate(part.nodes, start=1):
            record = read_entry(part.file, index, node, log)
            if record is not None:
                records.append(record)
            done += 1
            if progress is not None and (done % PROGRESS_STEP == 0 or done == total):
                progress(done, total)
    return records


def write_yaml(path: Path, entries: Sequence[EntryDraft]) -> None:
    """Writes entries in our format; answers with line breaks as ``|-`` blocks."""
    document = {"format": FORMAT, "entries": [_entry_data(entry) for entry in entries]}
    text = yaml.dump(
        document, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1_000_000
    )
    path.write_text(text, encoding="utf-8")


def _load(path: Path, log: ProblemLog) -> _Entries | None:
    file = path.name
    data = path.read_bytes()
    if b"\x00" in data:
        log.add(Origin(file), "это не текстовый файл YAML, а двоичный файл")
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        log.add(Origin(file), "файл не в кодировке UTF-8: пересохраните его в UTF-8")
        return None
    try:
        root = _compose(text, _FAST_LOADER)
    except yaml.YAMLError:
        # libyaml words its errors differently; the pure-Python parser's words are the
        # ones the Russian explanations are keyed on.
        try:
            root = _compose(text, yaml.SafeLoader)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            row = mark.line + 1 if mark is not None else None
            log.add(Origin(file, row), yaml_error_message(error))
            return None
    return _entries(file, root, log)


def _compose(text: str, loader_class: type) -> yaml.Node | None:
    loader = loader_class(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def _entries(file: str, root: yaml.Node | None, log: ProblemLog) -> _Entries | None:
    if root is None:
        log.add(Origin(file), f"файл пуст: нужны строки «format: {FORMAT}» и «entries:»")
        return None
    if not isinstance(root, yaml.MappingNode):
        hint = " — добавьте в начало «format: …» и «entries:»" if _is_list(root) else ""
        log.add(
            Origin(file, root.start_mark.line + 1),
            f"ожидался словарь с полями format и entries, а в файле {describe_node(root)}{hint}",
        )
        return None
    fields: dict[str, yaml.Node] = {}
    for key_node, value_node in root.value:
        name = str(key_node.value)
        where = Origin(file, key_node.start_mark.line + 1, name)
        if name not in ("format", "entries"):
            log.add(where, "неизвестное поле: на верхнем уровне бывают только format и entries")
        elif name in fields:
            log.add(where, "поле повторяется")
        fields[name] = value_node
    if not _format_ok(file, fields.get("format"), log):
        return None
    entries = fields.get("entries")
    if entries is None or _is_null(entries):
        log.add(Origin(file), "нет поля entries со списком записей")
        return None
    if not _is_list(entries):
        log.add(
            Origin(file, entries.start_mark.line + 1, "entries"),
            f"entries должен быть списком записей, а здесь {describe_node(entries)}",
        )
        return None
    return _Entries(file, list(entries.value))


def _format_ok(file: str, node: yaml.Node | None, log: ProblemLog) -> bool:
    if node is None:
        log.add(Origin(file), f"нет строки «format: {FORMAT}» — без неё файл не опознать")
        return False
    if node.value != FORMAT:
        log.add(
            Origin(file, node.start_mark.line + 1, "format"),
            f"формат «{node.value}» не поддерживается: ожидается {FORMAT}",
        )
        return False
    return True


def _is_list(node: yaml.Node) -> bool:
    return isinstance(node, yaml.SequenceNode)


def _is_null(node: yaml.Node) -> bool:
    return node.tag == "tag:yaml.org,2002:null"


def _entry_data(entry: EntryDraft) -> dict[str, object]:
    data: dict[str, object] = {}
    if entry.key:
        data["key"] = entry.key
    if entry.category:
        data["category"] = entry.category
    data["question"] = entry.question
    if entry.phrasings:
        data["phrasings"] = list(entry.phrasings)
    data["answer"] = entry.answer
    if entry.status is not EntryStatus.PUBLISHED:
        data["status"] = entry.status.value
    return data


class _Dumper(yaml.SafeDumper):
    """Indents lists under their key and writes multi-line texts as blocks."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_text)
