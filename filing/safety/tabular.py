"""Tables imported and exported as CSV or XLSX: the keyword library and the test banks share this reader,
this importer and these writers.

Reading is bounded (``IMPORT_MAX_ROWS``, ``IMPORT_MAX_UNPACKED_BYTES``) and refuses a cell that cannot be
stored. ``table_import`` is the one importer: it reads, checks every row, and writes only when no row is bad.
Its check, ``table_parse``, finds the columns by the header row (English names allowed), hands each non-empty
row to the caller's row parser, and keeps each bad row's errors, named by the row number a spreadsheet shows
(the header is row 1). Exports are formula-safe (``genai_platform.spreadsheets``): a text a spreadsheet would
run as a formula is written with a leading single quote, and reading takes that quote off again, so an exported
file imports back the same.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import IO, Any, Generic, TypeVar

from django.conf import settings
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from filing.safety.models import Risk, RiskCategory, match_key
from genai_platform.hygiene import text_problem
from genai_platform.spreadsheets import cell_unquote, csv_writer, xlsx_append

__all__ = [
    "COLUMN_CATEGORY",
    "COLUMN_RISK",
    "ImportFileError",
    "RiskIndex",
    "RowError",
    "TableColumns",
    "TableReport",
    "TableRow",
    "csv_write",
    "table_import",
    "table_parse",
    "table_read",
    "xlsx_write_sheets",
]

# The columns of the Appendix A risk every imported row names, and their English names.
COLUMN_CATEGORY = "一级分类"
COLUMN_RISK = "二级分类"
RISK_ALIASES = {"category": COLUMN_CATEGORY, "risk": COLUMN_RISK}

Entry = TypeVar("Entry")


class ImportFileError(Exception):
    """The file as a whole cannot be read (wrong type, no header, not UTF-8/GB18030)."""


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return _("Row %(row)d, %(column)s: %(message)s") % {
            "row": self.row,
            "column": self.column,
            "message": self.message,
        }


@dataclass
class TableReport(Generic[Entry]):
    """The bad rows of an import and, when there are none, the entries to write."""

    errors: list[RowError] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


#
# Reading
#


def table_read(stream: IO[bytes], filename: str) -> list[list[str]]:
    """The rows of a CSV or XLSX file as lists of stripped strings.

    A file over the limits (``IMPORT_MAX_ROWS``, ``IMPORT_MAX_UNPACKED_BYTES``) is refused before it is read
    in full, and a cell with a character that cannot be stored (``genai_platform.hygiene``) refuses the
    whole file, naming the row.
    """
    name = filename.lower()
    if name.endswith(".xlsx"):
        rows = _xlsx_read(stream)
    elif name.endswith(".csv"):
        rows = _csv_read(stream)
    else:
        raise ImportFileError(_("Only .csv and .xlsx files can be imported, not “%(name)s”.") % {"name": filename})
    _cells_check(rows)
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    # A file this platform exported quotes text that a spreadsheet would run as a formula: undone here.
    return cell_unquote(str(value).strip())


def _too_many_rows() -> ImportFileError:
    return ImportFileError(
        _("The file has more than %(n)d rows, the most one import takes; split it into several files.")
        % {"n": settings.IMPORT_MAX_ROWS}
    )


def _too_large(size: int) -> ImportFileError:
    return ImportFileError(
        _("The file unpacks to %(size)s, more than the %(limit)s one import takes; split it into several files.")
        % {"size": filesizeformat(size), "limit": filesizeformat(settings.IMPORT_MAX_UNPACKED_BYTES)}
    )


# A row's start tag, with any namespace prefix: "<" cannot occur in XML text unescaped, so each match is a row.
_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]")
# The sheet's declared extent, e.g. ref="A1:C1200000" (the last row is the second number, or the only one).
_DIMENSION = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?dimension\s+ref="[A-Za-z]*(\d+)(?::[A-Za-z]*(\d+))?"')
_SCAN_CHUNK_BYTES = 1 << 16


def _xlsx_rows_check(archive: zipfile.ZipFile) -> None:
    """Refuse a workbook any of whose sheets has more rows than the limit, reading no further than that.

    Every sheet counts: openpyxl scans a whole sheet that declares no dimension while it opens the
    workbook. A declared dimension over the limit refuses at once; otherwise the row tags are counted as
    the sheet unzips, in constant memory, up to the limit.
    """
    limit = settings.IMPORT_MAX_ROWS
    for member in archive.infolist():
        name = member.filename
        if not (name.startswith("xl/worksheets/") and name.endswith(".xml")):
            continue
        rows = 0
        tail = b""
        with archive.open(member) as source:
            while chunk := source.read(_SCAN_CHUNK_BYTES):
                buffer = tail + chunk
                cut = buffer.rfind(b"<")  # a tag starting here may go on in the next chunk
                if cut == -1:
                    tail = b""
                    continue
                scanned, tail = buffer[:cut], buffer[cut:]
                if rows == 0 and (declared := _DIMENSION.search(scanned)):
                    if int(declared.group(2) or declared.group(1)) > limit:
                        raise _too_many_rows()
                rows += len(_ROW_TAG.findall(scanned))
                if rows > limit:
                    raise _too_many_rows()
            rows += len(_ROW_TAG.findall(tail))
        if rows > limit:
            raise _too_many_rows()


def _xlsx_read(stream: IO[bytes]) -> list[list[str]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    # The members' sizes as the zip declares them bound what reading them can unpack (zipfile stops
    # there), so the sum is checked before anything is decompressed; then the rows are counted.
    try:
        with zipfile.ZipFile(stream) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
            if unpacked > settings.IMPORT_MAX_UNPACKED_BYTES:
                raise _too_large(unpacked)
            _xlsx_rows_check(archive)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ImportFileError(_("The file is not a readable XLSX workbook.")) from exc
    stream.seek(0)
    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ImportFileError(_("The file is not a readable XLSX workbook.")) from exc
    try:
        sheet = workbook.worksheets[0]
        # A wrong <dimension> would cut the rows short: read them as they are, and count them again.
        sheet.reset_dimensions()
        rows: list[list[str]] = []
        for values in sheet.iter_rows(values_only=True):
            if len(rows) >= settings.IMPORT_MAX_ROWS:
                raise _too_many_rows()
            rows.append([_cell(v) for v in values])
        return rows
    finally:
        workbook.close()


def _csv_read(stream: IO[bytes]) -> list[list[str]]:
    limit = settings.IMPORT_MAX_UNPACKED_BYTES
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise _too_large(len(data) + len(stream.read()))
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ImportFileError(_("The CSV file is neither UTF-8 nor GB18030 text."))
    rows: list[list[str]] = []
    for row in csv.reader(io.StringIO(text, newline="")):
        if len(rows) >= settings.IMPORT_MAX_ROWS:
            raise _too_many_rows()
        rows.append([_cell(v) for v in row])
    return rows


# Bad cells named in the refusal; the rest are counted.
_BAD_CELLS_NAMED = 5


def _cells_check(rows: list[list[str]]) -> None:
    bad = [
        (row_number, column_number, problem)
        for row_number, row in enumerate(rows, start=1)
        for column_number, value in enumerate(row, start=1)
        if (problem := text_problem(value))
    ]
    if not bad:
        return
    lines = [
        _("Row %(row)d, column %(column)d: %(message)s") % {"row": row, "column": column, "message": problem}
        for row, column, problem in bad[:_BAD_CELLS_NAMED]
    ]
    if len(bad) > _BAD_CELLS_NAMED:
        lines.append(_("%(n)d more cells have such characters.") % {"n": len(bad) - _BAD_CELLS_NAMED})
    raise ImportFileError(" ".join([_("Nothing was imported."), *lines]))


#
# Checking
#


@dataclass(frozen=True)
class TableColumns:
    """The columns an import knows (``known``), the ones it cannot do without (``required``), the ones a refusal
    names as those the file should have (``named``), and the English names it accepts for them (``aliases``, with
    those of the risk columns), so that an English-headed file imports too."""

    required: Sequence[str]
    named: Sequence[str]
    known: Sequence[str]
    aliases: dict[str, str]

    def locate(self, rows: list[list[str]]) -> dict[str, int]:
        """Where each known column stands in the header row.

        Raises ImportFileError for an empty file or a header that lacks a required column.
        """
        if not rows:
            raise ImportFileError(_("The file is empty."))
        aliases = {**RISK_ALIASES, **self.aliases}
        header = [aliases.get(cell.lower(), cell) for cell in rows[0]]
        missing = [column for column in self.required if column not in header]
        if missing:
            raise ImportFileError(
                _("The first row must name the columns %(wanted)s; missing: %(missing)s.")
                % {"wanted": ", ".join(self.named), "missing": ", ".join(missing)}
            )
        return {column: header.index(column) for column in self.known if column in header}


class TableRow:
    """One non-empty row of an imported table: its cells by column name, and where its errors go."""

    def __init__(self, number: int, cells: list[str], position: dict[str, int], errors: list[RowError]) -> None:
        self.number = number
        self._cells = cells
        self._position = position
        self._errors = errors

    def __getitem__(self, column: str) -> str:
        at = self._position.get(column)
        return self._cells[at] if at is not None and at < len(self._cells) else ""

    def error(self, column: str, message: str) -> None:
        self._errors.append(RowError(self.number, column, message))


class RiskIndex:
    """Resolves what a file writes in 一级分类 / 二级分类: a code, the Chinese or English name, or "code name"."""

    @cached_property
    def categories(self) -> dict[str, str]:
        return {
            self._fold(label): category.code
            for category in RiskCategory.objects.all()
            for label in (category.code, category.name_zh, category.name_en, f"{category.code} {category.name_zh}")
        }

    @cached_property
    def risks(self) -> dict[tuple[str, str], str]:
        return {
            (risk.category_id, self._fold(label)): risk.code
            for risk in Risk.objects.all()
            for label in (risk.code, risk.name_zh, risk.name_en, f"{risk.code} {risk.name_zh}")
        }

    @staticmethod
    def _fold(label: str) -> str:
        return match_key(label).replace("，", ",")

    def category(self, label: str) -> str | None:
        return self.categories.get(self._fold(label))

    def risk(self, category_code: str, label: str) -> str | None:
        return self.risks.get((category_code, self._fold(label)))

    def resolve(self, row: TableRow) -> str | None:
        """The risk code the row names in 一级分类 / 二级分类; what cannot be resolved is the row's error."""
        category_label, risk_label = row[COLUMN_CATEGORY], row[COLUMN_RISK]
        category_code = self.category(category_label)
        if category_code is None:
            row.error(COLUMN_CATEGORY, _("unknown category “%(c)s”") % {"c": category_label})
            return None
        risk_code = self.risk(category_code, risk_label)
        if risk_code is None:
            row.error(COLUMN_RISK, _("unknown risk “%(r)s” in category %(c)s") % {"r": risk_label, "c": category_code})
        return risk_code


