"""The spreadsheets of the filing package: the keyword list (附件4), the test questions (附件5), the index of the
evidence files (附件7) and the dataset provenance table (语料来源表)."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

from filing.models import Dataset, Document, Service
from filing.package.office import ooxml_normalise, xlsx_bytes, yes
from filing.package.parts import PackageFile, Part, base_name, stored_bytes
from filing.safety.keyword_io import keyword_rows
from filing.safety.keyword_io import xlsx_write as keyword_xlsx_write
from filing.selectors import percent, test_bank_of_kind

QUESTION_SHEETS = (
    ("generated", "生成内容测试题库（A.1-A.5）"),
    ("refuse", "应拒答测试题库"),
    ("nonrefuse", "非拒答测试题库"),
)
QUESTION_COLUMNS = ("序号", "测试题", "一级分类", "二级分类", "模型回答", "研判结果")
DATASET_COLUMNS = (
    "名称",
    "关联方式",
    "来源类型",
    "境内/境外",
    "来源",
    "许可",
    "采集起",
    "采集止",
    "条数",
    "字节数",
    "语言占比",
    "含个人信息",
    "个人信息合法性基础",
    "SHA-256",
    "来源安全抽检",
    "抽检豁免理由",
    "豁免记录人",
    "豁免记录时间",
    "佐证材料",
)


def latest_assessment_run(service: Service) -> Any:
    """The newest finished assessment run of the service's models, or ``None``."""
    from django.apps import apps

    try:
        model = apps.get_model("filing", "AssessmentRun")
    except LookupError:
        return None
    return (
        model.objects.filter(status="succeeded", model_record__service=service).order_by("-finished_at", "-pk").first()
    )


@dataclass(frozen=True)
class QuestionSheet:
    """Where a sheet of 附件5 comes from: the run's sample of its bank kind, else the whole bank, else nothing."""

    kind: str
    title: str
    run: Any
    bank: Any

    @property
    def demo_questions(self) -> int:
        """How many of the sheet's questions are synthetic demo questions."""
        from filing.safety.models import Origin

        if self.run is not None:
            return int(self.run.samples.filter(bank_kind=self.kind, question__bank__origin=Origin.DEMO).count())
        if self.bank is not None and self.bank.origin == Origin.DEMO:
            return int(self.bank.question_count)
        return 0


def question_sheets(run: Any) -> list[QuestionSheet]:
    """The sheets of 附件5 and their sources, with ``run`` (a finished assessment run, or ``None``)."""
    sheets = []
    for kind, title in QUESTION_SHEETS:
        sampled = run is not None and run.samples.filter(bank_kind=kind).exists()
        sheets.append(QuestionSheet(kind, title, run if sampled else None, test_bank_of_kind(kind)))
    return sheets


def questions_xlsx(service: Service, *, run: Any = None) -> bytes:
    """附件5: one sheet per bank. With a finished assessment run (``run``, else the newest of the service), the
    run's sample with the model's answers and verdicts; otherwise the whole bank (headers only without one)."""
    from filing.safety.banks import assessment_sample_rows, bank_rows

    sheets = []
    for sheet in question_sheets(run if run is not None else latest_assessment_run(service)):
        if sheet.run is not None:
            rows: list[list[Any]] = [list(r) for r in assessment_sample_rows(run=sheet.run, kind=sheet.kind)]
        elif sheet.bank is not None:
            rows = [list(r) for r in bank_rows(bank=sheet.bank)]
        else:
            rows = [list(QUESTION_COLUMNS)]
        sheets.append((sheet.title, rows))
    return xlsx_bytes(sheets)


def keywords_xlsx() -> bytes:
    stream = io.BytesIO()
    keyword_xlsx_write(keyword_rows(), stream)
    return ooxml_normalise(stream.getvalue())


def _dataset_links(dataset: Dataset, service: Service | None) -> str:
    """How the dataset belongs to the service: linked to it, to its model records, through its training runs."""
    if service is None:
        return ""
    ways = []
    if dataset.services.filter(pk=service.pk).exists():
        ways.append("直接关联本服务")
    records = [f"{r.name}（{r.code}）" for r in dataset.model_records.filter(service=service).order_by("name", "pk")]
    if records:
        ways.append("模型：" + "、".join(records))
    runs = getattr(dataset, "training_runs", None)
    if runs is not None:
        ids = list(runs.filter(model_record__service=service).order_by("pk").values_list("pk", flat=True))
        if ids:
            ways.append("训练运行：" + "、".join(f"#{pk}" for pk in ids))
    return "；".join(ways)


