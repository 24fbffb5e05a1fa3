"""The whole filing package of a service: its attachments, numbered as the filing lists them, in the zip with
their manifest.

The package holds the 上线备案表 (with the commitment page and the signature and seal block), 附件1 to 附件7 and
the 测试通道 description. An attachment that does not apply keeps its number and says why in the manifest
(附件6, the local add-ons, when no local template asks for one). The manifest lists every file with its SHA-256
and size, what is missing, what is synthetic or demo data, and the readiness items still open.

While anything is open or missing the package is a draft: every Word file carries 草稿 in its header and the
open items on its first page, every Excel sheet a first row saying so, and the manifest ``"draft": true``.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

from django.utils import timezone, translation
from django.utils.translation import gettext_noop

from filing.models import Dataset, SelfAssessment, Service
from filing.package.documents import (
    agreement_part,
    annotation_rules_docx,
    application_form,
    assessment_report,
    test_channel_docx,
)
from filing.package.office import docx_mark_draft, pdf_from_docx, xlsx_mark_draft, zip_entry
from filing.package.parts import PackageFile, Part
from filing.package.sheets import (
    datasets_xlsx,
    evidence_part,
    keywords_xlsx,
    latest_assessment_run,
    question_sheets,
    questions_xlsx,
)
from filing.readiness import readiness_checklist
from filing.safety.selectors import keyword_library_version_current, safety_config
from filing.selectors import service_datasets

FORM_NAME = "生成式人工智能服务上线备案表.docx"
REPORT_NAME = "附件1-安全评估报告.docx"
AGREEMENT_NAME = "附件2-模型服务协议.docx"
ANNOTATION_NAME = "附件3-语料标注规则.docx"
KEYWORDS_NAME = "附件4-拦截关键词列表.xlsx"
QUESTIONS_NAME = "附件5-评估测试题.xlsx"
EVIDENCE_NAME = "附件7-佐证材料索引.xlsx"
TEST_CHANNEL_NAME = "测试通道说明.docx"
DATASETS_NAME = "语料来源表.xlsx"
MANIFEST_NAME = "manifest.json"

DRAFT_MARK = "草稿（未完成）：备案材料尚有未完成事项，不得作为正式材料提交"
# 附件6 holds what a local template asks for (e.g. compute continuity); the platform records none.
LOCAL_ADDONS_REASON = "平台未记录地方模板要求的补充材料；所在地网信部门要求时另行提供。"

Progress = Callable[[int, str], None]


def package_open_items(service: Service) -> list[str]:
    """The readiness items of ``service`` still open, one line each (in the active language): what makes its
    filing package a draft, said before an export starts."""
    return [f"{item.title}: {item.detail}" for item in readiness_checklist(service) if not item.ok]


def _record_version(obj: Any) -> dict[str, Any]:
    stamp = getattr(obj, "updated_at", None) or getattr(obj, "uploaded_at", None)
    return {"model": obj._meta.label_lower, "id": obj.pk, "updated_at": stamp.isoformat() if stamp else None}


def package_build(service: Service, *, progress: Progress | None = None, with_pdf: bool = True) -> tuple[bytes, dict]:
    """The zip bytes and the manifest of the filing package of ``service`` (always in Chinese)."""
    with translation.override("zh-hans"):
        return _package_build(service, progress=progress, with_pdf=with_pdf)


def _single(name: str, title: str, number: int | None, file_name: str, body: bytes) -> Part:
    return Part(name=name, title=title, number=number, files=[PackageFile(file_name, body)])


def _package_build(service: Service, *, progress: Progress | None, with_pdf: bool) -> tuple[bytes, dict]:
    step = progress or (lambda _pct, _what: None)
    service = Service.objects.select_related("provider").get(pk=service.pk)
    parts: list[Part] = []

    step(5, gettext_noop("application form"))
    parts.append(_single("上线备案表", "生成式人工智能服务上线备案表", 0, FORM_NAME, application_form(service)))

    step(15, gettext_noop("self-assessment report"))
    assessment = (
        service.assessments.filter(status=SelfAssessment.Status.FINALISED).order_by("-finalised_at", "-pk").first()
        or service.assessments.order_by("-created_at", "-pk").first()
    )
    report_part = _single("附件1", "安全评估报告", 1, REPORT_NAME, assessment_report(assessment, service))
    if assessment is None:
        report_part.lack("安全评估报告", "尚无安全评估")
        report_part.has_content = False
    parts.append(report_part)

    step(25, gettext_noop("service agreement and privacy policy"))
    parts.append(agreement_part(service, name=AGREEMENT_NAME))
    step(30, gettext_noop("annotation rules"))
    parts.append(annotation_rules_docx(service, name=ANNOTATION_NAME))

    step(40, gettext_noop("keyword list"))
    parts.append(_single("附件4", "拦截关键词列表", 4, KEYWORDS_NAME, keywords_xlsx()))

    step(55, gettext_noop("test questions"))
    # The figures of the report come from the self-assessment's run: 附件5 shows that run's sample too.
    linked_run = assessment.assessment_run if assessment is not None else None
    run = linked_run or latest_assessment_run(service)
    parts.append(_single("附件5", "评估测试题", 5, QUESTIONS_NAME, questions_xlsx(service, run=run)))
    parts.append(Part(name="附件6", title="地方补充材料", number=6, not_applicable=True, reason=LOCAL_ADDONS_REASON))

    step(65, gettext_noop("evidence"))
    # Every dataset of the service: linked to it or to its model records, or named by their training runs.
    datasets = list(service_datasets(service).prefetch_related("evidence"))
    parts.append(evidence_part(service, datasets=datasets, name=EVIDENCE_NAME))
    parts.append(test_channel_docx(service, name=TEST_CHANNEL_NAME))
    parts.append(_single("语料来源表", "语料来源表", None, DATASETS_NAME, datasets_xlsx(datasets, service=service)))

    step(80, gettext_noop("draft marks"))
    open_items = [item for item in readiness_checklist(service) if not item.ok]
    missing = [m for part in parts for m in part.missing]
    synthetic = _synthetic(run, datasets)
    draft_lines = [
        *(f"{item.title}：{item.detail}" for item in open_items),
        *(str(m) for m in missing),
        *(f"{s['attachment']}：含 {s['count']} 条{s['detail']}" for s in synthetic if s["demo"]),
    ]
    draft = bool(draft_lines)
    files: list[PackageFile] = [f for part in parts for f in part.files]
    if draft:
        files = [_marked(f, draft_lines) for f in files]
    if with_pdf:
        report = next(f for f in files if f.name == REPORT_NAME)
        pdf = pdf_from_docx(report.body)
        if pdf is not None:
            files.insert(files.index(report) + 1, PackageFile(REPORT_NAME.replace(".docx", ".pdf"), pdf))
            report_part.files.append(files[files.index(report) + 1])
    has_pdf = any(f.name.endswith(".pdf") for f in files)

    step(90, gettext_noop("manifest"))
    documents = list(service.documents.order_by("kind", "version", "pk"))
    evidence = [e for d in datasets for e in d.evidence.order_by("pk")]
    records = [service.provider, service, *service.model_records.order_by("pk"), *datasets, *documents, *evidence]
    if assessment is not None:
        records.append(assessment)
    manifest = {
        "service": {"id": service.pk, "name": service.name, "version": service.version},
        "generated_at": timezone.now().isoformat(),
        "draft": draft,
        # Why it is a draft, one line each, as its documents list it on their first page.
        "draft_reasons": draft_lines,
        "open_items": [{"key": i.key, "title": i.title, "detail": i.detail} for i in open_items],
        "missing": [m.as_dict() for m in missing],
        "synthetic": synthetic,
        "attachments": [part.as_dict() for part in parts],
        "keyword_library_version": keyword_library_version_current(),
        "safety_config_version": safety_config().version,
        "records": [_record_version(r) for r in records],
        "self_assessment": {"id": assessment.pk, "status": assessment.status} if assessment is not None else None,
        "assessment_run": (
            {"id": run.pk, "seed": run.seed, "linked_to_self_assessment": run == linked_run} if run else None
        ),
        "files": [
            {"name": f.name, "sha256": hashlib.sha256(f.body).hexdigest(), "size": len(f.body), "note": f.note}
            for f in files
        ],
        "pdf": has_pdf,
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        body = json.dumps(manifest, ensure_ascii=False, indent=2).encode()
        for name, data in [*((f.name, f.body) for f in files), (MANIFEST_NAME, body)]:
            archive.writestr(zip_entry(name), data)
    step(100, gettext_noop("done"))
    return out.getvalue(), manifest


def _marked(file: PackageFile, lines: list[str]) -> PackageFile:
    """``file`` with the draft mark, when it is a Word or Excel file the package wrote."""
    if not file.generated:
        return file
    if file.name.endswith(".docx"):
        body = docx_mark_draft(file.body, mark=DRAFT_MARK, lines=lines)
    elif file.name.endswith(".xlsx"):
        body = xlsx_mark_draft(file.body, note=f"{DRAFT_MARK}（共 {len(lines)} 项，见 manifest.json）")
    else:
        return file
    return PackageFile(file.name, body, generated=True, note=file.note)


def _synthetic(run: Any, datasets: list[Dataset]) -> list[dict[str, Any]]:
    """What in the package is synthetic or demo data: demo keywords in 附件4 and demo questions in 附件5 (``demo``:
    they keep the package a draft), and the datasets declared synthetic (a source type like any other)."""
    from filing.safety.models import Keyword, Origin

    found: list[dict[str, Any]] = []
    keywords = Keyword.objects.filter(enabled=True, origin=Origin.DEMO).count()
    if keywords:
        found.append(
            {
                "attachment": "附件4",
                "what": "keywords",
                "count": keywords,
                "of": Keyword.objects.filter(enabled=True).count(),
                "detail": "演示关键词（合成），不是真实关键词",
                "demo": True,
            }
        )
    for sheet in question_sheets(run):
        count = sheet.demo_questions
        if count:
            found.append(
                {
                    "attachment": "附件5",
                    "what": "test_questions",
                    "sheet": sheet.title,
                    "bank": sheet.bank.name if sheet.bank is not None else "",
                    "count": count,
                    "detail": "演示测试题（合成），不是真实测试题",
                    "demo": True,
                }
            )
    for dataset in datasets:
        if dataset.source_type == Dataset.SourceType.SYNTHETIC:
            found.append(
                {
                    "attachment": "语料来源表",
                    "what": "dataset",
                    "name": dataset.name,
                    "count": dataset.items,
                    "detail": "来源类型为合成数据",
                    "demo": False,
                }
            )
    return found
