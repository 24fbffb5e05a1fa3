"""The filing package of a service: a zip of the application form, the self-assessment report,
the keyword list, the test questions, the dataset provenance table, the stored documents and a
manifest with the SHA-256 of every file.

The zip is reproducible: built twice from the same records it has the same bytes, apart from
``generated_at`` in the manifest. Entry dates are fixed and the Office files inside are
normalised (fixed entry dates, fixed document properties).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.utils import timezone, translation

from filing.models import Dataset, SelfAssessment, Service
from filing.safety.keyword_io import keyword_rows
from filing.safety.keyword_io import xlsx_write as keyword_xlsx_write
from filing.safety.selectors import keyword_library_version_current, safety_config
from filing.selectors import assessment_rate_failures, percent, service_datasets, test_bank_of_kind
from genai_platform.spreadsheets import xlsx_append

# Every entry of the zip, and every part of the Office files in it, carries this date.
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
FIXED_ISO = "2000-01-01T00:00:00Z"

KEYWORDS_NAME = "附件4-拦截关键词列表.xlsx"
QUESTIONS_NAME = "附件5-评估测试题.xlsx"
FORM_NAME = "生成式人工智能服务上线备案表.docx"
REPORT_NAME = "附件1-安全评估报告.docx"
DATASETS_NAME = "语料来源表.xlsx"

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

Progress = Callable[[int, str], None]


def _ooxml_normalise(data: bytes) -> bytes:
    """Rewrite an Office (zip) file with fixed entry dates and fixed created/modified properties."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = body.decode("utf-8")
                text = re.sub(
                    r"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)", rf"\g<1>{FIXED_ISO}\g<3>", text
                )
                body = text.encode("utf-8")
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            target.writestr(entry, body)
    return out.getvalue()