Report = TypeVar("Report", bound=TableReport[Any])


def table_parse(
    rows: list[list[str]],
    report: Report,
    *,
    columns: TableColumns,
    entry: Callable[[TableRow], Any],
    empty: str,
) -> Report:
    """Check every row of ``rows`` (the header first) into ``report``.

    ``entry`` reads one non-empty row: it names each problem with ``row.error`` and returns what to import, which
    is kept only when the row had no error. A file without a single row to import is an error, ``empty``, in its
    first required column.
    """
    position = columns.locate(rows)
    for number, cells in enumerate(rows[1:], start=2):
        if not any(cells):
            continue
        errors_before = len(report.errors)
        parsed = entry(TableRow(number, cells, position, report.errors))
        if parsed is not None and len(report.errors) == errors_before:
            report.entries.append(parsed)
    if not report.entries and not report.errors:
        report.errors.append(RowError(2, columns.required[0], empty))
    return report


def table_import(
    stream: IO[bytes],
    filename: str,
    *,
    parse: Callable[[list[list[str]]], Report],
    write: Callable[[Report], None],
    dry_run: bool,
) -> Report:
    """Read the file, check every row with ``parse``, and ``write`` the report's entries in one transaction: only
    when no row is bad, and not on a dry run. Returns the report either way."""
    report = parse(table_read(stream, filename))
    if report.ok and not dry_run:
        with transaction.atomic():
            write(report)
    return report


#
# Writing
#


def csv_write(rows: Iterable[list[str]], stream: IO[str]) -> None:
    # The BOM lets Excel open the file as UTF-8.
    stream.write("\ufeff")
    writer = csv_writer(stream)
    for row in rows:
        writer.writerow(row)


def xlsx_write_sheets(sheets: Iterable[tuple[str, Iterable[list[Any]]]], stream: IO[bytes]) -> None:
    """A workbook with one sheet per ``(title, rows)`` (titles cut to the 31 characters a sheet name takes)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    for title, rows in sheets:
        sheet = workbook.create_sheet(title[:31])
        for row in rows:
            xlsx_append(sheet, row)
    workbook.save(stream)