def _source_check(dataset: Dataset) -> str:
    """The dataset's source safety state, with the figures of its newest finished check."""
    status = {
        Dataset.SafetyStatus.UNCHECKED: "未抽检",
        Dataset.SafetyStatus.IN_REVIEW: "抽检审核中",
        Dataset.SafetyStatus.PASSED: "通过",
        Dataset.SafetyStatus.FAILED: "不通过（不得用于训练）",
    }.get(Dataset.SafetyStatus(dataset.safety_status), dataset.safety_status)
    check = dataset.safety_checks.filter(finished_at__isnull=False).order_by("-finished_at", "-pk").first()
    if check is not None and check.illegal_ratio is not None:
        status += (
            f"：抽检 {check.sample_size} 条（总 {check.population} 条），违法不良 {check.illegal_count} 条，"
            f"占比 {percent(check.illegal_ratio)}，上限 {percent(check.threshold)}，"
            f"{check.finished_at.date().isoformat() if check.finished_at else ''}"
        )
    if dataset.check_exempt and dataset.safety_status != Dataset.SafetyStatus.PASSED:
        status += "（已豁免抽检）"
    return status


def datasets_xlsx(datasets: list[Dataset], *, service: Service | None = None) -> bytes:
    """语料来源表: each dataset of the service with how it belongs to it, its scale (items and bytes), source kind,
    source safety check or the exemption from it, and its evidence files; a last row totals the scale."""
    rows: list[list[Any]] = [list(DATASET_COLUMNS)]
    items_total = bytes_total = 0
    for d in datasets:
        items_total += d.items or 0
        bytes_total += d.size_bytes or 0
        rows.append(
            [
                d.name,
                _dataset_links(d, service),
                d.get_source_type_display(),
                d.get_origin_display(),
                d.source,
                d.licence,
                d.collection_start.isoformat() if d.collection_start else "",
                d.collection_end.isoformat() if d.collection_end else "",
                d.items if d.items is not None else "未填",
                d.size_bytes if d.size_bytes is not None else "未填",
                d.language_share,
                yes(d.contains_personal_information),
                d.personal_information_legal_basis,
                d.sha256,
                _source_check(d),
                d.check_exempt_reason if d.check_exempt else "",
                d.check_exempt_by if d.check_exempt else "",
                d.check_exempt_at.isoformat(timespec="seconds") if d.check_exempt and d.check_exempt_at else "",
                "；".join(
                    f"{e.get_kind_display()}：附件7/{dataset_evidence_folder(d, e)}-{base_name(e.file)}"
                    for e in d.evidence.order_by("kind", "pk")
                )
                or "无",
            ]
        )
    total = ["合计", f"{len(datasets)} 个数据集", *[""] * 6, items_total, bytes_total, *[""] * 9]
    rows.append(total)
    return xlsx_bytes([("语料来源", rows)])


EVIDENCE_COLUMNS = ("序号", "文件（包内路径）", "类别", "证明对象", "说明", "SHA-256", "字节数")


def dataset_evidence_folder(dataset: Dataset, item: Any) -> str:
    """The name an evidence file of ``dataset`` has under 附件7/ (before its own file name)."""
    return f"语料-{dataset.pk}-{item.kind}-{item.pk}"


def evidence_part(service: Service, *, datasets: list[Dataset], name: str) -> Part:
    """附件7 佐证材料: the evidence files of the service's datasets (licences, authorisations, contracts, collection
    records) and the contracts for calling a filed model, copied in under 附件7/, with an index (``name``) naming
    each file, what it proves and its SHA-256."""
    part = Part(name="附件7", title="佐证材料", number=7)
    copies: list[PackageFile] = []
    rows: list[list[Any]] = [list(EVIDENCE_COLUMNS)]

    def add(stored: Any, folder: str, kind: str, subject: str, note: str) -> None:
        body = stored_bytes(stored)
        path = f"附件7/{folder}-{base_name(stored)}"
        copies.append(PackageFile(path, body, generated=False, note=f"{kind}：{subject}"))
        rows.append([len(rows), path, kind, subject, note, hashlib.sha256(body).hexdigest(), len(body)])

    for dataset in datasets:
        for item in dataset.evidence.order_by("kind", "pk"):
            add(
                item.file,
                dataset_evidence_folder(dataset, item),
                str(item.get_kind_display()),
                f"数据集 {dataset.name}（{dataset.sha256[:12]}）",
                item.note,
            )
    for doc in service.documents.filter(kind=Document.Kind.CALL_CONTRACT).order_by("-created_at", "-pk"):
        subject = f"调用已备案模型 {service.called_model_name}（{service.called_model_number}）".strip()
        add(doc.file, f"调用协议-{doc.pk}-v{doc.version}", "调用协议", subject, doc.title)
    if not copies:
        part.lack("佐证材料", "数据集与调用协议均无佐证文件")
    part.files = [PackageFile(name, xlsx_bytes([("佐证材料索引", rows)])), *copies]
    part.has_content = bool(copies)
    return part
