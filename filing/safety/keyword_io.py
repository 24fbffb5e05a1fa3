"""Import and export of the keyword library as CSV or XLSX, in the filing attachment's columns.

The filing package's attachment 4 (拦截关键词列表) has the columns ``关键词, 一级分类, 二级分类``.
An import may also carry ``动作`` (拦截/标记, block/flag), ``启用`` and ``备注``. The reading, the row checks
and the writers are those of ``filing.safety.tabular``, which the test banks share: an import checks every row
first and writes nothing while any row is bad, and an exported file imports back to the same keywords.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from django.utils.translation import gettext as _

from filing.safety import tabular
from filing.safety.models import Keyword, KeywordLibraryVersion, Origin, match_key
from filing.safety.services import keyword_library_version_bump

COLUMN_KEYWORD = "关键词"
COLUMN_ACTION = "动作"
COLUMN_ENABLED = "启用"
COLUMN_NOTES = "备注"
ATTACHMENT_COLUMNS = (COLUMN_KEYWORD, tabular.COLUMN_CATEGORY, tabular.COLUMN_RISK)
FULL_COLUMNS = (*ATTACHMENT_COLUMNS, COLUMN_ACTION, COLUMN_ENABLED, COLUMN_NOTES)

KEYWORD_TABLE = tabular.TableColumns(
    required=ATTACHMENT_COLUMNS,
    named=ATTACHMENT_COLUMNS,
    known=FULL_COLUMNS,
    aliases={"keyword": COLUMN_KEYWORD, "action": COLUMN_ACTION, "enabled": COLUMN_ENABLED, "notes": COLUMN_NOTES},
)

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
class ImportReport(tabular.TableReport[ParsedEntry]):
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    version: KeywordLibraryVersion | None = None


#
# Checking
#


def keywords_parse(rows: list[list[str]]) -> ImportReport:
    """Check every row; the report lists each bad row and, when there are none, the entries to import."""
    index = tabular.RiskIndex()
    seen: dict[str, int] = {}

    def entry(row: tabular.TableRow) -> ParsedEntry | None:
        keyword = row[COLUMN_KEYWORD]
        key = match_key(keyword)
        if not key:
            row.error(COLUMN_KEYWORD, _("the keyword is empty"))
        elif len(keyword) > Keyword._meta.get_field("keyword").max_length:  # type: ignore[operator]
            row.error(COLUMN_KEYWORD, _("the keyword is longer than 200 characters"))
        elif key in seen:
            row.error(COLUMN_KEYWORD, _("“%(k)s” duplicates row %(first)d") % {"k": keyword, "first": seen[key]})
        else:
            seen[key] = row.number

        risk_code = index.resolve(row)

        action_label = row[COLUMN_ACTION]
        action = ACTION_VALUES.get(action_label.lower()) if action_label else None
        if action_label and action is None:
            row.error(COLUMN_ACTION, _("unknown action “%(a)s” (拦截 or 标记)") % {"a": action_label})
        enabled_label = row[COLUMN_ENABLED]
        enabled = BOOLEAN_VALUES.get(enabled_label.lower()) if enabled_label else None
        if enabled_label and enabled is None:
            row.error(COLUMN_ENABLED, _("“%(v)s” is not 是 or 否") % {"v": enabled_label})

        if not risk_code:
            return None
        return ParsedEntry(
            row=row.number,
            keyword=keyword,
            key=key,
            risk_code=risk_code,
            action=action,
            enabled=enabled,
            notes=row[COLUMN_NOTES],
        )

    return tabular.table_parse(
        rows, ImportReport(), columns=KEYWORD_TABLE, entry=entry, empty=_("the file has no keyword rows")
    )


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

    def write(report: ImportReport) -> None:
        _apply(report, mode=mode)
        if report.created or report.updated or report.deleted:
            report.version = keyword_library_version_bump(
                actor=actor,
                reason=_("Import of %(file)s (%(mode)s): %(c)d added, %(u)d changed, %(d)d deleted.")
                % {"file": filename, "mode": mode, "c": report.created, "u": report.updated, "d": report.deleted},
            )

    return tabular.table_import(stream, filename, parse=keywords_parse, write=write, dry_run=dry_run)


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


def xlsx_write(rows: Iterable[list[str]], stream: IO[bytes]) -> None:
    tabular.xlsx_write_sheets([("拦截关键词列表", rows)], stream)
