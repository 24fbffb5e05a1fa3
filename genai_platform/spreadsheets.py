"""Cells a spreadsheet would run as a formula, made inert: the one rule for every CSV and XLSX the platform writes.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by Excel,
LibreOffice and Google Sheets as a formula (OWASP, "CSV Injection"). Such a cell is written with a
leading single quote, which the spreadsheet shows as text. A cell that already starts with a single
quote gets one more, so that the rule can be undone exactly: ``cell_unquote(cell_safe(v)) == v`` for
every text ``v``. Imports (keyword library, test banks) and the audit export verifiers undo it.

Only text is quoted: numbers, dates and empty cells are written as they are. JSON Lines files are no
spreadsheet and are written raw.

XLSX: a text cell is always written with the string type. openpyxl otherwise stores a text starting
with ``=`` as a formula and one such as ``#N/A`` as an error value.

``audit/standalone/verify_export.py`` keeps its own copy of ``cell_unquote`` (it runs without the
platform); a test checks that both agree.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from typing import IO, Any

QUOTE = "'"
# The first characters that make a spreadsheet evaluate a cell (OWASP's list).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# What gets a leading quote: the triggers, and the quote itself so that unquoting is exact.
QUOTED_FIRST = frozenset((*FORMULA_TRIGGERS, QUOTE))
# Texts openpyxl would store as an error value rather than a string (openpyxl.cell.cell.ERROR_CODES).
_ERROR_CODES = frozenset(("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"))


def cell_safe(value: Any) -> Any:
    """``value`` as a spreadsheet should receive it: text that would run as a formula gets a leading quote."""
    if isinstance(value, str) and value[:1] in QUOTED_FIRST:
        return QUOTE + value
    return value


def cell_unquote(value: str) -> str:
    """Undo ``cell_safe`` on a text read back from a CSV or XLSX file.

    Only a quote followed by a character that ``cell_safe`` quotes is removed, so a quote a person
    typed before ordinary text (``'abc``) is kept.
    """
    if len(value) >= 2 and value[0] == QUOTE and value[1] in QUOTED_FIRST:
        return value[1:]
    return value


def row_safe(row: Iterable[Any]) -> list[Any]:
    return [cell_safe(value) for value in row]


class SafeCsvWriter:
    """``csv.writer`` whose every text cell goes through ``cell_safe``."""

    def __init__(self, stream: IO[str], **options: Any) -> None:
        self._writer = csv.writer(stream, **options)
        # csv.writer quotes a field holding a character of the line terminator, and no other line break:
        # with "\n" as terminator a lone carriage return would go out bare, and every reader (Python's
        # included) takes it as the end of a row. Such a row is written with every field quoted.
        self._quote_all = None
        if "\r" not in self._writer.dialect.lineterminator:
            self._quote_all = csv.writer(stream, **{**options, "quoting": csv.QUOTE_ALL})

    def writerow(self, row: Iterable[Any]) -> Any:
        # cell_safe written out: big audit exports go through here, and a call per cell costs.
        values = [QUOTE + v if isinstance(v, str) and v[:1] in QUOTED_FIRST else v for v in row]
        if self._quote_all is not None and "\r" in "\0".join([v for v in values if isinstance(v, str)]):
            return self._quote_all.writerow(values)
        return self._writer.writerow(values)

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(stream: IO[str], **options: Any) -> SafeCsvWriter:
    """A CSV writer for files people open in a spreadsheet; ``options`` are those of ``csv.writer``."""
    return SafeCsvWriter(stream, **options)


def xlsx_cell(sheet: Any, value: Any) -> Any:
    """What to append to a write-only openpyxl sheet for ``value``: text quoted by ``cell_safe``, as a string cell."""
    if not isinstance(value, str):
        return value
    return xlsx_string(sheet, cell_safe(value))


def xlsx_string(sheet: Any, text: str) -> Any:
    """``text`` (already made safe) as openpyxl will store it as a string, never as a formula or an error value."""
    if text[:1] not in QUOTED_FIRST and text not in _ERROR_CODES:
        # Nothing a spreadsheet runs: openpyxl types it as a string itself, and no cell object is
        # made per value, which keeps big exports fast.
        return text
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet)
    # Set after the value: openpyxl infers "f" (formula) or "e" (error) from some texts.
    cell.value = text
    cell.data_type = "s"
    return cell


def xlsx_row(sheet: Any, row: Sequence[Any] | Iterable[Any]) -> list[Any]:
    return [xlsx_cell(sheet, value) for value in row]


def xlsx_append(sheet: Any, row: Iterable[Any]) -> None:
    """Append one row to a write-only openpyxl sheet, every text cell formula-safe."""
    sheet.append(xlsx_row(sheet, row))