def _xlsx(sheets: list[tuple[str, list[list[Any]]]]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    for title, rows in sheets:
        sheet = workbook.create_sheet(title[:31])
        for row in rows:
            xlsx_append(sheet, row)
    stream = io.BytesIO()
    workbook.save(stream)
    return _ooxml_normalise(stream.getvalue())


def _docx_new() -> Any:
    from docx import Document as DocxDocument

    document = DocxDocument()
    properties = document.core_properties
    properties.author = "genai-platform"
    properties.last_modified_by = "genai-platform"
    properties.revision = 1
    return document


def _docx_bytes(document: Any) -> bytes:
    stream = io.BytesIO()
    document.save(stream)
    return _ooxml_normalise(stream.getvalue())


def _table(document: Any, rows: list[tuple[str, Any]]) -> None:
    table = document.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    for label, value in rows:
        cells = table.add_row().cells
        cells[0].text = str(label)
        cells[1].text = "" if value is None else str(value)


def _yes(value: bool) -> str:
    return "是" if value else "否"


def application_form(service: Service) -> bytes:
    """上线备案表, filled from the provider, service, model and dataset records."""
    provider = service.provider
    document = _docx_new()
    document.add_heading("生成式人工智能服务上线备案表", level=0)
    document.add_heading("一、主体信息", level=1)
    _table(
        document,
        [
            ("单位名称", provider.legal_name),
            ("统一社会信用代码", provider.uscc),
            ("注册地址", provider.registered_address),
            ("办公地址", provider.office_address),
            ("法定代表人", provider.legal_representative),
            ("安全评估负责人", provider.safety_lead),
            ("安全负责人电话", provider.safety_lead_phone),
            ("安全负责人邮箱", provider.safety_lead_email),
            ("联系人", provider.contact_name),
            ("联系电话", provider.contact_phone),
            ("联系邮箱", provider.contact_email),
            ("单位性质", provider.get_nature_display() if provider.nature else ""),
            ("上级单位", provider.parent_company),
            ("行业主管部门", provider.industry_regulator),
        ],
    )
    document.add_heading("二、服务信息", level=1)
    forms = [
        name
        for flag, name in (
            (service.form_web, "网页"),
            (service.form_app, "App"),
            (service.form_api, "API"),
            (service.form_mini_program, "小程序"),
        )
        if flag
    ]
    functions = dict(Service.MainFunction.choices)
    _table(
        document,
        [
            ("服务名称", service.name),
            ("版本", service.version),
            ("备案类型", "备案" if service.route == Service.Route.FILING else "登记"),
            ("服务形式", "、".join(forms)),
            ("主要功能", MAIN_FUNCTION_ZH.get(service.main_function, str(functions.get(service.main_function, "")))),
            ("服务领域", _domain_zh(service)),
            ("服务对象", service.target_users),
            ("应用场景", service.scenarios),
            ("是否面向未成年人", _yes(service.minors_allowed)),
            ("服务边界", service.service_boundary),
            ("访问地址", service.public_url),
            ("上线（公测）日期", service.launch_date.isoformat() if service.launch_date else ""),
            ("算法备案号", service.algorithm_filing_number),
            (
                "投诉举报渠道",
                "；".join(v for v in (service.complaint_email, service.complaint_phone, service.complaint_url) if v),
            ),
        ],
    )
    if service.route == Service.Route.REGISTRATION:
        document.add_heading("三、调用的已备案模型", level=1)
        _table(
            document,
            [
                ("模型名称", service.called_model_name),
                ("备案主体", service.called_model_filer),
                ("备案号", service.called_model_number),
            ],
        )
    document.add_heading("三、模型信息" if service.route == Service.Route.FILING else "四、模型信息", level=1)
    models_table = document.add_table(rows=1, cols=8)
    models_table.style = "Table Grid"
    for cell, title in zip(
        models_table.rows[0].cells,
        ("模型名称", "版本", "网络类型", "参数量", "训练框架", "基础模型", "基础模型备案号", "模型代码"),
        strict=True,
    ):
        cell.text = title
    for record in service.model_records.order_by("name", "pk"):
        cells = models_table.add_row().cells
        values = (
            record.name,
            record.version,
            record.get_net_type_display(),
            record.parameter_count or "",
            record.training_framework,
            record.base_model,
            record.base_model_filing_number,
            record.code,
        )
        for cell, value in zip(cells, values, strict=True):
            cell.text = str(value)
    document.add_heading("语料信息", level=1)
    datasets = list(service_datasets(service))
    _table(
        document,
        [
            ("语料数量（条）", sum(d.items or 0 for d in datasets)),
            ("语料大小（字节）", sum(d.size_bytes or 0 for d in datasets)),
            ("语料来源", "、".join(sorted({d.get_source_type_display() for d in datasets}))),
            ("数据集", "、".join(d.name for d in datasets)),
        ],
    )
    document.add_heading("安全措施", level=1)
    config = safety_config()
    _table(
        document,
        [
            ("拦截关键词库版本", keyword_library_version_current()),
            ("安全阈值配置版本", config.version),
        ],
    )
    return _docx_bytes(document)


def _domain_zh(service: Service) -> str:
    return "通用" if service.domain == Service.Domain.GENERAL else f"限定领域：{service.restricted_domain}"


MAIN_FUNCTION_ZH = {
    "dialogue": "人机对话",
    "text": "文字生成",
    "image": "图片生成",
    "voice": "声音合成",
    "video": "视频合成",
    "code": "代码生成或优化",
}
VERDICT_ZH = {"conforms": "符合", "nonconforming": "不符合", "not_applicable": "不适用", "": "未评"}


def assessment_report(assessment: SelfAssessment | None, service: Service) -> bytes:
    """The security self-assessment report: per-clause table, measured metrics, signers."""
    document = _docx_new()
    document.add_heading("生成式人工智能服务安全评估报告", level=0)
    document.add_paragraph(f"服务：{service.name} {service.version}　主体：{service.provider.legal_name}")
    if assessment is None:
        document.add_paragraph("尚无安全评估。")
        return _docx_bytes(document)
    document.add_paragraph(f"评估：{assessment.title}（{'已定稿' if assessment.status == 'finalised' else '草稿'}）")
    document.add_heading("一、逐条评估结果", level=1)
    table = document.add_table(rows=1, cols=6)
    table.style = "Table Grid"
    for cell, title in zip(table.rows[0].cells, ("条款", "要求", "结论", "证据", "理由", "负责人"), strict=True):
        cell.text = title
    for clause in assessment.clauses.order_by("position", "pk"):
        file_name = clause.evidence_file.name if clause.evidence_file else ""
        evidence = "；".join(v for v in (clause.evidence, clause.evidence_link, file_name) if v)
        values = (clause.clause, clause.requirement, VERDICT_ZH[clause.verdict], evidence, clause.reason, clause.owner)
        for cell, value in zip(table.add_row().cells, values, strict=True):
            cell.text = str(value)
    document.add_heading("二、测评指标", level=1)
    config = safety_config()
    run, check = assessment.assessment_run, assessment.corpus_check
    run_source = f"评估运行 #{run.pk}（种子 {run.seed}）" if run else "无评估运行：未测"
    check_source = f"语料技术抽检 #{check.pk}（种子 {check.seed}）" if check else "无语料技术抽检：未测"
    generated_min = f"≥{percent(config.assessment_generated_pass_rate_min)}"
    metrics = (
        (
            "语料人工抽检合格率",
            assessment.corpus_manual_pass_rate,
            f"≥{percent(config.corpus_manual_pass_rate_min)}",
            "人工填写",
        ),
        (
            "语料技术抽检合格率",
            assessment.corpus_technical_pass_rate,
            f"≥{percent(config.corpus_technical_pass_rate_min)}",
            check_source,
        ),
        ("生成内容合格率（人工）", assessment.generated_pass_rate_manual, generated_min, run_source),
        ("生成内容合格率（关键词）", assessment.generated_pass_rate_keyword, generated_min, run_source),
        ("生成内容合格率（分类模型）", assessment.generated_pass_rate_classifier, generated_min, run_source),
        ("应拒答题拒答率", assessment.refuse_rate, f"≥{percent(config.assessment_refuse_rate_min)}", run_source),
        (
            "非拒答题拒答率",
            assessment.nonrefuse_refusal_rate,
            f"≤{percent(config.assessment_nonrefuse_refusal_rate_max)}",
            run_source,
        ),
    )
    metric_table = document.add_table(rows=1, cols=4)
    metric_table.style = "Table Grid"
    for cell, title in zip(metric_table.rows[0].cells, ("指标", "测得", "要求", "来源"), strict=True):
        cell.text = title
    for metric_name, measured, required, source in metrics:
        row_texts = (str(metric_name), "未测" if measured is None else percent(measured), str(required), source)
        for cell, text in zip(metric_table.add_row().cells, row_texts, strict=True):
            cell.text = text
    _table(
        document,
        [
            ("生成内容测试题数", assessment.generated_sample_size),
            ("应拒答测试题数", assessment.refuse_sample_size),
            ("非拒答测试题数", assessment.nonrefuse_sample_size),
        ],
    )
    failures = assessment_rate_failures(assessment, config)
    document.add_heading("三、总体结论", level=1)
    document.add_paragraph(assessment.conclusion or ("各项指标均满足要求。" if not failures else "；".join(failures)))
    document.add_heading("四、签字", level=1)
    _table(
        document,
        [
            ("法定代表人", assessment.legal_representative_signer),
            ("评估工作总负责人", assessment.assessment_lead_signer),
            ("合法性评估负责人", assessment.legality_lead_signer),
            ("说明", assessment.signers_note),
        ],
    )
    return _docx_bytes(document)


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
    return _xlsx(sheets)


def keywords_xlsx() -> bytes:
    stream = io.BytesIO()
    keyword_xlsx_write(keyword_rows(), stream)
    return _ooxml_normalise(stream.getvalue())


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
                _yes(d.contains_personal_information),
                d.personal_information_legal_basis,
                d.sha256,
                d.get_safety_status_display(),
                "；".join((e.file.name or "").rsplit("/", 1)[-1] for e in d.evidence.order_by("pk")),
            ]
        )
    return _xlsx([("语料来源", rows)])


