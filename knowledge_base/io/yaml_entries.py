"""One entry of a YAML file, read from its node so that problems carry line numbers."""

from __future__ import annotations

import yaml

from knowledge_base.io.problems import Origin, ProblemLog
from knowledge_base.io.records import (
    ANSWER,
    CATEGORY,
    KEY,
    PHRASINGS,
    QUESTION,
    STATUS,
    Record,
)
from knowledge_base.io.text import clean_line, clean_text

FIELDS = (KEY, CATEGORY, QUESTION, PHRASINGS, ANSWER, STATUS)
_TAG = "tag:yaml.org,2002:"
_KINDS = {
    "int": "число",
    "float": "число",
    "bool": "логическое значение (yes/no/true/false)",
    "null": "пустое значение",
    "timestamp": "дата",
}
_SYNTAX_HINTS = (
    (
        "mapping values are not allowed",
        "двоеточие с пробелом внутри текста — возьмите "
        "текст в кавычки или запишите его блоком после «|-»",
    ),
    ("could not find expected ':'", "нет двоеточия после имени поля или сбит отступ"),
    (
        "cannot start any token",
        "в начале значения недопустимый символ (табуляция, @ или `) — "
        "делайте отступы пробелами, текст берите в кавычки",
    ),
    ("end of stream", "не закрыта кавычка"),
    (
        "expected <block end>",
        "сбиты отступы: поля одной записи должны начинаться ровно друг под другом",
    ),
    ("single document", "в файле несколько документов (разделитель ---), нужен один"),
)


def describe_node(node: yaml.Node) -> str:
    """Says in Russian what kind of value a node holds: «список», «число», …"""
    if isinstance(node, yaml.SequenceNode):
        return "список"
    if isinstance(node, yaml.MappingNode):
        return "словарь"
    kind = _KINDS.get(node.tag.removeprefix(_TAG))
    return f"{kind} «{node.value}»" if kind else f"текст «{node.value}»"


def yaml_error_message(error: yaml.YAMLError) -> str:
    """Explains a YAML syntax error in Russian."""
    text = f"{getattr(error, 'context', '')} {getattr(error, 'problem', '')}"
    hint = next((h for pattern, h in _SYNTAX_HINTS if pattern in text), None)
    mark = getattr(error, "problem_mark", None)
    where = f" (позиция {mark.column + 1})" if mark is not None else ""
    return f"ошибка разметки YAML{where}: " + (
        hint or "проверьте отступы, двоеточия после имён полей и парность кавычек"
    )


def read_entry(file: str, index: int, node: yaml.Node, log: ProblemLog) -> Record | None:
    """Reads one entry; returns ``None`` if it has problems of structure or type."""
    label = _label(index, node)
    origin = Origin(file, node.start_mark.line + 1, entry=label)
    if not isinstance(node, yaml.MappingNode):
        log.add(
            origin,
            f"запись должна состоять из полей question, answer, …, а здесь {describe_node(node)}",
        )
        return None
    values: dict[str, object] = {}
    places: dict[str, Origin] = {}
    valid = True
    for key_node, value_node in node.value:
        name = str(key_node.value)
        place = Origin(file, key_node.start_mark.line + 1, name, entry=label)
        problem = _field_problem(name, places)
        if problem is None:
            places[name] = place
            values[name], problem = (
                _phrasings(value_node) if name == PHRASINGS else _text(value_node)
            )
        if problem is not None:
            log.add(place, problem)
            valid = False
    if not valid:
        return None
    return _record(origin, values, places)


def _label(index: int, node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == KEY and isinstance(value_node, yaml.ScalarNode):
                return f"запись №{index} «{value_node.value}»"
    return f"запись №{index}"


def _field_problem(name: str, seen: dict[str, Origin]) -> str | None:
    if name not in FIELDS:
        return f"неизвестное поле; в записи бывают поля {', '.join(FIELDS)}"
    if name in seen:
        return f"поле повторяется (уже было в строке {seen[name].row})"
    return None


def _text(node: yaml.Node) -> tuple[str | None, str | None]:
    if isinstance(node, yaml.ScalarNode) and node.tag == _TAG + "str":
        return node.value, None
    if isinstance(node, yaml.ScalarNode) and node.tag == _TAG + "null":
        return None, None
    hint = " — возьмите значение в кавычки" if isinstance(node, yaml.ScalarNode) else ""
    if isinstance(node, yaml.MappingNode):
        hint = " — если в тексте есть «: », возьмите текст в кавычки или запишите после «|-»"
    return None, f"ожидался текст, а здесь {describe_node(node)}{hint}"


def _phrasings(node: yaml.Node) -> tuple[tuple[str, ...], str | None]:
    if isinstance(node, yaml.ScalarNode) and node.tag == _TAG + "null":
        return (), None
    if not isinstance(node, yaml.SequenceNode):
        return (), (
            f"phrasings должен быть списком (каждая формулировка — с новой строки после «- »), "
            f"а здесь {describe_node(node)}"
        )
    texts = []
    for number, item in enumerate(node.value, start=1):
        text, problem = _text(item)
        if problem is not None:
            return (), f"формулировка №{number}: {problem}"
        texts.append(text or "")
    return tuple(texts), None


def _record(origin: Origin, values: dict[str, object], places: dict[str, Origin]) -> Record:
    def line(name: str) -> str | None:
        value = values.get(name)
        return clean_line(value) or None if isinstance(value, str) else None

    phrasings = values.get(PHRASINGS, ())
    assert isinstance(phrasings, tuple)
    answer = values.get(ANSWER)
    return Record(
        origin=origin,
        question=line(QUESTION) or "",
        answer=clean_text(answer) if isinstance(answer, str) else "",
        category=line(CATEGORY),
        phrasings=tuple(p for p in map(clean_line, phrasings) if p),
        key=line(KEY),
        status=line(STATUS),
        places=places,
    )
