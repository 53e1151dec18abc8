"""Problems found in an import file and the error that carries them to the editor."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

MAX_LISTED_PROBLEMS = 50


def plural(count: int, one: str, few: str, many: str) -> str:
    """Picks the Russian plural form for ``count`` (1 проблема, 2 проблемы, 5 проблем)."""
    tens, units = count % 100, count % 10
    if units == 1 and tens != 11:
        return one
    if 2 <= units <= 4 and not 12 <= tens <= 14:
        return few
    return many


@dataclass(frozen=True, slots=True)
class Origin:
    """A place in an import file, as the editor would look for it.

    Attributes:
        file: The file name.
        row: The row number as Excel shows it (the header is row 1), or the line
            number in a YAML file.
        column: The column header (tables) or the field name (YAML).
        letter: The spreadsheet column letter (``"B"``), tables only.
        entry: The YAML entry, e.g. ``"запись №3 «zhkh-pay»"``.
    """

    file: str
    row: int | None = None
    column: str | None = None
    letter: str | None = None
    entry: str | None = None

    def describe(self, *, relative_to: str | None = None) -> str:
        """Renders the place in Russian: ``"faq.csv, строка 12, столбец B «Ответ»"``.

        Args:
            relative_to: The file the reader is already looking at; it is then left out.
        """
        parts = [] if self.file == relative_to else [self.file]
        if self.row is not None:
            parts.append(f"строка {self.row}")
        if self.entry:
            parts.append(self.entry)
        if self.column is not None:
            if self.letter:
                parts.append(f"столбец {self.letter} «{self.column}»")
            else:
                parts.append(f"поле «{self.column}»")
        return ", ".join(parts)

    def row_only(self) -> Origin:
        """The same place without the column: the whole row or entry."""
        return Origin(self.file, self.row, entry=self.entry)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an import file.

    Attributes:
        origin: Where it is.
        message: What is wrong and how to fix it, in Russian.
    """

    origin: Origin
    message: str

    def __str__(self) -> str:
        return f"{self.origin.describe()}: {self.message}"


class ImportFileError(ValueError):
    """The file cannot be imported; nothing from it was taken.

    Attributes:
        problems: The problems found, in file order, at most ``MAX_LISTED_PROBLEMS``.
        omitted: How many more problems there were beyond those listed.
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        found = list(problems)
        self.problems: list[Problem] = found[:MAX_LISTED_PROBLEMS]
        self.omitted: int = len(found) - len(self.problems)
        super().__init__(self._render(len(found)))

    def _render(self, total: int) -> str:
        found = plural(total, "Найдена", "Найдены", "Найдено")
        word = plural(total, "проблема", "проблемы", "проблем")
        lines = [f"{found} {total} {word}; исправьте их и загрузите файл снова."]
        lines += [f"— {problem}" for problem in self.problems]
        if self.omitted:
            more = plural(self.omitted, "проблема", "проблемы", "проблем")
            lines.append(f"…и ещё {self.omitted} {more}.")
        return "\n".join(lines)


@dataclass(slots=True)
class ProblemLog:
    """Collects problems while a file is read, so that all of them are reported at once."""

    problems: list[Problem] = field(default_factory=list)

    def add(self, origin: Origin, message: str) -> None:
        self.problems.append(Problem(origin, message))

    def __bool__(self) -> bool:
        return bool(self.problems)

    def raise_if_any(self) -> None:
        """Raises `ImportFileError` with the problems in file order, if there are any."""
        if not self.problems:
            return
        file_order: dict[str, int] = {}
        for problem in self.problems:
            file_order.setdefault(problem.origin.file, len(file_order))
        ordered = sorted(
            self.problems,
            key=lambda p: (file_order[p.origin.file], p.origin.row or 0),
        )
        raise ImportFileError(ordered)