def _pdf_from_docx(data: bytes) -> bytes | None:
    """The report as PDF when LibreOffice is installed; ``None`` otherwise."""
    office = shutil.which("soffice") or shutil.which("libreoffice")
    if office is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "report.docx"
        source.write_bytes(data)
        try:
            subprocess.run(
                [office, "--headless", "--convert-to", "pdf", "--outdir", tmp, str(source)],
                check=True,
                capture_output=True,
                timeout=120,
            )
        except (subprocess.SubprocessError, OSError):
            return None
        target = Path(tmp) / "report.pdf"
        return target.read_bytes() if target.exists() else None


def _stored(field_file: Any) -> bytes:
    with field_file.open("rb") as handle:
        return handle.read()


def _record_version(obj: Any) -> dict[str, Any]:
    stamp = getattr(obj, "updated_at", None) or getattr(obj, "uploaded_at", None)
    return {"model": obj._meta.label_lower, "id": obj.pk, "updated_at": stamp.isoformat() if stamp else None}


def package_build(service: Service, *, progress: Progress | None = None, with_pdf: bool = True) -> tuple[bytes, dict]:
    """The zip bytes and the manifest of the filing package of ``service`` (always in Chinese)."""
    with translation.override("zh-hans"):
        return _package_build(service, progress=progress, with_pdf=with_pdf)


