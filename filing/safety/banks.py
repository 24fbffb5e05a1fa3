"""Test banks: writes, import and export in the filing attachment's columns, coverage, demo banks.

The filing package's test-bank attachments have the columns ``序号, 测试题, 一级分类, 二级分类``;
an export may add ``模型回答, 研判结果`` from an assessment run. An import checks every row first
and writes nothing while any row is bad; the report names each bad row by the row number a
spreadsheet shows (the header is row 1). Imports accept .xlsx and .csv: the reader and the row checks are
those of ``filing.safety.tabular``, which the keyword library shares.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, TYPE_CHECKING

from django.db import transaction
from django.db.models import Count, Max, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from filing.safety import tabular
from filing.safety.bank_models import (
    ASPECT_NAMES_ZH,
    QUESTION_MAX_CHARS,
    Aspect,
    BankKind,
    TestBank,
    TestQuestion,
    question_key,
)
from filing.safety.models import Origin, Risk, match_key
from filing.safety.selectors import Coverage, RiskCoverage, SafetyConfig, safety_config

if TYPE_CHECKING:
    from filing.safety.bank_models import AssessmentRun

COLUMN_SERIAL = "序号"
COLUMN_QUESTION = "测试题"
COLUMN_ANSWER = "模型回答"
COLUMN_VERDICT = "研判结果"
COLUMN_ASPECT = "方面"
BANK_COLUMNS = (COLUMN_SERIAL, COLUMN_QUESTION, tabular.COLUMN_CATEGORY, tabular.COLUMN_RISK)
EXPORT_COLUMNS = (*BANK_COLUMNS, COLUMN_ANSWER, COLUMN_VERDICT)
# Should-not-refuse banks carry, after the attachment's columns, the aspect each question covers.
NONREFUSE_EXPORT_COLUMNS = (*EXPORT_COLUMNS, COLUMN_ASPECT)
REQUIRED_COLUMNS = (COLUMN_QUESTION, tabular.COLUMN_CATEGORY, tabular.COLUMN_RISK)
BANK_TABLE = tabular.TableColumns(
    required=REQUIRED_COLUMNS,
    named=BANK_COLUMNS,
    known=NONREFUSE_EXPORT_COLUMNS,
    aliases={
        "serial": COLUMN_SERIAL,
        "no": COLUMN_SERIAL,
        "number": COLUMN_SERIAL,
        "question": COLUMN_QUESTION,
        "answer": COLUMN_ANSWER,
        "verdict": COLUMN_VERDICT,
        "aspect": COLUMN_ASPECT,
    },
)
SHEET_NAMES = {
    BankKind.GENERATED: "生成内容测试题库",
    BankKind.REFUSE: "应拒答测试题库",
    BankKind.NONREFUSE: "非拒答测试题库",
}


class ImportMode:
    REPLACE = "replace"
    APPEND = "append"


@dataclass(frozen=True)
class ParsedQuestion:
    row: int
    serial: int | None
    text: str
    key: str
    risk_code: str
    aspect: str = ""


def aspect_resolve(label: str) -> str | None:
    """The aspect a file names by code (``history``), Chinese name (历史) or label; "" for an empty cell."""
    folded = match_key(label)
    if not folded:
        return ""
    for aspect in Aspect:
        if folded in (aspect.value, match_key(ASPECT_NAMES_ZH[aspect]), match_key(str(aspect.label))):
            return aspect.value
    return None


@dataclass
class BankImportReport(tabular.TableReport[ParsedQuestion]):
    created: int = 0
    deleted: int = 0


#
# Writes
#


def bank_touch(bank: TestBank) -> None:
    bank.question_count = bank.questions.count()
    bank.updated_at = timezone.now()
    bank.save(update_fields=["question_count", "updated_at"])


@transaction.atomic
def bank_create(*, name: str, kind: str, origin: str = Origin.MANUAL, notes: str = "") -> TestBank:
    bank = TestBank(name=name, kind=kind, origin=origin, notes=notes)
    bank.full_clean()
    bank.save()
    return bank


@transaction.atomic
def bank_question_save(*, question: TestQuestion) -> TestQuestion:
    """Add or change one question; a new question without a number gets the next free one."""
    if question.serial is None and question.bank_id is not None:
        last = TestQuestion.objects.filter(bank_id=question.bank_id).aggregate(m=Max("serial"))["m"]
        question.serial = (last or 0) + 1
    question.full_clean()
    question.save()
    bank_touch(question.bank)
    return question


@transaction.atomic
def bank_questions_delete(*, questions: QuerySet[TestQuestion]) -> int:
    bank_ids = set(questions.values_list("bank_id", flat=True))
    count, _detail = questions.delete()
    for bank in TestBank.objects.filter(pk__in=bank_ids):
        bank_touch(bank)
    return count


#
# Import
#


def _serial(label: str) -> int | None:
    try:
        number = int(label)
    except ValueError:
        return None
    return number if number >= 1 else None


def bank_questions_parse(rows: list[list[str]], *, bank: TestBank, mode: str) -> BankImportReport:
    """Check every row; the report lists each bad row and, when there are none, the questions to import."""
    index = tabular.RiskIndex()
    seen_keys: dict[str, int] = {}
    seen_serials: dict[int, int] = {}
    existing_keys: dict[str, int] = {}
    existing_serials: set[int] = set()
    if mode == ImportMode.APPEND:
        for existing_serial, existing_key in TestQuestion.objects.filter(bank=bank).values_list("serial", "key"):
            existing_keys[existing_key] = existing_serial
            existing_serials.add(existing_serial)

    def entry(row: tabular.TableRow) -> ParsedQuestion | None:
        serial_label = row[COLUMN_SERIAL]
        serial: int | None = None
        if serial_label:
            serial = _serial(serial_label)
            if serial is None:
                row.error(COLUMN_SERIAL, _("“%(v)s” is not a whole number from 1 up") % {"v": serial_label})
            elif serial in seen_serials:
                row.error(
                    COLUMN_SERIAL,
                    _("number %(n)d is already used on row %(first)d") % {"n": serial, "first": seen_serials[serial]},
                )
            elif serial in existing_serials:
                row.error(COLUMN_SERIAL, _("number %(n)d is already used in the bank") % {"n": serial})
            else:
                seen_serials[serial] = row.number

        text = row[COLUMN_QUESTION]
        key = question_key(text) if match_key(text) else ""
        if not key:
            row.error(COLUMN_QUESTION, _("the question is empty"))
        elif len(text) > QUESTION_MAX_CHARS:
            row.error(COLUMN_QUESTION, _("the question is longer than %(n)d characters") % {"n": QUESTION_MAX_CHARS})
        elif key in seen_keys:
            row.error(COLUMN_QUESTION, _("the question repeats row %(first)d") % {"first": seen_keys[key]})
        elif key in existing_keys:
            row.error(
                COLUMN_QUESTION, _("the bank already has this question as number %(n)d") % {"n": existing_keys[key]}
            )
        else:
            seen_keys[key] = row.number

        risk_code = index.resolve(row)

        aspect_label = row[COLUMN_ASPECT]
        aspect = aspect_resolve(aspect_label)
        if aspect is None:
            row.error(
                COLUMN_ASPECT,
                _("unknown aspect “%(a)s” (one of %(names)s)")
                % {"a": aspect_label, "names": "、".join(ASPECT_NAMES_ZH.values())},
            )

        if not risk_code:
            return None
        return ParsedQuestion(
            row=row.number, serial=serial, text=text, key=key, risk_code=risk_code, aspect=aspect or ""
        )

    return tabular.table_parse(
        rows, BankImportReport(), columns=BANK_TABLE, entry=entry, empty=_("the file has no question rows")
    )


def bank_questions_import(
    *, bank: TestBank, stream: IO[bytes], filename: str, mode: str = ImportMode.REPLACE, dry_run: bool = False
) -> BankImportReport:
    """Import a file into ``bank``: nothing is written unless every row is good.

    ``replace`` makes the bank exactly the file; ``append`` adds the file's questions, which must
    be new to the bank. Rows without a 序号 get the next free numbers, in file order.
    """
    if mode not in (ImportMode.REPLACE, ImportMode.APPEND):
        raise ValueError(f"unknown import mode {mode!r}")
    return tabular.table_import(
        stream,
        filename,
        parse=lambda rows: bank_questions_parse(rows, bank=bank, mode=mode),
        write=lambda report: _bank_questions_write(report, bank=bank, mode=mode),
        dry_run=dry_run,
    )


def _bank_questions_write(report: BankImportReport, *, bank: TestBank, mode: str) -> None:
    """Store the checked questions (inside the import's transaction); rows without a 序号 get the next free ones."""
    bank = TestBank.objects.select_for_update().get(pk=bank.pk)
    if mode == ImportMode.REPLACE:
        report.deleted, _detail = TestQuestion.objects.filter(bank=bank).delete()
        taken: set[int] = set()
    else:
        taken = set(TestQuestion.objects.filter(bank=bank).values_list("serial", flat=True))
    taken |= {entry.serial for entry in report.entries if entry.serial is not None}
    next_serial = 1
    questions = []
    for entry in report.entries:
        serial = entry.serial
        if serial is None:
            while next_serial in taken:
                next_serial += 1
            serial = next_serial
            taken.add(serial)
        questions.append(
            TestQuestion(
                bank=bank,
                serial=serial,
                text=entry.text,
                key=entry.key,
                risk_id=entry.risk_code,
                aspect=entry.aspect,
            )
        )
    TestQuestion.objects.bulk_create(questions, batch_size=2000)
    report.created = len(questions)
    if mode == ImportMode.REPLACE and bank.origin == Origin.DEMO:
        bank.origin = Origin.IMPORT
        bank.save(update_fields=["origin"])
    bank_touch(bank)


#
# Export
#


def _verdict_label(
    sample_stage: str, refused: bool, kind: str, keyword_pass: bool | None, review: str, classifier_pass: bool | None
) -> str:
    if kind == BankKind.GENERATED:
        if review:
            return "合格（人工）" if review == "pass" else "不合格（人工）"
        layers = (("关键词", keyword_pass), ("分类模型", classifier_pass))
        return "；".join(f"{'合格' if passed else '不合格'}（{name}）" for name, passed in layers if passed is not None)
    if sample_stage in ("pending", "invalid"):
        return ""
    return "拒答" if refused else "未拒答"


def bank_rows(*, bank: TestBank) -> Iterator[list[str]]:
    """Header and rows of ``bank`` in the attachment's columns (answer and verdict left empty); a
    should-not-refuse bank adds the aspect of each question."""
    with_aspect = bank.kind == BankKind.NONREFUSE
    yield list(NONREFUSE_EXPORT_COLUMNS if with_aspect else EXPORT_COLUMNS)
    queryset = TestQuestion.objects.filter(bank=bank).select_related("risk", "risk__category").order_by("serial")
    for q in queryset.iterator(chunk_size=2000):
        row = [str(q.serial), q.text, q.risk.category.name_zh, q.risk.name_zh, "", ""]
        if with_aspect:
            row.append(ASPECT_NAMES_ZH[Aspect(q.aspect)] if q.aspect else "")
        yield row


def assessment_sample_rows(*, run: AssessmentRun, kind: str) -> Iterator[list[str]]:
    """Header and rows of the run's sample of one bank, with the answer shown and the verdict."""
    yield list(EXPORT_COLUMNS)
    samples = run.samples.filter(bank_kind=kind).select_related("risk", "risk__category").order_by("position")
    for s in samples.iterator(chunk_size=2000):
        yield [
            str(s.serial),
            s.text,
            s.risk.category.name_zh,
            s.risk.name_zh,
            s.answer,
            _verdict_label(s.stage, s.refused, s.bank_kind, s.keyword_pass, s.review, s.classifier_pass),
        ]


#
# Coverage
#


def bank_minimums(kind: str, config: SafetyConfig) -> tuple[int, dict[str, int]]:
    """The total and per-risk minimums of TC260-003 §8.2 / §8.3 for a bank of ``kind``."""
    codes = list(Risk.objects.order_by("position").values_list("code", flat=True))
    a1a2 = [c for c in codes if c.startswith(("A.1.", "A.2."))]
    if kind == BankKind.GENERATED:
        return config.generated_bank_min_total, {
            c: config.generated_bank_min_per_a1a2_risk if c in a1a2 else config.generated_bank_min_per_other_risk
            for c in codes
        }
    if kind == BankKind.REFUSE:
        return config.refuse_bank_min_total, {c: config.refuse_bank_min_per_risk if c in a1a2 else 0 for c in codes}
    # The should-not-refuse minimum is per aspect (our system, beliefs, …; see ``bank_coverage``),
    # not per risk: the counts by risk are shown without a minimum.
    return config.nonrefuse_bank_min_total, dict.fromkeys(codes, 0)


@dataclass(frozen=True)
class BankCoverage(Coverage):
    """A bank against TC260-003 §8.2 / §8.3: total size, per-risk minimums, monthly update."""

    bank: TestBank
    total: int
    total_minimum: int
    risks: list[RiskCoverage]
    last_update: datetime
    update_max_days: int
    now: datetime
    config_version: int
    clauses: dict[str, str]
    # Should-not-refuse banks only: questions per aspect against the per-aspect minimum.
    aspects: list[RiskCoverage] = field(default_factory=list)

    @property
    def aspects_ok(self) -> bool:
        return all(row.ok for row in self.aspects)

    @property
    def aspects_failing(self) -> int:
        return sum(1 for row in self.aspects if not row.ok)

    @property
    def is_demo(self) -> bool:
        return self.bank.origin == Origin.DEMO

    @property
    def ok(self) -> bool:
        return self.total_ok and self.risks_ok and self.aspects_ok and self.update_ok and not self.is_demo


def bank_coverage(bank: TestBank, *, config: SafetyConfig | None = None) -> BankCoverage:
    config = config or safety_config()
    total_minimum, minimums = bank_minimums(bank.kind, config)
    counts = dict(
        TestQuestion.objects.filter(bank=bank).values("risk_id").annotate(n=Count("pk")).values_list("risk_id", "n")
    )
    risks = [
        RiskCoverage(code=r.code, name=r.name, count=counts.get(r.code, 0), minimum=minimums.get(r.code, 0))
        for r in Risk.objects.order_by("position")
    ]
    aspects = []
    if bank.kind == BankKind.NONREFUSE:
        by_aspect = dict(
            TestQuestion.objects.filter(bank=bank).values("aspect").annotate(n=Count("pk")).values_list("aspect", "n")
        )
        aspects = [
            RiskCoverage(
                code=aspect.value,
                name=ASPECT_NAMES_ZH[aspect],
                count=by_aspect.get(aspect.value, 0),
                minimum=config.nonrefuse_bank_min_per_aspect,
            )
            for aspect in Aspect
        ]
    return BankCoverage(
        aspects=aspects,
        bank=bank,
        total=sum(counts.values()),
        total_minimum=total_minimum,
        risks=risks,
        last_update=bank.updated_at,
        update_max_days=config.test_bank_update_max_days,
        now=timezone.now(),
        config_version=config.version,
        clauses=config.clauses,
    )
