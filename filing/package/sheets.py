"""The spreadsheets of the filing package: the keyword list (附件4), the test questions (附件5) and the
dataset provenance table (语料来源表)."""

from __future__ import annotations

import io
from typing import Any

from filing.models import Dataset, Service
from filing.package.office import ooxml_normalise, xlsx_bytes, yes
from filing.safety.keyword_io import keyword_rows
from filing.safety.keyword_io import xlsx_write as keyword_xlsx_write
from filing.selectors import test_bank_of_kind

QUESTION_SHEETS = (
    ("generated", "生成内容测试题库（A.1-A.5）"),
    ("refuse", "应拒答测试题库"),
    ("nonrefuse", "非拒答测试题库"),
)
QUESTION_COLUMNS = ("序号", "测试题", "一级分类", "二级分类", "模型回答", "研判结果")
DATASET_COLUMNS = (
    "名称",
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


def questions_xlsx(service: Service) -> bytes:
    """附件5: one sheet per bank. With a finished assessment run of the service, the run's sample
    with the model's answers and verdicts; otherwise the whole bank (headers only without one)."""
    from filing.safety.banks import assessment_sample_rows, bank_rows

    run = latest_assessment_run(service)
    sheets = []
    for kind, title in QUESTION_SHEETS:
        bank = test_bank_of_kind(kind)
        if run is not None and run.samples.filter(bank_kind=kind).exists():
            rows: list[list[Any]] = [list(r) for r in assessment_sample_rows(run=run, kind=kind)]
        elif bank is not None:
            rows = [list(r) for r in bank_rows(bank=bank)]
        else:
            rows = [list(QUESTION_COLUMNS)]
        sheets.append((title, rows))
    return xlsx_bytes(sheets)


def keywords_xlsx() -> bytes:
    stream = io.BytesIO()
    keyword_xlsx_write(keyword_rows(), stream)
    return ooxml_normalise(stream.getvalue())


def datasets_xlsx(datasets: list[Dataset]) -> bytes:
    rows: list[list[Any]] = [list(DATASET_COLUMNS)]
    for d in datasets:
        rows.append(
            [
                d.name,
                d.get_source_type_display(),
                d.get_origin_display(),
                d.source,
                d.licence,
                d.collection_start.isoformat() if d.collection_start else "",
                d.collection_end.isoformat() if d.collection_end else "",
                d.items if d.items is not None else "",
                d.size_bytes if d.size_bytes is not None else "",
                d.language_share,
                yes(d.contains_personal_information),
                d.personal_information_legal_basis,
                d.sha256,
                d.get_safety_status_display(),
                "；".join((e.file.name or "").rsplit("/", 1)[-1] for e in d.evidence.order_by("pk")),
            ]
        )
    return xlsx_bytes([("语料来源", rows)])