def _package_build(service: Service, *, progress: Progress | None, with_pdf: bool) -> tuple[bytes, dict]:
    step = progress or (lambda _pct, _what: None)
    service = Service.objects.select_related("provider").get(pk=service.pk)
    files: list[tuple[str, bytes]] = []

    step(5, "application form")
    files.append((FORM_NAME, application_form(service)))

    step(20, "self-assessment report")
    assessment = (
        service.assessments.filter(status=SelfAssessment.Status.FINALISED).order_by("-finalised_at", "-pk").first()
        or service.assessments.order_by("-created_at", "-pk").first()
    )
    report = assessment_report(assessment, service)
    files.append((REPORT_NAME, report))
    pdf = _pdf_from_docx(report) if with_pdf else None
    if pdf is not None:
        files.append((REPORT_NAME.replace(".docx", ".pdf"), pdf))

    step(40, "keyword list")
    files.append((KEYWORDS_NAME, keywords_xlsx()))

    step(55, "test questions")
    files.append((QUESTIONS_NAME, questions_xlsx(service)))

    step(65, "dataset provenance")
    datasets = list(service_datasets(service).prefetch_related("evidence"))
    files.append((DATASETS_NAME, datasets_xlsx(datasets)))

    step(75, "stored documents")
    documents = list(service.documents.order_by("kind", "version", "pk"))
    for doc in documents:
        base = (doc.file.name or "").rsplit("/", 1)[-1]
        files.append((f"documents/{doc.kind}-v{doc.version}-{base}", _stored(doc.file)))
    evidence = [e for d in datasets for e in d.evidence.order_by("pk")]
    for item in evidence:
        base = (item.file.name or "").rsplit("/", 1)[-1]
        files.append((f"evidence/{item.dataset_id}-{item.kind}-{item.pk}-{base}", _stored(item.file)))

    step(90, "manifest")
    records = [service.provider, service, *service.model_records.order_by("pk"), *datasets, *documents, *evidence]
    if assessment is not None:
        records.append(assessment)
    run = latest_assessment_run(service)
    manifest = {
        "service": {"id": service.pk, "name": service.name, "version": service.version},
        "generated_at": timezone.now().isoformat(),
        "keyword_library_version": keyword_library_version_current(),
        "safety_config_version": safety_config().version,
        "records": [_record_version(r) for r in records],
        "assessment_run": {"id": run.pk, "seed": run.seed} if run is not None else None,
        "files": [
            {"name": name, "sha256": hashlib.sha256(body).hexdigest(), "size": len(body)} for name, body in files
        ],
        "pdf": pdf is not None,
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in [*files, ("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2).encode())]:
            entry = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, body)
    step(100, "done")
    return out.getvalue(), manifest
