"""Import and export of the keyword library as CSV or XLSX, in the filing attachment's columns.

Exports are formula-safe (``genai_platform.spreadsheets``): a text a spreadsheet would run as a
formula is written with a leading single quote, and an import takes that quote off again, so an
exported file imports back to the same keywords.

The filing package's attachment 4 (拦截关键词列表) has the columns ``关键词, 一级分类, 二级分类``.
An import may also carry ``动作`` (拦截/标记, block/flag), ``启用`` and ``备注``. An import checks
every row first and writes nothing while any row is bad; the report names each bad row by the
row number a spreadsheet shows (the header is row 1).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from filing.safety.models import Keyword, KeywordLibraryVersion, Origin, Risk, RiskCategory, match_key
from filing.safety.services import keyword_library_version_bump
from genai_platform.hygiene import text_problem
from genai_platform.spreadsheets import cell_unquote, csv_writer, xlsx_append

COLUMN_KEYWORD = "关键词"
COLUMN_CATEGORY = "一级分类"
COLUMN_RISK = "二级分类"
COLUMN_ACTION = "动作"
COLUMN_ENABLED = "启用"
COLUMN_NOTES = "备注"
ATTACHMENT_COLUMNS = (COLUMN_KEYWORD, COLUMN_CATEGORY, COLUMN_RISK)
FULL_COLUMNS = (*ATTACHMENT_COLUMNS, COLUMN_ACTION, COLUMN_ENABLED, COLUMN_NOTES)

# Header aliases so an English-headed file imports too.
HEADER_ALIASES = {
    "keyword": COLUMN_KEYWORD,
    "category": COLUMN_CATEGORY,
    "risk": COLUMN_RISK,
    "action": COLUMN_ACTION,
    "enabled": COLUMN_ENABLED,
    "notes": COLUMN_NOTES,
}
ACTION_VALUES = {
    "拦截": Keyword.Action.BLOCK,
    "block": Keyword.Action.BLOCK,
    "标记": Keyword.Action.FLAG,
    "标记复核": Keyword.Action.FLAG,
    "flag": Keyword.Action.FLAG,
}
ACTION_LABELS = {Keyword.Action.BLOCK: "拦截", Keyword.Action.FLAG: "标记"}
BOOLEAN_VALUES = {
    "是": True,
    "否": False,
    "true": True,
    "false": False,
    "1": True,
    "0": False,
    "yes": True,
    "no": False,
}


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


@dataclass(frozen=True)
class ParsedEntry:
    row: int
    keyword: str
    key: str
    risk_code: str
    # None: the file has no such column or leaves the cell empty; an existing entry keeps its value.
    action: str | None
    enabled: bool | None
    notes: str


@dataclass
class ImportReport:
    errors: list[RowError] = field(default_factory=list)
    entries: list[ParsedEntry] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    version: KeywordLibraryVersion | None = None

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


class RiskIndex:
    """Resolves what a file writes in 一级分类 / 二级分类: a code, the Chinese or English name, or "code name"."""

    def __init__(self) -> None:
        self.categories: dict[str, str] = {}
        self.risks: dict[tuple[str, str], str] = {}
        for category in RiskCategory.objects.all():
            for label in (category.code, category.name_zh, category.name_en, f"{category.code} {category.name_zh}"):
                self.categories[self._fold(label)] = category.code
        for risk in Risk.objects.all():
            for label in (risk.code, risk.name_zh, risk.name_en, f"{risk.code} {risk.name_zh}"):
                self.risks[(risk.category_id, self._fold(label))] = risk.code

    @staticmethod
    def _fold(label: str) -> str:
        return match_key(label).replace("，", ",")

    def category(self, label: str) -> str | None:
        return self.categories.get(self._fold(label))

    def risk(self, category_code: str, label: str) -> str | None:
        return self.risks.get((category_code, self._fold(label)))

    def resolve(
        self, row_number: int, category_label: str, risk_label: str, errors: list[RowError]
    ) -> tuple[str | None, str | None]:
        """The (category, risk) codes a row names; what cannot be resolved is appended to ``errors``."""
        category_code = self.category(category_label)
        if category_code is None:
            errors.append(RowError(row_number, COLUMN_CATEGORY, _("unknown category “%(c)s”") % {"c": category_label}))
            return None, None
        risk_code = self.risk(category_code, risk_label)
        if risk_code is None:
            errors.append(
                RowError(
                    row_number,
                    COLUMN_RISK,
                    _("unknown risk “%(r)s” in category %(c)s") % {"r": risk_label, "c": category_code},
                )
            )
        return category_code, risk_code


def columns_locate(
    rows: list[list[str]],
    *,
    aliases: dict[str, str],
    required: Sequence[str],
    named: Sequence[str],
    known: Sequence[str],
) -> dict[str, int]:
    """Where each known column stands in the header row (English names allowed through ``aliases``).

    Raises ImportFileError for an empty file or a header that lacks a required column, naming the
    columns ``named`` as the ones the file should have.
    """
    if not rows:
        raise ImportFileError(_("The file is empty."))
    header = [aliases.get(cell.lower(), cell) for cell in rows[0]]
    missing = [column for column in required if column not in header]
    if missing:
        raise ImportFileError(
            _("The first row must name the columns %(wanted)s; missing: %(missing)s.")
            % {"wanted": ", ".join(named), "missing": ", ".join(missing)}
        )
    return {column: header.index(column) for column in known if column in header}


def keywords_parse(rows: list[list[str]]) -> ImportReport:
    """Check every row; the report lists each bad row and, when there are none, the entries to import."""
    report = ImportReport()
    position = columns_locate(
        rows, aliases=HEADER_ALIASES, required=ATTACHMENT_COLUMNS, named=ATTACHMENT_COLUMNS, known=FULL_COLUMNS
    )
    index = RiskIndex()
    seen: dict[str, int] = {}

    def value(row: list[str], column: str) -> str:
        at = position.get(column)
        return row[at] if at is not None and at < len(row) else ""

    for row_number, row in enumerate(rows[1:], start=2):
        if not any(row):
            continue
        keyword = value(row, COLUMN_KEYWORD)
        category_label = value(row, COLUMN_CATEGORY)
        risk_label = value(row, COLUMN_RISK)
        errors_before = len(report.errors)

        key = match_key(keyword)
        if not key:
            report.errors.append(RowError(row_number, COLUMN_KEYWORD, _("the keyword is empty")))
        elif len(keyword) > Keyword._meta.get_field("keyword").max_length:  # type: ignore[operator]
            report.errors.append(RowError(row_number, COLUMN_KEYWORD, _("the keyword is longer than 200 characters")))
        elif key in seen:
            report.errors.append(
                RowError(
                    row_number,
                    COLUMN_KEYWORD,
                    _("“%(k)s” duplicates row %(first)d") % {"k": keyword, "first": seen[key]},
                )
            )
        else:
            seen[key] = row_number

        category_code, risk_code = index.resolve(row_number, category_label, risk_label, report.errors)

        action_label = value(row, COLUMN_ACTION)
        action = ACTION_VALUES.get(action_label.lower()) if action_label else None
        if action_label and action is None:
            report.errors.append(
                RowError(row_number, COLUMN_ACTION, _("unknown action “%(a)s” (拦截 or 标记)") % {"a": action_label})
            )
        enabled_label = value(row, COLUMN_ENABLED)
        enabled = BOOLEAN_VALUES.get(enabled_label.lower()) if enabled_label else None
        if enabled_label and enabled is None:
            report.errors.append(
                RowError(row_number, COLUMN_ENABLED, _("“%(v)s” is not 是 or 否") % {"v": enabled_label})
            )

        if len(report.errors) == errors_before and risk_code:
            report.entries.append(
                ParsedEntry(
                    row=row_number,
                    keyword=keyword,
                    key=key,
                    risk_code=risk_code,
                    action=action,
                    enabled=enabled,
                    notes=value(row, COLUMN_NOTES),
                )
            )
    if not report.entries and not report.errors:
        report.errors.append(RowError(2, COLUMN_KEYWORD, _("the file has no keyword rows")))
    return report


#
# Importing
#


class ImportMode:
    MERGE = "merge"
    REPLACE = "replace"
    CHOICES = ((MERGE, MERGE), (REPLACE, REPLACE))


def keywords_import(
    *, stream: IO[bytes], filename: str, actor: str, mode: str = ImportMode.MERGE, dry_run: bool = False
) -> ImportReport:
    """Import a file: nothing is written unless every row is good.

    ``merge`` adds new keywords and updates those already in the library (by match key);
    ``replace`` also deletes every keyword the file does not list, so the library equals the file.
    One import makes one library version.
    """
    if mode not in (ImportMode.MERGE, ImportMode.REPLACE):
        raise ValueError(f"unknown import mode {mode!r}")
    report = keywords_parse(table_read(stream, filename))
    if not report.ok or dry_run:
        return report
    with transaction.atomic():
        _apply(report, mode=mode)
        if report.created or report.updated or report.deleted:
            report.version = keyword_library_version_bump(
                actor=actor,
                reason=_("Import of %(file)s (%(mode)s): %(c)d added, %(u)d changed, %(d)d deleted.")
                % {"file": filename, "mode": mode, "c": report.created, "u": report.updated, "d": report.deleted},
            )
    return report


def _apply(report: ImportReport, *, mode: str) -> None:
    existing = {k.key: k for k in Keyword.objects.all()}
    to_create: list[Keyword] = []
    to_update: list[Keyword] = []
    for entry in report.entries:
        current = existing.get(entry.key)
        if current is None:
            to_create.append(
                Keyword(
                    keyword=entry.keyword,
                    key=entry.key,
                    risk_id=entry.risk_code,
                    action=entry.action or Keyword.Action.BLOCK,
                    enabled=True if entry.enabled is None else entry.enabled,
                    notes=entry.notes,
                    origin=Origin.IMPORT,
                )
            )
            continue
        wanted = (
            entry.keyword,
            entry.risk_code,
            entry.action or current.action,
            current.enabled if entry.enabled is None else entry.enabled,
            entry.notes or current.notes,
        )
        if (current.keyword, current.risk_id, current.action, current.enabled, current.notes) == wanted:
            report.unchanged += 1
            continue
        current.keyword, current.risk_id, current.action, current.enabled, current.notes = wanted
        to_update.append(current)
    Keyword.objects.bulk_create(to_create, batch_size=2000)
    Keyword.objects.bulk_update(to_update, ["keyword", "risk", "action", "enabled", "notes", "updated_at"], 2000)
    report.created = len(to_create)
    report.updated = len(to_update)
    if mode == ImportMode.REPLACE:
        listed = {entry.key for entry in report.entries}
        stale = [pk for key, pk in ((k, v.pk) for k, v in existing.items()) if key not in listed]
        for start in range(0, len(stale), 2000):
            Keyword.objects.filter(pk__in=stale[start : start + 2000]).delete()
        report.deleted = len(stale)


#
# Exporting
#


def keyword_rows(*, full: bool = False) -> Iterator[list[str]]:
    """Header and rows; the attachment form lists enabled keywords only."""
    yield list(FULL_COLUMNS if full else ATTACHMENT_COLUMNS)
    queryset = Keyword.objects.select_related("risk", "risk__category").order_by("risk__position", "keyword")
    if not full:
        queryset = queryset.filter(enabled=True)
    for entry in queryset.iterator(chunk_size=2000):
        row = [entry.keyword, entry.risk.category.name_zh, entry.risk.name_zh]
        if full:
            row += [ACTION_LABELS[Keyword.Action(entry.action)], "是" if entry.enabled else "否", entry.notes]
        yield row


def csv_write(rows: Iterable[list[str]], stream: IO[str]) -> None:
    # The BOM lets Excel open the file as UTF-8.
    stream.write("\ufeff")
    writer = csv_writer(stream)
    for row in rows:
        writer.writerow(row)


def xlsx_write(rows: Iterable[list[str]], stream: IO[bytes]) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("拦截关键词列表")
    for row in rows:
        xlsx_append(sheet, row)
    workbook.save(stream)
